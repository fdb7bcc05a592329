"""Drafting a dataset from a SQL table: `contract.yaml` and `schema/v1.avsc` (`govbus discover`).

`draft_from_table(settings, table)` reflects the table (`connectors.discover_table`: the
Avro types and their notes) and drafts the contract around it:

* key_fields: the primary key (else the first unique key, else the first column, noted);
* subject_field: a column named like a person's identifier (national_id, person_id, …),
  else the first key field — always marked for review;
* cursor_field: a timestamp column named like updated_at / modified / last_change; none
  (a full refresh each run) when there is no such column;
* fields: `internal`, or `personal` when the name looks personal (name, birth, address,
  email, phone, national_id, income …), with a note to review;
* expectations: not null for NOT NULL columns, value lengths up to a declared
  VARCHAR/CHAR/VARBINARY length, the labels of an enum kept as a string, and unique
  (compound unique) on the key;
* purpose: the `--purpose` text, else `contracts.PURPOSE_PLACEHOLDER` under a comment
  saying what to write: only the owner knows why the dataset is shared, and lint refuses
  the placeholder, so a draft cannot enter the catalog without a purpose;
* description: the `--description` text, else "Rows of the table …", marked for review.

Files (CSV, JSON Lines, Parquet, Avro, fixed-width) are drafted by
`exchange.catalog.discover_files` from sampled rows, through `draft_dataset` here: the
same contract rules, with the files named as the origin and no cursor field.

The draft names its database the way it was given: a URL (its password, if any, left
out and replaced by `password_env`), `url_env` or `conn_id` — never a secret. Every draft
is linted before it is returned (`contracts.lint_contract`, which parses the schema with
fastavro); one that does not lint, the placeholder purpose aside, is a GovBus bug
(FatalError). Texts are written as YAML flow scalars (`_flow`), quoted where YAML needs
it, so a purpose holding `: ` or `#` reads back as given. `write_draft` writes the two
files and refuses to replace existing ones unless asked to.
"""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import yaml

import connectors
import contracts
from govbus.errors import BadInput, FatalError

CONTRACT_FILE = "contract.yaml"
SCHEMA_FILE = "schema/v1.avsc"
_NAME = re.compile(r"[a-z0-9]+(?:[._-][a-z0-9]+)*")  # ids and agencies, as contracts.loader
_SUBJECTS = (
    "national_id", "person_id", "citizen_id", "personal_id", "personal_number", "subject_id",
    "resident_id", "ssn", "social_security_number", "national_number", "person_number",
)  # fmt: skip
_PERSONAL = frozenset(
    {
        "name", "names", "surname", "firstname", "lastname", "givenname", "forename", "familyname",
        "fullname", "birth", "birthdate", "birthday", "dob", "address", "street", "postal", "postcode",
        "zip", "zipcode", "email", "mail", "phone", "telephone", "mobile", "fax", "national",
        "nationalid", "ssn", "passport", "iban", "gender", "sex", "nationality", "citizenship",
        "income", "salary", "wage", "religion", "ethnicity", "health", "diagnosis", "disability",
        "marital", "person", "citizen",
    }
)  # fmt: skip
_PERSONAL_PARTS = ("birth", "email", "phone", "address", "surname", "passport")
_CURSOR = re.compile(r"updated|modified|changed|last_?(?:change|update|modif)|mtime|modif", re.IGNORECASE)
_TIMESTAMPS = ("timestamp-micros", "local-timestamp-micros")
_PURPOSE_TODO = "say why the dataset is shared and which decisions it supports"


@dataclass(frozen=True)
class Draft:
    """A drafted dataset: the two files' texts and what a person must review (one line each).

    `purpose_todo`: the contract holds the placeholder purpose, the one lint problem a
    draft may have (the owner must write it)."""

    dataset_id: str
    contract: str
    schema: str
    notes: tuple[str, ...]
    purpose_todo: bool = False


