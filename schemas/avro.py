"""One Avro schema of a dataset: parsed, canonical form, fingerprints and Arrow shape.

A dataset's schemas live in `catalog/datasets/<id>/schema/vN.avsc`; `load_schema` reads
one file (and takes N as the version when the file name says so), `parse_schema` takes
an inline dict or JSON text. The top-level type must be a record: a dataset's rows.

Fingerprints are fastavro's over the Parsing Canonical Form, so they equal what any
other Avro implementation (and a Confluent registry) computes for the same schema.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import fastavro.schema
import pyarrow as pa

from govbus.errors import BadConfiguration
from schemas.arrow_mapping import avro_to_arrow, describe

_VERSION_FILE = re.compile(r"^v(\d+)\.avsc$")


@dataclass(frozen=True)
class AvroSchema:
    """A parsed record schema. Two schemas compare equal when name, version, source and
    canonical form are equal (the parsed dict and Arrow schema follow from those)."""

    name: str
    version: int | None
    source: str
    parsed: dict[str, Any] = field(compare=False, repr=False)
    canonical: str = field(repr=False)
    fingerprint_crc64: str
    fingerprint_sha256: str = field(repr=False)
    arrow: pa.Schema = field(compare=False, repr=False)
    field_names: tuple[str, ...] = field(repr=False)
    document: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)
    """The schema as written (aliases, defaults and logical types kept), for the official
    `avro` package's compatibility checker; `parsed` is fastavro's expanded form."""

    @property
    def label(self) -> str:
        """`v3` for a versioned file, else the source: how messages name this version."""
        return f"v{self.version}" if self.version is not None else self.source

    def field_type(self, name: str) -> Any:
        """The Avro type of top-level field `name` as fastavro parsed it (str, dict or list)."""
        return self._avro_field(name)["type"]

    def field_default(self, name: str) -> tuple[bool, Any]:
        """(True, default) when field `name` declares a default, else (False, None)."""
        spec = self._avro_field(name)
        return ("default" in spec, spec.get("default"))

    def is_nullable(self, name: str) -> bool:
        """Whether field `name` admits null (its type is a union with "null")."""
        return self.arrow.field(self._index(name)).nullable

    def describe_field(self, name: str) -> str:
        """Short type name for messages, e.g. `decimal(14,2)`."""
        return describe(self.field_type(name))

    def _index(self, name: str) -> int:
        try:
            return self.field_names.index(name)
        except ValueError:
            raise BadConfiguration(
                f"schema {self.name} has no field {name!r}",
                where=self.source,
                hint="use one of the schema's field names",
            ) from None

    def _avro_field(self, name: str) -> dict[str, Any]:
        return self.parsed["fields"][self._index(name)]


def parse_schema(schema: dict[str, Any] | str, source: str = "<inline>") -> AvroSchema:
    """Parse an Avro record schema given as a dict or JSON text.

    Raises `BadConfiguration` naming `source` (and line/column for JSON syntax errors).
    """
    if isinstance(schema, str):
        try:
            schema = json.loads(schema)
        except json.JSONDecodeError as exc:
            raise BadConfiguration(
                f"malformed JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}",
                where=source,
                hint="fix the JSON syntax of the schema",
            ) from exc
    return _build(schema, source=source, version=None)


def load_schema(path: str | Path) -> AvroSchema:
    """Read an `.avsc` file; a file named `vN.avsc` gets version N, any other None."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise BadConfiguration(
            f"cannot read schema file ({type(exc).__name__})",
            where=str(path),
            hint="check that the file exists, is readable and is UTF-8",
        ) from exc
    match = _VERSION_FILE.match(path.name)
    version = int(match.group(1)) if match else None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadConfiguration(
            f"malformed JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}",
            where=str(path),
            hint="fix the JSON syntax of the schema",
        ) from exc
    return _build(document, source=str(path), version=version)


def _build(document: Any, *, source: str, version: int | None) -> AvroSchema:
    if not isinstance(document, dict) or document.get("type") != "record":
        raise BadConfiguration(
            "the top-level Avro type must be a record",
            where=source,
            hint='write {"type": "record", "name": ..., "fields": [...]}',
        )
    try:
        parsed = fastavro.schema.parse_schema(document)
        canonical = fastavro.schema.to_parsing_canonical_form(parsed)
    except Exception as exc:  # fastavro raises several unrelated classes
        raise BadConfiguration(
            f"invalid Avro schema: {type(exc).__name__}: {exc}",
            where=source,
            hint="fix the schema per the Avro specification",
        ) from exc
    try:
        arrow = avro_to_arrow(parsed)
    except BadConfiguration as exc:
        where = f"{source}: {exc.where}" if exc.where else source
        raise BadConfiguration(exc.message, where=where, hint=exc.hint) from exc
    return AvroSchema(
        name=parsed["name"],
        version=version,
        source=source,
        parsed=parsed,
        canonical=canonical,
        fingerprint_crc64=fastavro.schema.fingerprint(canonical, "CRC-64-AVRO"),
        fingerprint_sha256=fastavro.schema.fingerprint(canonical, "SHA-256"),
        arrow=cast(pa.Schema, arrow),
        field_names=tuple(f["name"] for f in parsed["fields"]),
        document=copy.deepcopy(document),
    )
