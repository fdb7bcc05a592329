"""Drafting a dataset from files: CSV, JSON Lines, Parquet, Avro and fixed-width records.

`draft_from_files(kind, path, ...)` reads a sample of the rows (at most `sample_rows`,
through `connectors.make_source` as the bus will read them: a drop folder of the kind's
files) and drafts the same two files as a SQL table's draft (`exchange.catalog.discover`),
with these differences:

* types: Parquet and Avro carry theirs; a fixed-width record's come from its copybook;
  CSV fields and JSON strings are text, typed by what every sampled value looks like
  (`exchange.catalog.discover_types` says how);
* nullable: a field with a null (or, in CSV, an empty field) in the sample is
  `["null", T]`; one without is not, and gets a not-null expectation — the sample is all
  it knows, so every type and nullability is marked REVIEW with the number of rows read;
* key_fields: the first column whose sampled values are all present and distinct,
  preferring one named like an identifier (`*_id`, `id`, a person's identifier); noted;
* no cursor_field: a drop folder reads each new file once, whatever the rows hold;
* source: the kind's connector with `directory` (the folder, or the given file's
  folder), `pattern` (the kind's default, or the file's extension), the settings given
  (`--setting KEY=VALUE`: a CSV delimiter, an encoding, ...) and, for fixed-width, the
  copybook's path. A path under `GOVBUS_HOME` is written as `${GOVBUS_HOME}/...`.

Nothing is archived, moved or written while sampling: a source's `after_commit` is never
called. Rows the source cannot read (a bad CSV line, a bad packed digit) are counted in
a note and left out of the sample.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

import connectors
from exchange.catalog.discover import Draft, check_draft, check_options, draft_dataset
from exchange.catalog.discover_types import SUBJECT_NAMES, arrow_type, copybook_type, pascal, text_type
from govbus.errors import BadConfiguration, BadInput

FILE_KINDS = ("csv", "jsonl", "parquet", "avro", "fixed_width")
DEFAULT_SAMPLE = 1000
_PATTERNS = {"csv": "*.csv", "jsonl": "*.jsonl", "parquet": "*.parquet", "avro": "*.avro", "fixed_width": "*"}
_WHAT = {
    "csv": "the CSV files",
    "jsonl": "the JSON Lines files",
    "parquet": "the Parquet files",
    "avro": "the Avro files",
    "fixed_width": "the fixed-width files",
}

_TEXT_KINDS = ("csv", "jsonl")  # formats whose values arrive as text, typed by the conform step
_AVRO_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def draft_from_files(
    kind: str,
    path: Path,
    *,
    settings: Mapping[str, Any] | None = None,
    copybook: Path | None = None,
    sample_rows: int = DEFAULT_SAMPLE,
    home: Path | None = None,
    dataset_id: str | None = None,
    owner: str | None = None,
    purpose: str | None = None,
    description: str | None = None,
) -> Draft:
    """Draft the dataset of the `kind` files at `path` (a folder, or one file of it)."""
    if kind not in FILE_KINDS:
        raise BadInput(f"unknown source kind {kind!r}", where="--source", hint=", ".join(FILE_KINDS))
    check_options(dataset_id, owner, purpose)
    if (kind == "fixed_width") != (copybook is not None):
        raise BadInput(
            "a fixed-width source needs its copybook"
            if copybook is None
            else "only fixed_width takes a copybook",
            where="--copybook",
        )
    given = dict(settings or {})
    directory, pattern, sampled = _place(kind, path, given.pop("pattern", None))
    for reserved in ("connector", "directory", "copybook"):
        if reserved in given:
            raise BadInput(f"{reserved} is set by discover itself", where=f"--setting {reserved}")
    read = {"connector": kind, "directory": str(directory), "pattern": sampled, "settle_seconds": 0, **given}
    if copybook is not None:
        read["copybook"] = str(copybook.resolve())
    table, unreadable = _sample(read, sample_rows)
    layout = _layout(copybook, given) if copybook is not None else {}
    name = _plain_name(directory.name if path.is_dir() else path.stem)
    columns = [_column(field, table.column(field.name), kind, layout) for field in table.schema]
    keys = _key(columns, table)
    found: dict[str, Any] = {
        "table": name,
        "dialect": kind,
        "location": str(path),
        "columns": columns,
        "primary_key": keys,
        "unique": [],
        "record": _record(name, columns, f"One record of {_WHAT[kind]} in {directory.name}."),
    }
    source = {"connector": kind, "directory": _shown(directory, home), "pattern": pattern, **given}
    if copybook is not None:
        source["copybook"] = _shown(copybook.resolve(), home)
    notes = [
        f"types and nullability: from {table.num_rows:,} sampled row(s) of {sampled} in {directory}; "
        "a value the sample did not hold may need a wider type",
        f"key_fields: {', '.join(keys)} is unique in the sample; make sure it is the row's identity",
    ]
    if unreadable:
        notes.append(
            f"{unreadable:,} sampled record(s) could not be read and were left out (see `govbus run`)"
        )
    if not str(source["directory"]).startswith("${"):
        notes.append(
            "source: the folder is an absolute path; name it through ${GOVBUS_HOME} or another variable"
        )
    if copybook is not None:
        notes.append(
            f"source: copy {copybook.name} next to contract.yaml, then "
            f"copybook: ${{DATASET_DIR}}/{copybook.name}"
        )
    origin = f"{_WHAT[kind]} in {source['directory']} ({pattern})"
    draft = draft_dataset(
        found,  # type: ignore[arg-type]  # a TableDraft in all but its reflection keys
        (source, notes),
        dataset_id or (f"{owner}.{name}" if owner else name),
        owner,
        purpose=purpose,
        description=description,
        origin=origin,
        cursor_note="cursor_field: none: a drop folder reads each new file once, whatever its rows hold",
    )
    check_draft(draft)
    return draft


def _place(kind: str, path: Path, given: str | None) -> tuple[Path, str, str]:
    """(folder, the contract's pattern, the pattern sampled) of a folder or one file; a
    pattern given (`--setting pattern=...`) is the contract's."""
    path = path.expanduser().resolve()
    if path.is_dir():
        return path, given or _PATTERNS[kind], given or _PATTERNS[kind]
    if not path.is_file():
        raise BadConfiguration(
            "no such file or folder", where=str(path), hint="name a folder of files or one file"
        )
    default = _PATTERNS[kind]
    pattern = given or (default if path.match(default) or not path.suffix else f"*{path.suffix}")
    return path.parent, pattern, _glob_escape(path.name)


def _glob_escape(name: str) -> str:
    return re.sub(r"([*?\[])", r"[\1]", name)


def _sample(settings: Mapping[str, Any], limit: int) -> tuple[pa.Table, int]:
    """At most `limit` readable rows, and how many of those read could not be."""
    source = connectors.make_source(settings, key_fields=(), cursor_field=None)
    parts: list[pa.Table] = []
    rows = unreadable = 0
    try:
        for batch in source.read(None, batch_size=min(limit, 10_000)):
            data = batch.data
            if connectors.SOURCE_ERROR in data.column_names:
                bad = pc.fill_null(pc.is_valid(data[connectors.SOURCE_ERROR]), False)
                unreadable += pc.sum(pc.cast(bad, pa.int64())).as_py() or 0
                data = data.filter(pc.invert(bad))
                errors = (connectors.SOURCE_ERROR, connectors.SOURCE_POSITION, connectors.SOURCE_RAW)
                data = data.drop_columns([c for c in errors if c in data.column_names])
            parts.append(data.slice(0, limit - rows))
            rows += parts[-1].num_rows
            if rows >= limit:
                break
    finally:
        source.close()
    if not parts or not rows:
        raise BadInput(
            "no readable row to sample",
            where=f"{settings['directory']} ({settings['pattern']})",
            hint="name a folder holding at least one file of the kind (or the file itself)",
        )
    return pa.concat_tables(parts, promote_options="permissive"), unreadable


def _layout(copybook: Path, settings: Mapping[str, Any]) -> dict[str, Any]:
    """The copybook's elementary fields by name (as the source names its columns)."""
    layout = connectors.load_copybook(copybook, naming=str(settings.get("naming", "leaf")))
    return {field.name: field for field in layout.fields}


def _column(field: pa.Field, values: pa.ChunkedArray, kind: str, layout: Mapping[str, Any]) -> dict[str, Any]:
    """A ColumnDraft (as `connectors.discover_table` gives) of one sampled column."""
    if not _AVRO_NAME.fullmatch(field.name):
        raise BadConfiguration(
            f"the column name {field.name!r} is no Avro name",
            where=field.name,
            hint="rename it in the files (letters, digits and '_', not starting with a digit)",
        )
    notes: list[str] = []
    max_length = None
    laid = layout.get(field.name)
    if laid is not None:
        avro, max_length, described = copybook_type(laid)
    elif kind in _TEXT_KINDS and (pa.types.is_string(field.type) or pa.types.is_large_string(field.type)):
        avro, described = text_type(field.name, values, notes), "text"
    else:
        avro, described = arrow_type(field.type, field.name, notes), f"{kind} {field.type}"
    nullable = values.null_count > 0  # an empty CSV field is read as null
    if values.null_count == len(values):
        notes.append("no value in the sample: typed string, nullable")
    return {
        "name": field.name,
        "sql_type": described,
        "avro": avro,
        "nullable": nullable,
        "max_length": max_length,
        "value_set": None,
        "readable": True,
        "notes": notes,
    }


def _key(columns: list[dict[str, Any]], table: pa.Table) -> list[str]:
    """The first column with every sampled value present and distinct, identifiers first."""
    complete = [
        c["name"]
        for c in columns
        if not c["nullable"]
        and _keyable(table.schema.field(c["name"]).type)
        and pc.count_distinct(table.column(c["name"])).as_py() == table.num_rows
    ]
    # A row id first; a person's id (unique here, maybe not in all rows) only after it.
    ranked = sorted(complete, key=lambda n: (not re.search(r"(^|_)id$", n, re.I), n in SUBJECT_NAMES))
    if ranked:
        return [ranked[0]]
    return [columns[0]["name"]]


def _keyable(kind: pa.DataType) -> bool:
    """Text, numbers, dates: what a key is made of (not floats, binary or nested values)."""
    t = pa.types
    return bool(
        t.is_string(kind)
        or t.is_large_string(kind)
        or t.is_integer(kind)
        or t.is_decimal(kind)
        or t.is_date(kind)
    )


def _record(name: str, columns: list[dict[str, Any]], doc: str) -> dict[str, Any]:
    fields = []
    for c in columns:
        field_doc = f"Drafted from {c['sql_type']}."
        if c["nullable"]:
            fields.append({"name": c["name"], "type": ["null", c["avro"]], "default": None, "doc": field_doc})
        else:
            fields.append({"name": c["name"], "type": c["avro"], "doc": field_doc})
    return {"type": "record", "name": pascal(name), "doc": doc, "fields": fields}


def _plain_name(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_") or "files"


def _shown(path: Path, home: Path | None) -> str:
    """`${GOVBUS_HOME}/...` for a path under the home, else the absolute path."""
    if home is not None:
        try:
            return "${GOVBUS_HOME}/" + path.relative_to(home.expanduser().resolve()).as_posix()
        except ValueError:
            pass
    return str(path)
