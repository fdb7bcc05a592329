"""The Avro → Arrow type mapping, logical types included.

| Avro | Arrow |
|---|---|
| null / boolean / int / long / float / double | null / bool / int32 / int64 / float32 / float64 |
| bytes / string | binary / string |
| fixed(n) | fixed_size_binary(n) |
| decimal(p, s) on bytes or fixed | decimal128(p, s); decimal256(p, s) when p > 38 |
| date / time-millis / time-micros | date32 / time32('ms') / time64('us') |
| timestamp-millis / -micros / -nanos | timestamp(unit, tz='UTC') |
| local-timestamp-millis / -micros / -nanos | timestamp(unit) without a zone |
| uuid | string |
| enum | dictionary(int32, string) |
| array / map / record | list / map(string, T) / struct |
| ["null", T] (either order) | T in a nullable field; any other type gives a non-nullable field |
| null (alone or as `["null"]`) | null, in a nullable field (Arrow's null type admits nothing else) |

A logical type on the wrong base type is ignored, as the Avro specification says. A
union of two or more non-null types has no faithful Arrow counterpart yet and raises
`BadConfiguration` naming the field. Recursive records cannot be represented in Arrow
either and raise too.

Every Arrow field carries metadata the conform step needs: `avro.type` (a short
description such as `decimal(14,2)` or `enum FilingStatus`, used in issue reasons) and,
for enums, `avro.symbols` (JSON list, so the dictionary indices follow the symbol order).
"""

from __future__ import annotations

import json
from typing import Any

import fastavro.schema
import pyarrow as pa

from govbus.avro_arrow import PRIMITIVES, logical_type
from govbus.errors import BadConfiguration

TYPE_KEY = b"avro.type"
SYMBOLS_KEY = b"avro.symbols"

_NAMED = ("record", "enum", "fixed")


def avro_to_arrow(avro_type: Any) -> pa.DataType | pa.Schema:
    """Map an Avro type (parsed or raw dict/list/str) to Arrow.

    A record gives a `pa.Schema` (one field per Avro field); any other type gives the
    `pa.DataType` of its values (a null-union gives the type of its non-null branch: the
    nullability belongs to the enclosing field).
    """
    try:
        parsed = fastavro.schema.parse_schema(avro_type)
    except Exception as exc:  # fastavro raises several unrelated classes
        raise BadConfiguration(
            f"not a valid Avro schema: {exc}", hint="fix the type per the Avro specification"
        ) from exc
    walker = _Walker()
    if isinstance(parsed, dict) and parsed.get("type") == "record":
        return pa.schema(walker.record_fields(parsed, path=""))
    return walker.field("value", parsed, path="").type


def describe(avro_type: Any) -> str:
    """A short human name of an Avro type for messages: `decimal(14,2)`, `enum Status`."""
    if isinstance(avro_type, list):
        branches = [describe(branch) for branch in avro_type if branch != "null"]
        return " | ".join(branches) if branches else "null"
    if isinstance(avro_type, str):
        return avro_type
    kind = avro_type.get("type")
    logical = avro_type.get("logicalType")
    if logical == "decimal" and kind in ("bytes", "fixed"):
        return f"decimal({avro_type.get('precision')},{avro_type.get('scale', 0)})"
    if isinstance(logical, str) and _logical_type(avro_type) is not None:
        return logical
    if kind in ("enum", "record"):
        return f"{kind} {avro_type.get('name')}"
    if kind == "fixed":
        return f"fixed({avro_type.get('size')})"
    return describe(kind) if isinstance(kind, str | list | dict) else str(kind)


def _logical_type(avro_type: dict[str, Any]) -> pa.DataType | None:
    """The Arrow type of a valid logical type, or None (then the base type applies).

    The table is the kernel's (shared with the Avro file reader); a schema must also
    not declare a decimal wider than the 76 digits Arrow can hold.
    """
    if avro_type.get("logicalType") == "decimal" and avro_type.get("type") in ("bytes", "fixed"):
        precision = int(avro_type["precision"])
        if precision > 76:
            raise BadConfiguration(
                f"decimal precision {precision} exceeds the 76 digits Arrow can hold",
                hint="lower the precision",
            )
    return logical_type(avro_type)


