"""Schema evolution: the Confluent compatibility modes over a dataset's schema versions.

The verdict is the official Apache `avro` package's
(`avro.compatibility.ReaderWriterCompatibilityChecker`); GovBus writes no resolution
rules of its own here. What this module adds is the *words*: each incompatibility the
checker finds becomes a `CompatibilityProblem` naming the version pair, the field path
(`address.postal_code`, `tags[]`, `attrs{}`) and the rule, in a sentence a data
engineer can act on.

Modes, as Confluent's schema registry means them (new = the newest version):

| mode | the new version must … |
|---|---|
| BACKWARD | read data written with the previous version |
| BACKWARD_TRANSITIVE | read data written with every earlier version |
| FORWARD | be readable by the previous version |
| FORWARD_TRANSITIVE | be readable by every earlier version |
| FULL | both BACKWARD and FORWARD |
| FULL_TRANSITIVE | both, against every earlier version |
| NONE | nothing |

By default only the newest version is checked against its predecessors, as a registry
checks a version when it is registered (so tightening the mode later does not condemn
history); `every_version=True` replays the check for each version as it was added.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import avro.errors
import avro.schema
from avro.compatibility import (
    ReaderWriterCompatibilityChecker,
    SchemaCompatibilityType,
    lookup_writer_field,
)

from govbus.errors import BadConfiguration
from schemas.avro import AvroSchema

COMPATIBILITY_MODES = (
    "BACKWARD",
    "BACKWARD_TRANSITIVE",
    "FORWARD",
    "FORWARD_TRANSITIVE",
    "FULL",
    "FULL_TRANSITIVE",
    "NONE",
)
"""The Confluent schema-registry compatibility modes."""

_PROMOTIONS = "Avro promotes only int→long→float→double and string↔bytes"


@dataclass(frozen=True)
class CompatibilityProblem:
    """One reason why `reader` cannot read data written with `writer` under `mode`.

    `field` is a path inside the record ('' for the record itself); `rule` is the
    checker's incompatibility type (`type_mismatch`, `reader_field_missing_default_value`,
    `missing_union_branch`, `missing_enum_symbols`, `name_mismatch`,
    `fixed_size_mismatch`); `source` is the file to fix (the newer of the two).
    """

    mode: str
    reader: str
    writer: str
    field: str
    rule: str
    message: str
    source: str

    def __str__(self) -> str:
        where = f"{self.source}: {self.field}" if self.field else self.source
        pair = f"{self.reader} cannot read data written with {self.writer}"
        return f"{where}: {self.mode}: {pair}: {self.message}"


def check_compatibility(
    versions: Sequence[AvroSchema], mode: str, *, every_version: bool = False
) -> list[CompatibilityProblem]:
    """Problems of the newest of `versions` (oldest first) under `mode`; empty: compatible.

    Raises `BadConfiguration` for an unknown mode or a schema the `avro` package refuses.
    """
    if mode not in COMPATIBILITY_MODES:
        raise BadConfiguration(
            f"unknown compatibility mode {mode!r}",
            hint=f"use one of {', '.join(COMPATIBILITY_MODES)}",
        )
    parsed: dict[int, avro.schema.RecordSchema] = {}
    problems: list[CompatibilityProblem] = []
    newest = range(1, len(versions)) if every_version else range(len(versions) - 1, len(versions))
    for index in newest:
        if index < 1:
            continue
        new = versions[index]
        earlier = versions[:index] if mode.endswith("_TRANSITIVE") else versions[index - 1 : index]
        for old in earlier if mode != "NONE" else ():
            if mode.startswith(("BACKWARD", "FULL")):
                problems.extend(_pair(new, old, mode, new.source, parsed))
            if mode.startswith(("FORWARD", "FULL")):
                problems.extend(_pair(old, new, mode, new.source, parsed))
    return problems


def reader_problems(reader: AvroSchema, writer: AvroSchema) -> list[CompatibilityProblem]:
    """Why `reader` cannot read data written with `writer` (empty: it can), mode `READ`."""
    return _pair(reader, writer, "READ", reader.source, {})


def _avro(schema: AvroSchema, cache: dict[int, avro.schema.RecordSchema]) -> avro.schema.RecordSchema:
    if id(schema) not in cache:
        try:
            parsed = avro.schema.parse(json.dumps(schema.document or schema.parsed))
        except (avro.errors.AvroException, ValueError, TypeError) as exc:
            raise BadConfiguration(
                f"the avro package refuses the schema: {exc}",
                where=schema.source,
                hint="fix the schema per the Avro specification",
            ) from exc
        if not isinstance(parsed, avro.schema.RecordSchema):
            raise BadConfiguration("the top-level Avro type must be a record", where=schema.source)
        cache[id(schema)] = parsed
    return cache[id(schema)]


def _pair(
    reader: AvroSchema,
    writer: AvroSchema,
    mode: str,
    source: str,
    cache: dict[int, avro.schema.RecordSchema],
) -> list[CompatibilityProblem]:
    r_schema, w_schema = _avro(reader, cache), _avro(writer, cache)
    verdict = ReaderWriterCompatibilityChecker().get_compatibility(r_schema, w_schema)
    if verdict.compatibility is not SchemaCompatibilityType.incompatible:
        return []
    words = _Words(reader.label, writer.label)
    found: list[tuple[str, str, str]] = []
    if "/name" in verdict.locations:
        found.append(("", "name_mismatch", words.renamed(r_schema, w_schema)))
    # Per top-level field, so a problem keeps its field even where the checker's
    # location is lost (it restarts at "/" inside unions).
    for index, r_field in enumerate(r_schema.fields):
        w_field = lookup_writer_field(writer_schema=w_schema, reader_field=r_field)
        if w_field is None:
            if not r_field.has_default:
                found.append(words.explain(r_field, None, "", [], []))
            continue
        result = ReaderWriterCompatibilityChecker().get_compatibility(
            r_field.type, w_field.type, "type", ["/", "fields", str(index)]
        )
        if result.compatibility is not SchemaCompatibilityType.incompatible:
            continue
        kinds = sorted({kind.value for kind in result.incompatibilities})
        for location in sorted(result.locations):
            found.append(words.explain(r_field, w_field, location, kinds, sorted(result.messages)))
    if not found:  # cannot happen unless the checker changes; never hide its verdict
        found.append(("", "incompatible", "; ".join(sorted(verdict.messages))))
    return [
        CompatibilityProblem(mode, reader.label, writer.label, path, rule, message, source)
        for path, rule, message in found
    ]


def _describe(schema: Any) -> str:
    if isinstance(schema, avro.schema.UnionSchema):
        return " | ".join(_describe(branch) for branch in schema.schemas)
    logical = schema.props.get("logicalType") if hasattr(schema, "props") else None
    if isinstance(schema, avro.schema.NamedSchema):
        return f"{schema.type} {schema.fullname}"
    return f"{schema.type} ({logical})" if logical else str(schema.type)


class _Words:
    """Turns a checker location into (field path, rule, sentence)."""

    def __init__(self, reader: str, writer: str) -> None:
        self.reader, self.writer = reader, writer

    def renamed(self, r_schema: Any, w_schema: Any) -> str:
        return (
            f"named type {w_schema.fullname} is called {r_schema.fullname} in {self.reader}, "
            f"which does not list {w_schema.fullname} in its aliases"
        )

    def explain(
        self, r_field: Any, w_field: Any, location: str, kinds: list[str], messages: list[str]
    ) -> tuple[str, str, str]:
        path = r_field.name
        if w_field is None:
            return (
                path,
                "reader_field_missing_default_value",
                (
                    f"{self.reader} reads field {path!r}, {self.writer} does not write it "
                    f"and {self.reader} gives it no default"
                ),
            )
        parts = [p for p in location.split("/") if p]
        reader, writer = r_field.type, w_field.type
        # "/fields/<i>/type/..." below this field; a bare "/" means the checker lost the place
        parts = parts[3:] if len(parts) >= 3 and parts[0] == "fields" and parts[2] == "type" else []
        tail = ""
        while parts:
            step = parts.pop(0)
            if step == "fields" and parts and isinstance(reader, avro.schema.RecordSchema):
                nested = reader.fields[int(parts.pop(0))]
                path = f"{path}.{nested.name}"
                reader = nested.type
                found = lookup_writer_field(writer_schema=writer, reader_field=nested)
                if found is None:
                    return (
                        path,
                        "reader_field_missing_default_value",
                        (
                            f"{self.reader} reads nested field {path!r}, {self.writer} does not "
                            f"write it and {self.reader} gives it no default"
                        ),
                    )
                writer = found.type
            elif step == "items":
                path, reader, writer = f"{path}[]", reader.items, writer.items
            elif step == "values":
                path, reader, writer = f"{path}{{}}", reader.values, writer.values
            elif step != "type":
                tail = step
                break
        return self._sentence(path, tail, reader, writer, kinds, messages)

    def _sentence(
        self, path: str, tail: str, reader: Any, writer: Any, kinds: list[str], messages: list[str]
    ) -> tuple[str, str, str]:
        r, w = self.reader, self.writer
        if tail == "name":
            return path, "name_mismatch", self.renamed(reader, writer)
        if tail == "size":
            return (
                path,
                "fixed_size_mismatch",
                (f"fixed size is {reader.size} in {r} but {writer.size} in {w}"),
            )
        if tail == "symbols":
            extra = sorted(set(writer.symbols) - set(reader.symbols))
            return (
                path,
                "missing_enum_symbols",
                (
                    f"enum symbol(s) {', '.join(extra)} written by {w} are unknown to {r}, "
                    f"whose enum has no default symbol"
                ),
            )
        if tail.isdigit() and isinstance(writer, avro.schema.UnionSchema):
            branch = writer.schemas[int(tail)]
            return (
                path,
                "missing_union_branch",
                (
                    f"{w} may write {_describe(branch)} but {r}'s union "
                    f"({_describe(reader)}) has no branch for it"
                ),
            )
        writer_null = isinstance(writer, avro.schema.UnionSchema) and any(
            b.type == "null" for b in writer.schemas
        )
        reader_null = isinstance(reader, avro.schema.UnionSchema) and any(
            b.type == "null" for b in reader.schemas
        )
        if writer_null and not reader_null:
            return (
                path,
                "type_mismatch",
                (f"became non-nullable: {w} may write null, {r} ({_describe(reader)}) cannot read it"),
            )
        if "missing_union_branch" in kinds and not ("type_mismatch" in kinds and len(kinds) == 1):
            return (
                path,
                "missing_union_branch",
                (f"{r}'s union ({_describe(reader)}) cannot take every value of {w} ({_describe(writer)})"),
            )
        detail = f" ({'; '.join(messages)})" if tail or len(kinds) != 1 else ""
        return (
            path,
            kinds[0] if len(kinds) == 1 else "type_mismatch",
            (f"{r} reads {_describe(reader)} where {w} wrote {_describe(writer)}; {_PROMOTIONS}{detail}"),
        )
