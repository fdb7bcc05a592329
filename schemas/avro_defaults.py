"""Avro JSON default values, decoded as the Avro specification says.

A field's `default` in a schema is JSON: bytes and fixed defaults are strings whose code
points 0-255 are the bytes (ISO-8859-1), a decimal's default is its unscaled
two's-complement big-endian bytes in that form, dates and times are counts since the
epoch, a union's default belongs to its first branch (GovBus also takes null for a
nullable union). `json_default` turns one into the Python value Arrow builds the field's
type from (Decimal, date, time, datetime, bytes, lists of pairs for maps).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_TIME_UNITS = {"millis": "milliseconds", "micros": "microseconds"}


def deref(avro_type: Any, named: dict[str, Any]) -> Any:
    """A named type's definition (fastavro's `__named_schemas`), other types unchanged."""
    return named.get(avro_type, avro_type) if isinstance(avro_type, str) else avro_type


def _kind(avro_type: Any) -> str:
    return avro_type if isinstance(avro_type, str) else str(avro_type["type"])


def _logical(avro_type: Any) -> str | None:
    return avro_type.get("logicalType") if isinstance(avro_type, dict) else None


def json_default(avro_type: Any, value: Any, named: dict[str, Any]) -> Any:
    """An Avro JSON default → the Python value Arrow builds the field's type from."""
    if isinstance(avro_type, list):
        if value is None and "null" in avro_type:
            return None
        avro_type = next(b for b in avro_type if b != "null")
    avro_type = deref(avro_type, named)
    kind, logical = _kind(avro_type), _logical(avro_type)
    if value is None:
        return None
    if kind in ("bytes", "fixed"):
        raw = value.encode("latin-1")
        if logical == "decimal":
            scale = int(avro_type.get("scale", 0))
            return Decimal(int.from_bytes(raw, "big", signed=True)).scaleb(-scale)
        return raw
    if logical == "date" and kind == "int":
        return (_EPOCH + dt.timedelta(days=value)).date()
    if logical in ("time-millis", "time-micros"):
        return (_EPOCH + dt.timedelta(**{_TIME_UNITS[logical[5:]]: value})).time()
    if isinstance(logical, str) and kind == "long" and logical.endswith(("millis", "micros")):
        instant = _EPOCH + dt.timedelta(**{_TIME_UNITS[logical.rsplit("-", 1)[1]]: value})
        return instant if logical.startswith("timestamp") else instant.replace(tzinfo=None)
    if kind == "array":
        return [json_default(avro_type["items"], item, named) for item in value]
    if kind == "map":
        return [(key, json_default(avro_type["values"], item, named)) for key, item in value.items()]
    if kind == "record":
        record = {}
        for spec in avro_type["fields"]:
            given = value.get(spec["name"], spec.get("default"))
            record[spec["name"]] = json_default(spec["type"], given, named)
        return record
    return value
