"""Avro ⇄ Arrow types for Avro container files, exact for decimals and time.

Reading (`reading_plan`): fastavro decodes each record into Python values (Decimal,
aware/naive datetime with microseconds, date, time, UUID, and plain integers for the
nanosecond timestamps it has no type for); `reading_plan` gives the Arrow schema those
values convert to exactly (`raw`) and the schema of the table handed on (`final`); the
step between is one vectorized cast (nanosecond integers → timestamps) plus UUIDs → text.

    Avro                                  Arrow (read)
    boolean int long float double         bool int32 int64 float32 float64
    bytes string / fixed(n)               binary string / fixed_size_binary(n)
    decimal(p, s)                         decimal128(p, s); decimal256 beyond 38 digits
    date, time-millis, time-micros        date32, time32('ms'), time64('us')
    timestamp-{millis,micros,nanos}       timestamp(unit, 'UTC'); local-timestamp-*: no zone
    uuid, enum                            string (the conform step makes enums)
    array, map, record                    list, map(string, T), struct
    ["null", T]                           T, nullable

A logical type on the wrong base type is ignored, as the specification says. A union of
two or more non-null types has no faithful Arrow counterpart, nor has a recursive record
or a `uuid` inside a nested type: all are refused.

Writing (`writing_plan`) is the reverse mapping for `AvroSink`; Arrow types with no Avro
counterpart (unsigned 64-bit, intervals, …) are refused naming the column.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from govbus.avro_arrow import PRIMITIVES, logical_type
from govbus.errors import BadInput

Plan = tuple[pa.DataType, pa.DataType, bool]  # (raw type, final type, nullable)
Named = dict[str, Plan | None]


class Unsupported(Exception):
    """A type with no faithful counterpart; `args[0]` says which field and why."""


def reading_plan(writer_schema: Any) -> tuple[pa.Schema, pa.Schema]:
    """(schema of the decoded records, final Arrow schema) for a file's record schema."""
    if not isinstance(writer_schema, dict) or writer_schema.get("type") != "record":
        raise Unsupported("the file's schema is not a record")
    named: Named = {}
    namespace = writer_schema.get("namespace")
    _remember(named, writer_schema, namespace, None)
    raw, final = [], []
    for field in writer_schema["fields"]:
        raw_type, final_type, nullable = _read_type(field["type"], field["name"], named, namespace)
        raw.append(pa.field(field["name"], raw_type, nullable))
        final.append(pa.field(field["name"], final_type, nullable))
    return pa.schema(raw), pa.schema(final)


def _remember(named: Named, avro: dict[str, Any], namespace: str | None, plan: Plan | None) -> None:
    """Register a named type (record, enum, fixed) under its short and full names; None
    marks a record being read (a reference to it is recursion)."""
    name = avro.get("name")
    if isinstance(name, str):
        space = avro.get("namespace", namespace)
        full = name if "." in name or not space else f"{space}.{name}"
        named[full] = named[full.rsplit(".", 1)[-1]] = plan


def _read_type(avro: Any, path: str, named: Named, namespace: str | None) -> Plan:
    if isinstance(avro, list):
        branches = [branch for branch in avro if branch != "null"]
        if len(branches) != 1:
            raise Unsupported(f"field {path}: a union of several types")
        raw, final, _ = _read_type(branches[0], path, named, namespace)
        return raw, final, True
    if isinstance(avro, str):
        if avro in PRIMITIVES:
            return PRIMITIVES[avro], PRIMITIVES[avro], avro == "null"
        known = named.get(avro, named.get(f"{namespace}.{avro}", False))
        if not known:
            raise Unsupported(f"field {path}: an unknown or recursive named type")
        return known[0], known[1], False  # type: ignore[index]
    if not isinstance(avro, dict):
        raise Unsupported(f"field {path}: an Avro type this reader does not know")
    space = avro.get("namespace", namespace)
    plan = _read_complex(avro, path, named, space)
    if avro.get("type") in ("record", "enum", "fixed"):
        _remember(named, avro, namespace, plan)
    return plan


def _read_complex(avro: dict[str, Any], path: str, named: Named, namespace: str | None) -> Plan:
    kind, logical = avro.get("type"), avro.get("logicalType")
    if isinstance(kind, dict | list):
        return _read_type(kind, path, named, namespace)
    final = logical_type(avro)
    if final is not None:
        return _decoded(logical, final), final, False
    if kind == "record":
        _remember(named, avro, namespace, None)  # a reference inside is recursion
        parts = [
            (f["name"], *_read_type(f["type"], f"{path}.{f['name']}", named, namespace))
            for f in avro["fields"]
        ]
        if any(raw != final and isinstance(raw, pa.BaseExtensionType) for _, raw, final, _ in parts):
            raise Unsupported(f"field {path}: a uuid inside a record")
        return (
            pa.struct([pa.field(n, r, nullable) for n, r, _, nullable in parts]),
            pa.struct([pa.field(n, f, nullable) for n, _, f, nullable in parts]),
            False,
        )
    if kind in ("array", "map"):
        inner = "items" if kind == "array" else "values"
        raw, final, nullable = _read_type(avro[inner], f"{path}[]", named, namespace)
        if isinstance(raw, pa.BaseExtensionType):
            raise Unsupported(f"field {path}: a uuid inside an {kind}")
        if kind == "array":
            item = pa.field("item", raw, nullable)
            return pa.list_(item), pa.list_(item.with_type(final)), False
        return (
            pa.map_(pa.string(), pa.field("value", raw, nullable)),
            pa.map_(pa.string(), pa.field("value", final, nullable)),
            False,
        )
    if kind == "enum":
        return pa.string(), pa.string(), False
    if kind == "fixed":
        return pa.binary(int(avro["size"])), pa.binary(int(avro["size"])), False
    if isinstance(kind, str) and kind in PRIMITIVES:
        return PRIMITIVES[kind], PRIMITIVES[kind], False
    raise Unsupported(f"field {path}: an Avro type this reader does not know")


