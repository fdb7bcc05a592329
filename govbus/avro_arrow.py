"""The Avro → Arrow type table shared by the schema mapping and the Avro file reader.

`schemas.arrow_mapping` (an Avro schema's datasets as Arrow) and
`connectors.files.avro_files` (decoding Avro container files) must give the same Arrow
type for the same Avro type, or a file read by a connector would not conform to the
dataset's own schema. Neither part may import the other, so the one table lives here.

    Avro                                   Arrow
    null boolean int long float double     null bool int32 int64 float32 float64
    bytes string                           binary string
    decimal(p, s) on bytes or fixed        decimal128(p, s); decimal256(p, s) when p > 38
    date, time-millis, time-micros         date32, time32('ms'), time64('us')
    timestamp-{millis,micros,nanos}        timestamp(unit, 'UTC')
    local-timestamp-{millis,micros,nanos}  timestamp(unit) without a zone
    uuid                                   string

A logical type on the wrong base type is ignored, as the Avro specification says.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pyarrow as pa

PRIMITIVES: Mapping[str, pa.DataType] = {
    "null": pa.null(),
    "boolean": pa.bool_(),
    "int": pa.int32(),
    "long": pa.int64(),
    "float": pa.float32(),
    "double": pa.float64(),
    "bytes": pa.binary(),
    "string": pa.string(),
}
"""Arrow type of each Avro primitive type, by its Avro name."""

TIMESTAMP_UNITS: Mapping[str, str] = {"millis": "ms", "micros": "us", "nanos": "ns"}
"""Arrow unit of each `timestamp-*` / `local-timestamp-*` suffix."""

_SIMPLE_LOGICAL = {
    ("date", "int"): pa.date32(),
    ("time-millis", "int"): pa.time32("ms"),
    ("time-micros", "long"): pa.time64("us"),
    ("uuid", "string"): pa.string(),
}


def decimal_type(precision: int, scale: int) -> pa.DataType:
    """decimal128 up to 38 digits, decimal256 beyond: the narrowest type that is exact."""
    maker = pa.decimal128 if precision <= 38 else pa.decimal256
    return maker(precision, scale)


def logical_type(avro_type: Mapping[str, Any]) -> pa.DataType | None:
    """The Arrow type of a valid logical type, or None (then the base type applies).

    `avro_type` is an Avro type in its dict form (`{"type": "long", "logicalType": ...}`).
    A decimal's precision is not bounded here: a caller that must refuse more than the 76
    digits Arrow holds checks before calling.
    """
    logical = avro_type.get("logicalType")
    base = avro_type.get("type")
    if logical == "decimal" and base in ("bytes", "fixed"):
        return decimal_type(int(avro_type["precision"]), int(avro_type.get("scale", 0)))
    if (logical, base) in _SIMPLE_LOGICAL:
        return _SIMPLE_LOGICAL[(logical, base)]
    if isinstance(logical, str) and base == "long":
        for suffix, unit in TIMESTAMP_UNITS.items():
            if logical == f"timestamp-{suffix}":
                return pa.timestamp(unit, tz="UTC")
            if logical == f"local-timestamp-{suffix}":
                return pa.timestamp(unit)
    return None
