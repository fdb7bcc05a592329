"""Coarsening columns, vectorized on Arrow: clamping, bands, rounding, dates, hierarchies.

Every rule keeps the column's Arrow type (a band is its lower bound in the column's own
type, a month the first day of that month), except a hierarchy, which gives text. So a
generalized batch has the schema the subscription always had, and the same rule gives
the same value in every batch and every run: global recoding, which is what lets
per-batch k-anonymity add up across batches (`consent.disclosure.kanon`).
"""

from __future__ import annotations

from collections.abc import Mapping

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