def _decoded(logical: Any, final: pa.DataType) -> pa.DataType:
    """The type fastavro's value of a logical type converts to exactly, before the cast to
    `final`: UUIDs arrive as UUID objects, nanosecond timestamps as plain integers
    (fastavro has no nanosecond datetime)."""
    if logical == "uuid":
        return pa.uuid()
    if pa.types.is_timestamp(final) and final.unit == "ns":
        return pa.int64()
    return final


def writing_plan(schema: pa.Schema, name: str = "Batch") -> tuple[dict[str, Any], pa.Schema]:
    """(Avro record schema, Arrow schema to cast the batch to before handing rows to fastavro)."""
    fields, castable = [], []
    for field in schema:
        avro, plain = _write_type(field.type, field, f"{name}_{field.name}")
        avro_field: dict[str, Any] = {"name": field.name, "type": avro}
        if field.nullable and avro != "null":  # a null column is "null", not ["null", "null"]
            avro_field = {"name": field.name, "type": ["null", avro], "default": None}
        fields.append(avro_field)
        castable.append(pa.field(field.name, plain, field.nullable))
    return {"type": "record", "name": name, "fields": fields}, pa.schema(castable)


def _write_type(arrow: pa.DataType, field: pa.Field, path: str) -> tuple[Any, pa.DataType]:
    """(Avro type, Arrow type whose Python values fastavro writes as that Avro type)."""
    t = pa.types
    simple = [
        (t.is_boolean, "boolean", pa.bool_()),
        (t.is_float64, "double", pa.float64()),
        (lambda x: t.is_float32(x) or t.is_float16(x), "float", pa.float32()),
        (lambda x: x in (pa.int8(), pa.int16(), pa.int32(), pa.uint8(), pa.uint16()), "int", pa.int32()),
        (lambda x: x in (pa.int64(), pa.uint32()), "long", pa.int64()),
        (lambda x: t.is_string(x) or t.is_large_string(x) or t.is_string_view(x), "string", pa.string()),
        (lambda x: t.is_binary(x) or t.is_large_binary(x) or t.is_binary_view(x), "bytes", pa.binary()),
        (t.is_null, "null", pa.null()),
    ]
    for check, avro, plain in simple:
        if check(arrow):
            return avro, plain
    if t.is_decimal(arrow):
        return {
            "type": "bytes",
            "logicalType": "decimal",
            "precision": arrow.precision,
            "scale": arrow.scale,
        }, arrow
    if t.is_fixed_size_binary(arrow):
        return {"type": "fixed", "name": path, "size": arrow.byte_width}, arrow
    # Temporal values go to fastavro as the integers Avro stores (exact, nanoseconds too),
    # or as Python values in a unit Avro has (seconds → milliseconds; ns times → µs).
    if t.is_date(arrow):
        return {"type": "int", "logicalType": "date"}, pa.date32()
    if t.is_time(arrow):
        if arrow.unit in ("s", "ms"):
            plain = pa.int32() if arrow.unit == "ms" else pa.time32("ms")
            return {"type": "int", "logicalType": "time-millis"}, plain
        plain = pa.int64() if arrow.unit == "us" else pa.time64("us")
        return {"type": "long", "logicalType": "time-micros"}, plain
    if t.is_timestamp(arrow):
        unit = {"s": "millis", "ms": "millis", "us": "micros", "ns": "nanos"}[arrow.unit]
        prefix = "" if arrow.tz is not None else "local-"
        plain = pa.timestamp("ms", arrow.tz) if arrow.unit == "s" else pa.int64()
        return {"type": "long", "logicalType": f"{prefix}timestamp-{unit}"}, plain
    if t.is_dictionary(arrow):
        return _write_type(arrow.value_type, field, path)
    if t.is_list(arrow) or t.is_large_list(arrow):
        item, plain = _write_type(arrow.value_type, arrow.value_field, f"{path}_item")
        item = ["null", item] if arrow.value_field.nullable else item
        return {"type": "array", "items": item}, pa.list_(pa.field("item", plain, arrow.value_field.nullable))
    if t.is_map(arrow) and t.is_string(arrow.key_type):
        value, plain = _write_type(arrow.item_type, arrow.item_field, f"{path}_value")
        value = ["null", value] if arrow.item_field.nullable else value
        return {"type": "map", "values": value}, pa.map_(pa.string(), pa.field("value", plain, True))
    if t.is_struct(arrow):
        record, plain = writing_plan(pa.schema(list(arrow)), path)
        return record, pa.struct(list(plain))
    raise BadInput(
        f"a column of type {arrow} cannot be written as Avro",
        where=field.name,
        hint="convert the column, or deliver as Parquet",
    )