class _Walker:
    """Walks one parsed schema, remembering named types so later references resolve."""

    def __init__(self) -> None:
        self.named: dict[str, pa.DataType] = {}
        self.describe: dict[str, str] = {}
        self.symbols: dict[str, list[str]] = {}
        self.in_progress: set[str] = set()

    def record_fields(self, record: dict[str, Any], path: str) -> list[pa.Field]:
        name = record["name"]
        if name in self.in_progress:
            raise BadConfiguration(
                f"record {name} is recursive, which Arrow cannot represent",
                where=path or None,
                hint="flatten the recursion (e.g. store children as a separate dataset)",
            )
        self.in_progress.add(name)
        fields = [
            self.field(f["name"], f["type"], path=f"{path}.{f['name']}" if path else f["name"])
            for f in record["fields"]
        ]
        self.in_progress.discard(name)
        return fields

    def field(self, name: str, avro_type: Any, path: str) -> pa.Field:
        nullable = False
        if isinstance(avro_type, list):
            branches = [branch for branch in avro_type if branch != "null"]
            nullable = len(branches) < len(avro_type)
            if len(branches) > 1:
                raise BadConfiguration(
                    f"union of several non-null types ({describe(avro_type)}) is not supported yet",
                    where=path,
                    hint='use ["null", T] or split the field into one field per type',
                )
            avro_type = branches[0] if branches else "null"
        # A field of type null holds nothing but null: Arrow's null type is nullable by
        # definition (it refuses a non-nullable field of it), whether or not in a union.
        nullable = nullable or avro_type == "null"
        arrow_type, metadata = self.type_of(avro_type, path)
        return pa.field(name, arrow_type, nullable=nullable, metadata=metadata)

    def type_of(self, avro_type: Any, path: str) -> tuple[pa.DataType, dict[bytes, bytes]]:
        if isinstance(avro_type, str):
            if avro_type in PRIMITIVES:
                return PRIMITIVES[avro_type], {TYPE_KEY: avro_type.encode()}
            return self._reference(avro_type, path)
        if isinstance(avro_type, list):
            raise BadConfiguration(
                "a union directly inside a union is not valid Avro", where=path, hint="flatten it"
            )
        metadata = {TYPE_KEY: describe(avro_type).encode()}
        logical = _logical_type(avro_type)
        kind = avro_type["type"]
        if logical is not None:
            result: pa.DataType = logical
        elif kind in PRIMITIVES:
            result = PRIMITIVES[kind]
        elif kind == "array":
            result = pa.list_(self.field("item", avro_type["items"], f"{path}[]"))
        elif kind == "map":
            value = self.field("value", avro_type["values"], f"{path}{{}}")
            result = pa.map_(pa.field("key", pa.string(), nullable=False), value)
        elif kind == "enum":
            result = pa.dictionary(pa.int32(), pa.string())
            symbols = list(avro_type["symbols"])
            self.symbols[avro_type["name"]] = symbols
            metadata[SYMBOLS_KEY] = json.dumps(symbols).encode()
        elif kind == "fixed":
            result = pa.binary(int(avro_type["size"]))
        elif kind == "record":
            result = pa.struct(self.record_fields(avro_type, path))
        else:
            raise BadConfiguration(f"unknown Avro type {kind!r}", where=path, hint="fix the type")
        if kind in _NAMED:
            self.named[avro_type["name"]] = result
            self.describe[avro_type["name"]] = describe(avro_type)
        return result, metadata

    def _reference(self, name: str, path: str) -> tuple[pa.DataType, dict[bytes, bytes]]:
        if name in self.in_progress:
            raise BadConfiguration(
                f"record {name} is recursive, which Arrow cannot represent",
                where=path,
                hint="flatten the recursion (e.g. store children as a separate dataset)",
            )
        if name not in self.named:
            raise BadConfiguration(f"unknown named type {name!r}", where=path, hint="define it first")
        metadata = {TYPE_KEY: self.describe[name].encode()}
        if name in self.symbols:
            metadata[SYMBOLS_KEY] = json.dumps(self.symbols[name]).encode()
        return self.named[name], metadata
