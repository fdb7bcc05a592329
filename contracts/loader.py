"""Reading and linting `contract.yaml`, keeping line numbers for every problem.

`lint_contract(path)` returns every problem found (structure first; when the structure
is sound, also the contract against its Avro schema). A missing, empty or placeholder
`purpose` is a problem too, but one that does not stop the other checks, so a fresh
`govbus discover` draft is still checked against its schema (see `contracts.purpose`).
`load_contract(path)` returns the `Contract` or raises one `BadConfiguration` listing
all problems, each as `file:line: field: message`. The file format is the one of
`catalog/datasets/tax.income/contract.yaml`.
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from contracts.durations import parse_duration
from contracts.expectations import SUPPORTED_EXPECTATIONS
from contracts.model import (
    BREACH_ACTIONS,
    CLASSIFICATIONS,
    COMPATIBILITY_MODES,
    NAME_PATTERN,
    Contract,
    Expectation,
    FieldSpec,
    Problem,
    Sla,
)
from contracts.privacy import parse_data_life
from contracts.purpose import purpose_problem
from contracts.references import check_references
from contracts.schema_check import check_contract_schema
from contracts.yaml_checks import Entry, YamlChecks
from govbus.errors import BadConfiguration

FIELD_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"
SEMVER_PATTERN = r"^\d+\.\d+\.\d+$"
_NAME = re.compile(NAME_PATTERN)
_FIELD = re.compile(FIELD_PATTERN)
_SEMVER = re.compile(SEMVER_PATTERN)
_NULL = "tag:yaml.org,2002:null"
REQUIRED = (
    "id", "version", "owner", "purpose", "schema", "compatibility",
    "subject_field", "key_fields", "source", "fields",
)  # fmt: skip
OPTIONAL = ("description", "cursor_field", "expectations", "sla", "data_life")
_EXPECTATION_KEYS = ("type", "kwargs", "meta", "notes", "description")


def lint_contract(path: str | Path, *, against_schema: bool = True) -> list[Problem]:
    """Every problem of the contract file at `path`, by line (empty: the contract is sound).

    `against_schema=False` leaves out the checks against its Avro schema (each expectation
    tried on an empty batch of the schema's types, which imports pandas through pyarrow):
    only for a caller that knows they passed on these very files (`exchange.catalog`'s
    lint cache). The structure, the purpose and the references are always checked.
    """
    return _checked(Path(path), against_schema)[1]


def load_contract(path: str | Path, *, against_schema: bool = True) -> Contract:
    """The contract at `path`; raises `BadConfiguration` listing all its problems.

    `against_schema` as for `lint_contract`.
    """
    contract, problems = _checked(Path(path), against_schema)
    if problems:
        listing = "\n".join(f"  {problem}" for problem in problems)
        raise BadConfiguration(
            f"{len(problems)} problem(s) in the contract:\n{listing}",
            where=str(path),
            hint="fix each listed line; `govbus check` lints the whole catalog",
        )
    if contract is None:  # cannot happen: no problem means the structure is sound
        raise BadConfiguration("the contract could not be built from its file", where=str(path))
    return contract


def _checked(path: Path, against_schema: bool) -> tuple[Contract | None, list[Problem]]:
    """One read of the file: the contract (None unless its structure is sound) and every
    problem, sorted by line."""
    contract, problems, asked = _read(path)
    if contract is not None and not problems:
        if against_schema:
            problems.extend(check_contract_schema(contract))
        problems.extend(check_references(contract))
    return contract, sorted(problems + asked, key=lambda problem: problem.line or 0)


def _read(path: Path) -> tuple[Contract | None, list[Problem], list[Problem]]:
    """The contract (None unless its structure is sound), the structural problems, and
    the purpose problems (which leave the contract built, see the module doc)."""
    reader = YamlChecks(path)
    root = reader.document()
    if root is None:
        return None, reader.problems, []
    entries = reader.mapping(root, "")
    if entries is None:
        return None, reader.problems, []
    lint = _ContractLint(reader, path)
    contract = lint.run({entry.key: entry for entry in entries}, root.start_mark.line + 1)
    return contract, reader.problems, lint.asked


class _ContractLint:
    """Checks each top-level key, then the references between them."""

    def __init__(self, reader: YamlChecks, path: Path) -> None:
        self.r = reader
        self.path = path
        self.lines: dict[str, int] = {}
        self.declared: set[str] = set()  # field names, even those with a bad spec
        self.asked: list[Problem] = []  # what the owner must still write (the purpose)

    def run(self, entries: dict[str, Entry], first_line: int) -> Contract | None:
        for key, entry in entries.items():
            self.lines[key] = entry.line
            if key not in REQUIRED + OPTIONAL:
                close = difflib.get_close_matches(key, REQUIRED + OPTIONAL, n=1)
                tip = f" (did you mean {close[0]!r}?)" if close else ""
                self.r.problem(entry.line, key, f"unknown key{tip}")
        for key in REQUIRED:
            if key not in entries and key != "purpose":  # purpose(): says what to write
                self.r.problem(first_line, key, "required key is missing")
        get = entries.get
        text = self.r.string
        values: dict[str, Any] = {
            "id": text(get("id"), "id", _NAME, "must be lowercase letters, digits, '.', '_' or '-'"),
            "version": text(get("version"), "version", _SEMVER, "must be MAJOR.MINOR.PATCH"),
            "owner": text(get("owner"), "owner", _NAME, "must be an agency id"),
            "description": text(get("description"), "description") or "",
            "purpose": self.purpose(get("purpose"), self.lines.get("id", first_line)),
            "schema_ref": self.schema_ref(get("schema")),
            "compatibility": self.choice(get("compatibility"), "compatibility", COMPATIBILITY_MODES),
            "source": self.source(get("source")),
            "fields": self.fields(get("fields")),
            "expectations": self.expectations(get("expectations")),
            "sla": self.sla(get("sla")),
            "data_life": self.data_life(get("data_life")),
        }
        fields = self.declared
        values["subject_field"] = self.field_ref(get("subject_field"), "subject_field", fields)
        values["cursor_field"] = self.field_ref(get("cursor_field"), "cursor_field", fields)
        values["key_fields"] = self.key_fields(get("key_fields"), fields)
        self.expectation_columns(values["expectations"], fields)
        if self.r.problems or any(values[k] is None for k in ("id", "version", "schema_ref")):
            return None
        return Contract(**values, path=self.path, lines=self.lines)

    def purpose(self, entry: Entry | None, id_line: int) -> str:
        """The purpose text; missing, empty (`purpose:` included) or the placeholder is
        recorded in `asked`, at the purpose's line or else the `id`'s."""
        if entry is not None and isinstance(entry.node, yaml.ScalarNode) and entry.node.tag == _NULL:
            value: str | None = ""  # `purpose:` with nothing after it: empty, not "not a string"
        else:
            value = self.r.string(entry, "purpose")
            if entry is not None and value is None:
                return ""  # not a string: already a structural problem
        message = purpose_problem(value)
        if message is not None:
            line = entry.line if entry is not None else id_line
            self.asked.append(Problem(self.r.file, line, "purpose", message))
        return value or ""

    def choice(self, entry: Entry | None, field: str, allowed: tuple[str, ...]) -> str | None:
        value = self.r.string(entry, field)
        if value is not None and value not in allowed:
            self.r.problem(entry, field, f"must be one of {', '.join(allowed)}")
            return None
        return value

    def data_life(self, entry: Entry | None) -> str | None:
        """How long the bus may keep a row (`P7Y`); see `contracts.privacy.parse_data_life`."""
        value = self.r.string(entry, "data_life")
        if value is None:
            return None
        try:
            parse_data_life(value)
        except ValueError as exc:
            self.r.problem(entry, "data_life", str(exc))
            return None
        return value

    def schema_ref(self, entry: Entry | None) -> str | None:
        value = self.r.string(entry, "schema")
        if value is None:
            return None
        relative = PurePosixPath(value)
        if relative.is_absolute() or ".." in relative.parts or "\\" in value:
            self.r.problem(entry, "schema", "must be a path inside the dataset's folder")
        elif relative.suffix != ".avsc":
            self.r.problem(entry, "schema", "must name an .avsc file")
        elif not (self.path.parent / relative).is_file():
            self.r.problem(entry, "schema", "the schema file does not exist")
        return value

    def source(self, entry: Entry | None) -> dict[str, Any] | None:
        items = self.r.mapping(entry.node, "source") if entry else None
        if items is None:
            return None
        connector = next((item for item in items if item.key == "connector"), None)
        if connector is None:
            self.r.problem(entry, "source", "must name its 'connector'")
        else:
            self.r.string(connector, "source.connector")
        return self.r.python(entry.node)

    def fields(self, entry: Entry | None) -> dict[str, FieldSpec] | None:
        items = self.r.mapping(entry.node, "fields") if entry else None
        if items is None:
            return None
        specs: dict[str, FieldSpec] = {}
        for item in items:
            where = f"fields.{item.key}"
            self.lines[where] = item.line
            self.declared.add(item.key)
            if not _FIELD.match(item.key):
                self.r.problem(item, where, "is not a valid Avro field name")
            attributes = {a.key: a for a in self.r.mapping(item.node, where) or []}
            for key, attribute in attributes.items():
                if key not in ("classification", "tags", "description", "reversible_by"):
                    self.r.problem(attribute, f"{where}.{key}", "unknown key")
            if "classification" not in attributes:
                self.r.problem(item, f"{where}.classification", "required key is missing")
                continue
            classification = self.choice(
                attributes["classification"], f"{where}.classification", CLASSIFICATIONS
            )
            tags = self.r.string_list(attributes.get("tags"), f"{where}.tags") or []
            description = self.r.string(attributes.get("description"), f"{where}.description")
            reversible = self.reversible_by(attributes.get("reversible_by"), f"{where}.reversible_by")
            if classification is not None:
                specs[item.key] = FieldSpec(
                    classification, tuple(tags), description or "", item.line, reversible
                )
        return specs

    def reversible_by(self, entry: Entry | None, where: str) -> tuple[str, ...]:
        """Agency ids the field is delivered to as AES-SIV ciphertext (the catalog checks
        that each exists and publishes a delivery key)."""
        if entry is None:
            return ()
        self.lines[where] = entry.line
        names = self.r.string_list(entry, where)
        if names is None:
            return ()
        if not names:
            self.r.problem(entry, where, "must name at least one agency (or leave it out)")
        if len(set(names)) != len(names):
            self.r.problem(entry, where, "names an agency twice")
        for name in names:
            if not _NAME.match(name):
                self.r.problem(entry, where, f"{name!r} is not an agency id")
        return tuple(names)

    def field_ref(self, entry: Entry | None, name: str, fields: set[str]) -> str | None:
        value = self.r.string(entry, name)
        if value is not None and fields and value not in fields:
            self.r.problem(entry, name, f"{value!r} is not listed in 'fields'")
        return value

    def key_fields(self, entry: Entry | None, fields: set[str]) -> tuple[str, ...]:
        names = self.r.string_list(entry, "key_fields")
        if names is None:
            return ()
        if not names:
            self.r.problem(entry, "key_fields", "must name at least one field")
        if len(set(names)) != len(names):
            self.r.problem(entry, "key_fields", "names a field twice")
        for name in names:
            if fields and name not in fields:
                self.r.problem(entry, "key_fields", f"{name!r} is not listed in 'fields'")
        return tuple(names)

    def expectations(self, entry: Entry | None) -> tuple[Expectation, ...]:
        nodes = self.r.sequence(entry, "expectations") if entry else None
        found = []
        for index, node in enumerate(nodes or []):
            where = f"expectations[{index}]"
            line = node.start_mark.line + 1
            parts = {p.key: p for p in self.r.mapping(node, where) or []}
            for key, part in parts.items():
                if key not in _EXPECTATION_KEYS:
                    self.r.problem(part, f"{where}.{key}", "unknown key")
            kind = self.r.string(parts.get("type"), f"{where}.type")
            if "type" not in parts:
                self.r.problem(line, f"{where}.type", "required key is missing")
            kwargs_entry = parts.get("kwargs")
            kwargs_items = self.r.mapping(kwargs_entry.node, f"{where}.kwargs") if kwargs_entry else []
            kwargs = self.r.python(kwargs_entry.node) if kwargs_entry and kwargs_items is not None else {}
            meta = self.r.python(parts["meta"].node) if "meta" in parts else kwargs.get("meta")
            if "meta" in parts and not isinstance(meta, dict):
                self.r.problem(parts["meta"], f"{where}.meta", "must be a mapping")
            compiler = SUPPORTED_EXPECTATIONS.get(kind) if kind else None
            if kind and compiler is None:
                close = difflib.get_close_matches(kind, list(SUPPORTED_EXPECTATIONS), n=1)
                tip = f" (did you mean {close[0]!r}?)" if close else ""
                self.r.problem(parts["type"], f"{where}.type", f"unknown expectation {kind!r}{tip}")
            if compiler is not None and isinstance(kwargs, dict):
                kwarg_lines = {k.key: k.line for k in kwargs_items or []}
                for kwarg, message in compiler.problems(kwargs):
                    at = kwarg_lines.get(kwarg, kwargs_entry.line if kwargs_entry else line)
                    self.r.problem(at, f"{where}.kwargs.{kwarg}" if kwarg else where, message)
            if kind:
                found.append(Expectation(kind, kwargs or {}, line, meta))
        return tuple(found)

    def expectation_columns(self, found: tuple[Expectation, ...], fields: set[str]) -> None:
        for index, expectation in enumerate(found):
            compiler = SUPPORTED_EXPECTATIONS.get(expectation.type)
            for name in compiler.columns(expectation.kwargs) if compiler and fields else ():
                if name not in fields:
                    where = f"expectations[{index}].kwargs"
                    self.r.problem(expectation.line, where, f"column {name!r} is not listed in 'fields'")

    def sla(self, entry: Entry | None) -> Sla:
        parts = {p.key: p for p in (self.r.mapping(entry.node, "sla") or [])} if entry else {}
        for key, part in parts.items():
            if key not in ("freshness", "volume", "on_breach"):
                self.r.problem(part, f"sla.{key}", "unknown key")
        freshness_text = self.r.string(parts.get("freshness"), "sla.freshness")
        freshness = None
        if freshness_text is not None:
            try:
                freshness = parse_duration(freshness_text)
            except ValueError as exc:
                self.r.problem(parts["freshness"], "sla.freshness", str(exc))
        volume_items = self.r.mapping(parts["volume"].node, "sla.volume") if "volume" in parts else []
        volume = {v.key: v for v in volume_items or []}
        rows: dict[str, int | None] = {}
        for key in ("min_rows", "max_rows"):
            rows[key] = self.r.count(volume.get(key), f"sla.volume.{key}")
        for key, part in volume.items():
            if key not in rows:
                self.r.problem(part, f"sla.volume.{key}", "unknown key")
        if None not in rows.values() and rows["min_rows"] > rows["max_rows"]:  # type: ignore[operator]
            self.r.problem(parts["volume"], "sla.volume", "min_rows is greater than max_rows")
        action = self.choice(parts.get("on_breach"), "sla.on_breach", BREACH_ACTIONS) or "warn"
        return Sla(freshness, freshness_text, rows["min_rows"], rows["max_rows"], action)
