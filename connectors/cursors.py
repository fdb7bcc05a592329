"""The compound cursor shared by the built-in sources, and its JSON codec.

A cursor names the ordering fields and the position of the last row read:

    {"version": 1, "mode": "incremental", "fields": ["updated_at", "return_id"],
     "after": ["2024-05-01T08:00:00+00:00", "R000000042"]}

`after` holds one JSON value per field, encoded from the field's Arrow type:
timestamps as ISO-8601 strings in UTC, dates as ISO dates, decimals as strings (exact),
binary as hex, numbers, strings and booleans as themselves. `after` is null when the
read starts from the beginning; a full-refresh source sets it to null in the cursor of
its last batch, so the next read refreshes everything again.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

import pyarrow as pa

from govbus.errors import BadConfiguration, BadInput

CURSOR_VERSION = 1
INCREMENTAL = "incremental"
FULL = "full"

_RESET_HINT = "the source's cursor or key settings changed: reset the dataset's cursor to re-read"


def check_cursor_type(field: str, arrow_type: pa.DataType) -> None:
    """Refuse ordering fields whose values a JSON cursor cannot hold exactly."""
    if pa.types.is_timestamp(arrow_type) and arrow_type.unit == "ns":
        raise BadConfiguration(
            "nanosecond timestamps cannot serve as cursor fields",
            where=field,
            hint="store the column with microsecond precision",
        )
    supported = (
        pa.types.is_timestamp(arrow_type)
        or pa.types.is_date(arrow_type)
        or pa.types.is_decimal(arrow_type)
        or pa.types.is_integer(arrow_type)
        or pa.types.is_string(arrow_type)
        or pa.types.is_large_string(arrow_type)
        or pa.types.is_binary(arrow_type)
        or pa.types.is_large_binary(arrow_type)
        or pa.types.is_boolean(arrow_type)
    )
    if not supported:
        raise BadConfiguration(
            "this column's type cannot serve as a cursor or key field",
            where=field,
            hint="order by timestamp, date, decimal, integer, string, binary or boolean columns",
        )


def make_cursor(mode: str, fields: Sequence[str], after: list[Any] | None) -> dict[str, Any]:
    """Build a cursor document; `after` must already be JSON values (see `encode_last_row`)."""
    return {"version": CURSOR_VERSION, "mode": mode, "fields": list(fields), "after": after}


def encode_last_row(table: pa.Table, fields: Sequence[str]) -> list[Any]:
    """The JSON values of `fields` in the table's last row (one row to Python, not a batch)."""
    row = table.slice(table.num_rows - 1, 1).select(list(fields)).to_pylist()[0]
    return [_to_json(row[name]) for name in fields]


def parse_cursor(
    cursor: object, *, mode: str, fields: Sequence[str], types: Sequence[pa.DataType]
) -> list[Any] | None:
    """Decode `cursor` into Python values typed for `types`, or None to start from the top.

    Timestamps come back as UTC datetimes, aware for tz-aware Arrow types and naive for
    naive ones. A cursor made for other fields or another mode is refused, since
    resuming from it could skip or repeat rows.
    """
    if cursor is None:
        return None
    if not isinstance(cursor, dict) or cursor.get("version") != CURSOR_VERSION:
        raise BadInput("not a cursor made by this source", where="cursor", hint=_RESET_HINT)
    if cursor.get("mode") != mode or cursor.get("fields") != list(fields):
        raise BadConfiguration(
            "the cursor was made for other ordering fields or another mode",
            where="cursor",
            hint=_RESET_HINT,
        )
    after = cursor.get("after")
    if after is None:
        return None
    if not isinstance(after, list) or len(after) != len(fields):
        raise BadInput("the cursor's position is malformed", where="cursor", hint=_RESET_HINT)
    return [
        _from_json(value, arrow_type, name)
        for value, arrow_type, name in zip(after, types, fields, strict=True)
    ]


def _to_json(value: Any) -> Any:
    if value is None:
        raise BadInput("a cursor or key field is null", hint="cursor and key columns must be NOT NULL")
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC).isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    return value


def _from_json(value: Any, arrow_type: pa.DataType, name: str) -> Any:
    where = f"cursor.{name}"
    try:
        if pa.types.is_timestamp(arrow_type):
            parsed = dt.datetime.fromisoformat(value)
            if parsed.tzinfo is None:
                raise ValueError("timestamp without offset")
            parsed = parsed.astimezone(dt.UTC)
            return parsed if arrow_type.tz is not None else parsed.replace(tzinfo=None)
        if pa.types.is_date(arrow_type):
            return dt.date.fromisoformat(value)
        if pa.types.is_decimal(arrow_type):
            if not isinstance(value, str):
                raise TypeError("decimal not stored as a string")
            return Decimal(value)
        if pa.types.is_binary(arrow_type) or pa.types.is_large_binary(arrow_type):
            return bytes.fromhex(value)
        if pa.types.is_boolean(arrow_type):
            if not isinstance(value, bool):
                raise TypeError("not a boolean")
            return value
        if pa.types.is_integer(arrow_type):
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError("not an integer")
            return value
        if not isinstance(value, str):
            raise TypeError("not a string")
        return value
    except (TypeError, ValueError, InvalidOperation):
        raise BadInput(
            "the cursor's value does not fit the field's type", where=where, hint=_RESET_HINT
        ) from None