def draft_from_table(
    settings: Mapping[str, Any],
    table: str,
    *,
    dataset_id: str | None = None,
    owner: str | None = None,
    purpose: str | None = None,
    description: str | None = None,
) -> Draft:
    """Draft the dataset of `table` in the database `settings` name (`url`, `url_env` or
    `conn_id`, as a sql connector's settings). A `purpose` lint would refuse is refused
    here, before the database is opened."""
    check_options(dataset_id, owner, purpose)
    found = connectors.discover_table(connectors.sql_url(settings), table)
    table_name = table.rsplit(".", 1)[-1]
    plain = re.sub(r"[^a-z0-9]+", "_", table_name.lower()).strip("_") or "table"
    dataset_id = dataset_id or (f"{owner}.{plain}" if owner else plain)
    source = _contract_source(settings, table, dataset_id)
    draft = draft_dataset(found, source, dataset_id, owner, purpose=purpose, description=description)
    check_draft(draft)
    return draft


def check_options(dataset_id: str | None, owner: str | None, purpose: str | None) -> None:
    """Refuse (BadInput) a dataset id or owner that is no catalog name and a purpose lint
    would refuse, before any source is opened."""
    for value, option in ((dataset_id, "--dataset"), (owner, "--owner")):
        if value is not None and not _NAME.fullmatch(value):
            raise BadInput("must be lowercase letters and digits, separated by '.', '_' or '-'", where=option)
    wrong = contracts.purpose_problem(purpose) if purpose is not None else None
    if wrong is not None:
        raise BadInput(wrong, where="--purpose")


def draft_dataset(
    found: connectors.TableDraft,
    source: tuple[dict[str, Any], list[str]],
    dataset_id: str,
    owner: str | None,
    *,
    purpose: str | None = None,
    description: str | None = None,
    origin: str | None = None,
    cursor_note: str | None = None,
) -> Draft:
    """The contract and schema texts of a reflected table (see the module doc).

    A source that is not a table (`exchange.catalog.discover_files`) names itself in
    `origin` ("the CSV files in …"); `cursor_note`, when given, says why the source takes
    no cursor field, and none is drafted."""
    columns = found["columns"]
    notes = [f"{c['name']}: {note}" for c in columns for note in c["notes"]]
    keys, key_note = _keys(found)
    subject, subject_guessed = _subject(columns, keys)
    by_cursor = cursor_note is None
    cursor, cursor_note = _cursor(columns) if by_cursor else (None, cursor_note)
    personal = {c["name"] for c in columns if _looks_personal(c["name"])}
    source_settings, source_notes = source
    general = [n for n in (key_note, cursor_note) if n] + source_notes
    notes += general
    if subject_guessed:
        notes.append(f"subject_field: no column is named like a person's identifier; {subject} is a guess")
    notes += [f"{name}: the name looks personal: classified personal" for name in sorted(personal)]
    if owner is None:
        notes.append("owner: set the publishing agency's id (--owner)")
    if purpose is None:
        notes.append(f"purpose: {_PURPOSE_TODO} (--purpose); lint refuses the TODO until then")
    contract = _contract_text(
        found,
        dataset_id,
        owner or "unknown",
        subject,
        keys,
        cursor,
        personal,
        source_settings,
        general,
        purpose=purpose,
        description=description,
        origin=origin or f"the {found['dialect']} table {found['table']}",
        by_cursor=by_cursor,
    )
    schema = _schema_text(found, dataset_id)
    return Draft(dataset_id, contract, schema, tuple(notes), purpose_todo=purpose is None)


def check_draft(draft: Draft) -> None:
    """Lint the draft as `govbus contract lint` would; a problem is a GovBus bug."""
    with tempfile.TemporaryDirectory(prefix="govbus-discover-") as folder:
        written = write_draft(draft, Path(folder) / draft.dataset_id, force=False)
        problems = contracts.lint_contract(written[0])
    if draft.purpose_todo:  # the owner's to write; lint says so until it is written
        problems = [p for p in problems if p.field != "purpose"]
    if problems:
        raise FatalError(
            f"the drafted contract does not lint: {problems[0].field}: {problems[0].message}",
            where=draft.dataset_id,
            hint="please report it; --stdout prints the draft",
        )


