"""Safe conversions to timestamp, date and time columns (see `schemas.value_casts`)."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.types as pt

from schemas.cast_core import NoConversion, keep_valid, try_cast
from schemas.text_parsing import INT64_MAX, parse_date_text, parse_time_text, parse_timestamp_text

_UNIT_DIGITS = {"s": 0, "ms": 3, "us": 6, "ns": 9}


def _rescale_valid(ints: pa.Array, source_unit: str, target_unit: str) -> pa.Array:
    """Which counts of `source_unit` convert to `target_unit` without overflow or loss."""
    shift = _UNIT_DIGITS[target_unit] - _UNIT_DIGITS[source_unit]
    if shift >= 0:
        return pc.less_equal(pc.abs(ints), INT64_MAX // 10**shift)
    return pc.equal(pc.remainder(ints, 10**-shift), 0)


def to_timestamp(arr: pa.Array, target: pa.DataType) -> pa.Array:
    """Text, integers (counts of the unit), dates or timestamps to `target`; `NoConversion` otherwise.

    Values that do not convert (bad text, overflow, lost precision) come back null, for
    the caller (`schemas.value_casts`) to report as row issues.
    """
    zoned = target.tz is not None
    if pt.is_string(arr.type):
        text = arr

        def parse() -> pa.Array:
            counts = parse_timestamp_text(text, target.unit, zoned)
            return pc.cast(pc.cast(counts, pa.timestamp(target.unit)), target)

        return try_cast(text, target, parse)
    if pt.is_timestamp(arr.type):
        if arr.type.tz is not None and not zoned:
            arr = pc.local_timestamp(arr)
        source = arr

        def rescale() -> pa.Array:
            ints = pc.cast(source, pa.int64())
            valid = _rescale_valid(ints, source.type.unit, target.unit)
            return keep_valid(source, valid, target)

        return try_cast(source, target, rescale)
    if pt.is_date(arr.type):
        seconds = pc.cast(arr, pa.timestamp("s", tz=target.tz))
        return to_timestamp(seconds, target)
    if pt.is_integer(arr.type):
        return try_cast(pc.cast(arr, pa.int64()), target, None)
    raise NoConversion


def to_date(arr: pa.Array, target: pa.DataType) -> pa.Array:
    """Text, dates or timestamps at midnight to a date; `NoConversion` otherwise (others null)."""
    if pt.is_string(arr.type):
        text = arr
        return try_cast(text, target, lambda: parse_date_text(text))
    if pt.is_timestamp(arr.type):
        wall = pc.local_timestamp(arr) if arr.type.tz is not None else arr
        days = pc.cast(wall, target)
        midnight = pc.equal(pc.cast(days, wall.type), wall)
        return pc.if_else(pc.fill_null(midnight, False), days, None)
    if pt.is_date(arr.type):
        return pc.cast(arr, target)
    raise NoConversion


def to_time(arr: pa.Array, target: pa.DataType) -> pa.Array:
    """Text or times of another unit to `target`; `NoConversion` otherwise (lossy values null)."""
    storage = pa.int32() if target.bit_width == 32 else pa.int64()
    if pt.is_string(arr.type):
        return pc.cast(pc.cast(parse_time_text(arr, target.unit), storage), target)
    if pt.is_time(arr.type):
        source = arr

        def rescale() -> pa.Array:
            ints = pc.cast(source, pa.int64())
            return keep_valid(source, _rescale_valid(ints, source.type.unit, target.unit), target)

        return try_cast(source, target, rescale)
    raise NoConversion
