"""Ordering REST records by (cursor field, key fields) on whole columns, for incremental reads.

A cursor field's JSON values are compared by their kind, fixed by the first page seen
(and kept in the cursor so a resumed read compares alike):
* `number`: JSON integers or decimals;
* `timestamp`: texts that all parse as ISO 8601 with a zone offset — compared as
  instants, so `…T10:00+01:00` equals `…T09:00Z`;
* `string`: other texts, compared by code point.
Key fields break ties and must be texts, integers or booleans.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from govbus.errors import BadInput

ORDER = "__govbus_order"
KINDS = ("number", "timestamp", "string")
_INSTANT = pa.timestamp("us", tz="UTC")


def kind_of(column: pa.ChunkedArray) -> str:
    """The comparison kind of a cursor column's first page."""
    if pa.types.is_integer(column.type) or pa.types.is_decimal(column.type):
        return "number"
    if pa.types.is_string(column.type):
        try:
            column.cast(_INSTANT)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return "string"
        return "timestamp"
    return "unsupported"


def with_order(table: pa.Table, fields: list[str], kind: str | None, where: str) -> tuple[pa.Table, str]:
    """`table` plus the ORDER column (the cursor field as compared), and the cursor's kind
    (found from this page when `kind` is None); refuses unusable fields."""
    for name in fields:
        if name not in table.column_names:
            raise BadInput(
                f"the records have no field {name}", where=where, hint="check cursor and key fields"
            )
        if table[name].null_count:
            raise BadInput(
                f"a record has no value for {name}", where=where, hint="cursor and key fields need one"
            )
    for name in fields[1:]:
        key_type = table[name].type
        if not (
            pa.types.is_string(key_type) or pa.types.is_integer(key_type) or pa.types.is_boolean(key_type)
        ):
            raise BadInput(f"key field {name} is not a text, integer or boolean", where=where)
    if kind is None:
        kind = kind_of(table[fields[0]])
        if kind not in KINDS:
            raise BadInput(f"cursor field {fields[0]} holds neither numbers nor texts", where=where)
    return table.append_column(ORDER, order_column(table[fields[0]], kind, fields[0], where)), kind


def order_column(column: pa.ChunkedArray, kind: str, name: str, where: str) -> pa.ChunkedArray:
    """The cursor column as compared for `kind` (timestamp texts as UTC instants).

    `BadInput` when a value is not of that kind: the kind is fixed by the first page (and
    the cursor), so a later page of other values is refused, not compared differently.
    """
    try:
        if kind == "timestamp" and pa.types.is_string(column.type):
            return column.cast(_INSTANT)
        if kind == "number" and (pa.types.is_integer(column.type) or pa.types.is_decimal(column.type)):
            return column
        if kind == "string" and pa.types.is_string(column.type):
            return column
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    raise BadInput(
        f"the values of cursor field {name} are not all of kind {kind}",
        where=where,
        hint="the cursor field must hold numbers, ISO 8601 timestamps with offset, or texts, consistently",
    )


def order_value(raw: Any, kind: str) -> Any:
    """The comparable scalar of a cursor value as stored in a cursor document."""
    if kind == "timestamp":
        return pa.array([raw], pa.string()).cast(_INSTANT)[0]
    if kind == "number" and isinstance(raw, str):
        return Decimal(raw)
    return raw


def json_value(value: Any) -> Any:
    """A cursor or key value for the cursor document (decimals as exact text)."""
    return str(value) if isinstance(value, Decimal) else value


def check_ascending(order: pa.ChunkedArray, previous: Any, where: str, name: str) -> None:
    """Refuse a page whose cursor values go down, within it or from the page before."""
    descending = len(order) > 1 and pc.any(pc.less(order[1:], order[:-1])).as_py()
    if descending or (previous is not None and len(order) and pc.less(order[0], previous).as_py()):
        raise BadInput(
            f"the API returned records out of order by {name}",
            where=where,
            hint=f"incremental reads need records sorted by {name} ascending (ask the API to sort), "
            "or read without a cursor field",
        )


def after_mask(table: pa.Table, fields: list[str], after: list[Any]) -> pa.ChunkedArray:
    """Rows strictly after `after` in (ORDER, key fields...) order; `after` holds scalars."""
    columns = [table[ORDER], *(table[name] for name in fields[1:])]
    mask = pc.greater(columns[0], after[0])
    ties = pc.equal(columns[0], after[0])
    for column, value in zip(columns[1:], after[1:], strict=True):
        mask = pc.or_(mask, pc.and_(ties, pc.greater(column, value)))
        ties = pc.and_(ties, pc.equal(column, value))
    return mask


def sort_keys(fields: list[str]) -> list[tuple[str, str]]:
    """`sort_by` keys for a `with_order` table: ORDER, then the key fields, all ascending."""
    return [(ORDER, "ascending"), *((name, "ascending") for name in fields[1:])]