def write_draft(draft: Draft, directory: Path, *, force: bool) -> tuple[Path, Path]:
    """Write `contract.yaml` and `schema/v1.avsc` under `directory`; an existing file is
    refused (BadInput) unless `force`."""
    paths = (directory / CONTRACT_FILE, directory / SCHEMA_FILE)
    for path in paths:
        if path.exists() and not force:
            raise BadInput(
                "exists already",
                where=str(path),
                hint="pass --force to replace it, or --out to write elsewhere",
            )
    try:
        paths[1].parent.mkdir(parents=True, exist_ok=True)
        for path, text in zip(paths, (draft.contract, draft.schema), strict=True):
            with path.open("w" if force else "x", encoding="utf-8") as handle:
                handle.write(text)
    except FileExistsError as exc:
        raise BadInput("exists already", where=str(exc.filename), hint="pass --force to replace it") from None
    except (NotADirectoryError, PermissionError) as exc:
        raise BadInput(f"cannot write there ({type(exc).__name__})", where=str(exc.filename)) from None
    return paths


def _contract_source(
    settings: Mapping[str, Any], table: str, dataset_id: str
) -> tuple[dict[str, Any], list[str]]:
    """The contract's `source`, naming the database without a secret, and its notes."""
    if "url_env" in settings:
        return {"connector": "sql", "url_env": settings["url_env"], "table": table}, []
    if "conn_id" in settings:
        return {"connector": "sql", "conn_id": settings["conn_id"], "table": table}, []
    url = sa.make_url(settings["url"])  # already opened by discover_table: it parses
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        url = url.set(database=str(Path(url.database).expanduser().resolve()))
    if url.password is None:
        return {"connector": "sql", "url": url.render_as_string(hide_password=False), "table": table}, []
    variable = re.sub(r"[^A-Z0-9]+", "_", dataset_id.upper()) + "_DB_PASSWORD"
    shown = url._replace(password=None).render_as_string(hide_password=False)  # set() keeps it
    note = f"source: the URL's password is left out: export {variable} with it (or use --conn-id)"
    return {"connector": "sql", "url": shown, "password_env": variable, "table": table}, [note]


def _keys(found: connectors.TableDraft) -> tuple[list[str], str | None]:
    if found["primary_key"]:
        return list(found["primary_key"]), None
    nullable = {c["name"] for c in found["columns"] if c["nullable"]}
    uniques = sorted(found["unique"], key=lambda key: any(n in nullable for n in key))  # NOT NULL first
    if uniques:
        return list(
            uniques[0]
        ), f"key_fields: no primary key; the unique key ({', '.join(uniques[0])}) is used"
    first = found["columns"][0]["name"]
    return [first], f"key_fields: no primary or unique key; {first} is a guess: name the row's identity"


def _subject(columns: list[connectors.ColumnDraft], keys: list[str]) -> tuple[str, bool]:
    names = {c["name"].lower(): c["name"] for c in columns}
    for candidate in _SUBJECTS:
        if candidate in names:
            return names[candidate], False
    return keys[0], True


def _cursor(columns: list[connectors.ColumnDraft]) -> tuple[str | None, str | None]:
    candidates = [
        c
        for c in columns
        if isinstance(c["avro"], dict)
        and c["avro"].get("logicalType") in _TIMESTAMPS
        and _CURSOR.search(c["name"])
    ]
    if not candidates:
        return (
            None,
            "cursor_field: no timestamp column named like updated_at: every run reads the whole table",
        )
    best = min(candidates, key=lambda c: c["nullable"])  # a NOT NULL one first
    if best["nullable"]:
        return best["name"], f"{best['name']}: the cursor column is nullable; SqlSource refuses nulls in it"
    return best["name"], None


def _looks_personal(name: str) -> bool:
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name).lower()
    tokens = set(spaced.split("_"))
    return bool(tokens & _PERSONAL) or any(part in spaced for part in _PERSONAL_PARTS)


def _expectations(found: connectors.TableDraft, keys: list[str]) -> list[tuple[str, dict[str, Any]]]:
    found_rules: list[tuple[str, dict[str, Any]]] = []
    for c in found["columns"]:
        name = c["name"]
        if not c["nullable"]:
            found_rules.append(("expect_column_values_to_not_be_null", {"column": name}))
        if c["max_length"] is not None:
            rule = {"column": name, "max_value": c["max_length"]}
            found_rules.append(("expect_column_value_lengths_to_be_between", rule))
        if c["value_set"] is not None:
            found_rules.append(
                ("expect_column_values_to_be_in_set", {"column": name, "value_set": c["value_set"]})
            )
    if len(keys) == 1:
        found_rules.append(("expect_column_values_to_be_unique", {"column": keys[0]}))
    else:
        found_rules.append(("expect_compound_columns_to_be_unique", {"column_list": keys}))
    return found_rules


