"""Turning a few Arrow rows into JSON for the state database (quarantine only).

This is deliberately off the hot path: only rejected rows (about 1 % in the sample)
are converted, so that an operator can see and replay them exactly as the source had them.
"""

from __future__ import annotations

import base64
import datetime as dt
from decimal import Decimal
from typing import Any

import pyarrow as pa


def _jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, bytes):
        return {"base64": base64.b64encode(value).decode("ascii")}
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def jsonable_rows(table: pa.Table) -> list[dict[str, Any]]:
    """Rows of a (small) table as JSON-ready dicts: decimals and times as strings.

    Column by column: a column of text, numbers or booleans is JSON-ready as Python gives
    it, so only the other columns' values go through the conversion (a quarantined batch
    of legacy text rows then costs one list per column, not a walk of every value).
    """
    columns = []
    for i, field in enumerate(table.schema):
        values = table.column(i).to_pylist()
        columns.append(values if _native(field.type) else [_jsonable(v) for v in values])
    if not columns:
        return [{} for _ in range(table.num_rows)]
    names = table.column_names
    return [dict(zip(names, row, strict=True)) for row in zip(*columns, strict=True)]


def _native(kind: pa.DataType) -> bool:
    """Are this type's Python values (str, int, float, bool, None) JSON-ready as they are?"""
    t = pa.types
    return (
        t.is_string(kind)
        or t.is_large_string(kind)
        or t.is_integer(kind)
        or t.is_floating(kind)
        or t.is_boolean(kind)
        or t.is_null(kind)
    )
