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
    """Rows of a (small) table as JSON-ready dicts: decimals and times as strings."""
    return [_jsonable(row) for row in table.to_pylist()]
