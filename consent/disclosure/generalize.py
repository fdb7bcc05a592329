"""Coarsening columns, vectorized on Arrow: clamping, bands, rounding, dates, hierarchies.

Every rule keeps the column's Arrow type (a band is its lower bound in the column's own
type, a month the first day of that month), except a hierarchy, which gives text. So a
generalized batch has the schema the subscription always had, and the same rule gives
the same value in every batch and every run: global recoding, which is what lets
per-batch k-anonymity add up across batches (`consent.disclosure.kanon`).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from consent.disclosure.policy import Generalization

__all__ = ["generalize", "generalize_column", "generalized_type", "rule_problem"]


def generalized_type(rule: Generalization, original: pa.DataType) -> pa.DataType:
    """The type a column has once generalized: its own, or text through a hierarchy."""
    return pa.string() if rule.hierarchy is not None else original


def rule_problem(rule: Generalization, kind: pa.DataType) -> str | None:
    """Why `rule` cannot apply to a column of `kind` (None when it can): checked with the catalog."""
    numeric = pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind)
    if (rule.band or rule.round or rule.top is not None or rule.bottom is not None) and not numeric:
        return f"bands, rounding and top/bottom coding need a number, not {kind}"
    temporal = pa.types.is_date(kind) or pa.types.is_timestamp(kind) or pa.types.is_integer(kind)
    if rule.date is not None and not temporal:
        return f"date generalization needs a date, a timestamp or a YYYYMMDD number, not {kind}"
    return None


def generalize(table: pa.Table, rules: Mapping[str, Generalization]) -> pa.Table:
    """`table` with each field named in `rules` generalized (other columns untouched)."""
    for name, rule in rules.items():
        if name not in table.column_names:
            continue
        index = table.schema.get_field_index(name)
        column = generalize_column(table[name], rule)
        table = table.set_column(index, table.schema.field(index).with_type(column.type), column)
    return table


def generalize_column(values: pa.ChunkedArray | pa.Array, rule: Generalization) -> pa.Array:
    """One column through `rule` (see the module docstring); nulls stay null."""
    column = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
    kind = column.type
    if rule.bottom is not None or rule.top is not None or rule.band or rule.round:
        column = _numbers(column, rule)
    if rule.date is not None:
        column = _date(column, rule.date)
    if rule.hierarchy is not None:
        column = rule.hierarchy.apply(column)
    return column if rule.hierarchy is not None else column.cast(kind, safe=False)


def _numbers(column: pa.Array, rule: Generalization) -> pa.Array:
    """Clamp to [bottom, top], then floor to the band's lower bound or round to the step."""
    kind = column.type
    if not (pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind)):
        raise TypeError(f"{rule.field}: bands, rounding and top/bottom coding need numbers, not {kind}")
    if pa.types.is_decimal(kind) and (exact := _decimal_exactly(column, rule)) is not None:
        return exact
    number = pc.cast(column, pa.float64())
    if rule.bottom is not None:
        number = pc.max_element_wise(number, pa.scalar(rule.bottom), skip_nulls=False)
    if rule.top is not None:
        number = pc.min_element_wise(number, pa.scalar(rule.top), skip_nulls=False)
    if rule.band:
        number = pc.multiply(pc.floor(pc.divide(number, rule.band)), rule.band)
    elif rule.round:
        number = pc.multiply(pc.round(pc.divide(number, rule.round), round_mode="half_up"), rule.round)
    if pa.types.is_decimal(kind):
        return pc.cast(number, kind, safe=False)
    if pa.types.is_integer(kind):
        return pc.cast(pc.round(number), kind, safe=False)
    return pc.cast(number, kind)


# The exact path below gives what the float path gives (the float path's errors, about
# 3e-16 relative, stay far below a cent's 1e-14 relative to 10**12) up to this precision.
_EXACT_PRECISION = 14


def _decimal_exactly(column: pa.Array, rule: Generalization) -> pa.Array | None:
    """Clamp and band a decimal column on its unscaled integers, without a float round trip.

    The usual rule on amounts (`band: 20000, top: 100000`): about 4x faster than the float
    path, which casts each value to float64 and back. It gives the same values (tested
    against it), so it is taken only where that is certain: a decimal128 of at most 14
    digits, whole-number bounds and band, no rounding. None otherwise (the float path).
    """
    kind = column.type
    if rule.round or kind.bit_width != 128 or kind.precision > _EXACT_PRECISION:
        return None
    factor = 10**kind.scale
    limits = []
    for value in (rule.bottom, rule.top, rule.band):
        if value is not None and not (float(value).is_integer() and abs(value) < 10**kind.precision):
            return None
        limits.append(None if value is None else int(value) * factor)
    bottom, top, band = limits
    count = len(column)
    data = column.buffers()[1]
    if data is None or not count:
        return None
    # decimal128: 16 bytes a value, little-endian; below 10**18 the low word is the value
    words = np.frombuffer(data, np.int64, 2 * count, column.offset * 16)
    unscaled = words[0::2].copy()
    if bottom is not None:
        np.maximum(unscaled, bottom, out=unscaled)
    if top is not None:
        np.minimum(unscaled, top, out=unscaled)
    if band:
        unscaled = np.floor_divide(unscaled, band) * band
    out = np.empty(2 * count, np.int64)
    out[0::2] = unscaled
    out[1::2] = np.where(unscaled < 0, -1, 0)
    validity = column.buffers()[0] if column.null_count else None
    if validity is not None and column.offset:
        validity = pc.is_valid(column).buffers()[1]  # realigned to offset 0
    return pa.Array.from_buffers(kind, count, [validity, pa.py_buffer(out)], null_count=column.null_count)


def _date(column: pa.Array, unit: str) -> pa.Array:
    """To the first day of its month or year; dates, timestamps or YYYYMMDD whole numbers."""
    kind = column.type
    if pa.types.is_integer(kind):  # YYYYMMDD as a number, as legacy registers keep dates
        step = 10_000 if unit == "year" else 100
        first = 101 if unit == "year" else 1
        return pc.add(pc.multiply(pc.divide(column, step), step), first).cast(kind)
    if pa.types.is_date(kind) or pa.types.is_timestamp(kind):
        return pc.floor_temporal(column, unit=unit)
    raise TypeError(f"date generalization needs dates, timestamps or YYYYMMDD numbers, not {kind}")