def _flow(value: Any) -> str:
    """One YAML value on one line (flow style), quoted where YAML needs it."""
    text = yaml.safe_dump(
        value, default_flow_style=True, width=2**31 - 1, allow_unicode=True, sort_keys=False
    )
    return text.removesuffix("\n").removesuffix("\n...")


def _contract_text(
    found: connectors.TableDraft,
    dataset_id: str,
    owner: str,
    subject: str,
    keys: list[str],
    cursor: str | None,
    personal: set[str],
    source: dict[str, Any],
    general: list[str],
    *,
    purpose: str | None,
    description: str | None,
    origin: str,
    by_cursor: bool,
) -> str:
    review = "  # REVIEW:"
    lines = [
        f"# Drafted by `govbus discover` from {origin}.",
        "# Review every line marked REVIEW, then run `govbus contract lint` on this folder and",
        "# `govbus check` once it is in the catalog. No secret may be written here.",
        *(f"# REVIEW: {note}" for note in general),
        f"id: {_flow(dataset_id)}",
        "version: 1.0.0",
        *_about(origin if not by_cursor else f"the table {found['table']}", owner, purpose, description),
        "schema: schema/v1.avsc",
        "compatibility: BACKWARD",
        f"subject_field: {_flow(subject)}{review} the column naming the person a row is about",
        f"key_fields: {_flow(keys)}",
    ]
    if cursor is not None:
        lines.append(f"cursor_field: {_flow(cursor)}{review} must move forward on every change of a row")
    elif by_cursor:
        lines.append("# cursor_field: none found, so every run reads the whole table. REVIEW")
    lines += ["source:", *(f"  {key}: {_flow(value)}" for key, value in source.items()), "fields:"]
    for c in found["columns"]:
        name = c["name"]
        lines += [f"  # REVIEW: {note}" for note in c["notes"]]
        if name in personal:
            lines.append("  # REVIEW: the name looks personal: classified personal")
        classification = "personal" if name in personal else "internal"
        lines.append(f"  {name}: {_flow({'classification': classification})}")
    lines.append("expectations:")
    for kind, kwargs in _expectations(found, keys):
        lines += [f"  - type: {kind}", f"    kwargs: {_flow(kwargs)}"]
    return "\n".join(lines) + "\n"


def _about(origin: str, owner: str, purpose: str | None, description: str | None) -> list[str]:
    """The owner, description and purpose lines. What only people know is marked REVIEW;
    the purpose, which lint requires, gets the placeholder lint refuses and a comment
    saying what to write."""
    review = "  # REVIEW:"
    lines = [
        f"owner: {_flow(owner)}" + (f"{review} the publishing agency's id" if owner == "unknown" else "")
    ]
    if description is None:
        lines.append(f"description: {_flow(f'Rows of {origin}.')}{review} say what one row is")
    else:
        lines.append(f"description: {_flow(description)}")
    if purpose is None:
        lines += [
            f"# REVIEW: purpose: {_PURPOSE_TODO}",
            "# (who uses it, for what); `govbus contract lint` refuses the TODO until it is replaced.",
            f"purpose: {_flow(contracts.PURPOSE_PLACEHOLDER)}",
        ]
    else:
        lines.append(f"purpose: {_flow(purpose)}")
    return lines


def _schema_text(found: connectors.TableDraft, dataset_id: str) -> str:
    """The .avsc, one field per line (as the catalog's schemas are written)."""
    segments = [re.sub(r"\W", "_", s) for s in re.split(r"[.]", dataset_id.replace("-", "_"))]
    namespace = ".".join(["gov", *(f"_{s}" if s[:1].isdigit() else s for s in segments)])
    record = found["record"]
    head = {"type": "record", "name": record["name"], "namespace": namespace, "doc": record["doc"]}
    lines = ["{", *(f"  {json.dumps(k)}: {json.dumps(v, ensure_ascii=False)}," for k, v in head.items())]
    fields = [f"    {json.dumps(field, ensure_ascii=False)}" for field in record["fields"]]
    lines += ['  "fields": [', ",\n".join(fields), "  ]", "}"]
    return "\n".join(lines) + "\n"
