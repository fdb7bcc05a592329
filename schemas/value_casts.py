"""Safe, vectorized conversion of one non-nested column to the Arrow type of an Avro field.

The contract of `cast_values`: the result has the target type and the input's length;
a value that cannot be converted *exactly* becomes null (the caller reports it), every
other value is converted without loss. There is no silent rounding or truncation:

* text is trimmed of surrounding whitespace when the target is not text;
* decimal targets take text, integers, decimals and floats; a float is converted through
  its shortest round-trip text (what `repr` prints), so 12345.67 → 12345.67 exactly and
  12.345 into decimal(14,2) is refused rather than rounded;
* integer targets refuse overflow and fractions; float targets refuse overflow to inf;
* timestamp targets take ISO-8601 text (an offset is applied, a value without one is
  UTC), timestamps of any unit and zone (a zone-less one is taken as UTC), dates, and
  integers (read as a count of the target unit, like Avro's own encoding); a finer unit
  whose extra digits are not zero is refused;
* date targets refuse timestamps that are not at midnight (of their own zone);
* binary and fixed targets take binary values as they are and text as hexadecimal, the
  form GovBus's CSV and JSON Lines sinks write (`00ff`, either case, an even number of
  digits): text is never taken as its own UTF-8 bytes, which would change every value
  written as hex; a fixed target also refuses a value of another length;
* a null target (Avro `null`) takes nulls only.

Strategy: try `pc.cast(safe=True)` on the whole column; only if that raises, compute a
validity mask with vectorized kernels and cast the valid values. A source type with no
conversion at all raises `BadInput` naming the field.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.types as pt

from govbus.errors import BadInput
from schemas.arrow_mapping import SYMBOLS_KEY, TYPE_KEY
from schemas.cast_core import NoConversion, keep_valid, try_cast
from schemas.temporal_casts import to_date, to_time, to_timestamp
from schemas.text_parsing import bool_text_valid, decimal_text, float_text_valid, hex_bytes

_UUID = r"^[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$"


def cast_values(arr: pa.Array, field: pa.Field, where: str) -> pa.Array:
    """Convert `arr` to `field.type`; unconvertible values become null (see module doc)."""
    arr = _plain(arr)
    if pt.is_null(arr.type) or pt.is_null(field.type):
        # Avro's null type holds only null: any other value fails (the caller reports it).
        return pa.nulls(len(arr), field.type)
    try:
        return _convert(arr, field)
    except NoConversion:
        raise BadInput(
            f"a column of type {arr.type} cannot be converted to {field.type}",
            where=where,
            hint="fix the source connector's column type or the schema's field type",
        ) from None


def _convert(arr: pa.Array, field: pa.Field) -> pa.Array:
    target = field.type
    metadata = field.metadata or {}
    if metadata.get(TYPE_KEY) == b"uuid":
        text = _to_string(arr, target)
        return pc.if_else(pc.fill_null(pc.match_substring_regex(text, _UUID), False), text, None)
    if pt.is_dictionary(target):
        return _to_enum(arr, json.loads(metadata[SYMBOLS_KEY]))
    if arr.type == target:
        return arr
    if pt.is_string(arr.type) and not (pt.is_string(target) or pt.is_binary(target)):
        arr = pc.utf8_trim_whitespace(arr)
    converter = _converter(target)
    return try_cast(arr, target, None) if converter is None else converter(arr, target)


def _plain(arr: pa.Array) -> pa.Array:
    """Decode dictionaries; large/view text and binary → their plain forms."""
    if pt.is_dictionary(arr.type):
        arr = arr.dictionary_decode()
    if pt.is_large_string(arr.type) or pt.is_string_view(arr.type):
        return pc.cast(arr, pa.string())
    if pt.is_large_binary(arr.type) or pt.is_binary_view(arr.type):
        return pc.cast(arr, pa.binary())
    return arr


def _to_decimal(arr: pa.Array, target: pa.DataType) -> pa.Array:
    if pt.is_string(arr.type):
        return _decimal_from_text(arr, target)
    if pt.is_integer(arr.type):
        wide = pc.cast(arr, pa.decimal128(38, 0))
        return try_cast(wide, target, lambda: _to_decimal(pc.cast(arr, pa.string()), target))
    if pt.is_decimal(arr.type):
        return try_cast(arr, target, lambda: _to_decimal(pc.cast(arr, pa.string()), target))
    if pt.is_floating(arr.type):  # Arrow's float→decimal cast rounds: go through text
        return _to_decimal(pc.cast(arr, pa.string()), target)
    raise NoConversion


def _decimal_from_text(text: pa.Array, target: pa.DataType) -> pa.Array:
    """The whole-column cast is trusted only on short texts without exponent: Arrow's
    parser loses digits silently past 38 fraction digits (see `decimal_text`)."""

    def checked() -> pa.Array:
        return pc.cast(decimal_text(text, target.precision, target.scale), target)

    # In bytes, not characters (a tenth of the cost): a text of at most 38 bytes has at most
    # 38 characters, and a longer one only takes the checked path, which is always right.
    longest = pc.max(pc.binary_length(text)).as_py() or 0
    if longest > 38 or _has_exponent_mark(text):
        return checked()
    return try_cast(text, target, checked)


def _has_exponent_mark(text: pa.Array) -> bool:
    """Whether an `e` or `E` occurs in the text's bytes: one scan of the data buffer (a
    regex per value took half of a decimal column's conversion). Bytes of null slots are
    scanned too: at worst the checked path is taken, which is always right."""
    if not pt.is_string(text.type) or not len(text):
        return bool(len(text)) and pc.any(pc.match_substring_regex(text, "[eE]")).as_py()
    offsets = np.frombuffer(text.buffers()[1], np.int32, len(text) + 1, text.offset * 4)
    data = text.buffers()[2]
    start, stop = int(offsets[0]), int(offsets[-1])
    if data is None or stop <= start:
        return False
    chars = np.frombuffer(data, np.uint8, stop - start, start)
    return bool(((chars | 0x20) == ord("e")).any())  # 0x45 "E" and 0x65 "e", nothing else


def _to_integer(arr: pa.Array, target: pa.DataType) -> pa.Array:
    info = (-(2 ** (target.bit_width - 1)), 2 ** (target.bit_width - 1) - 1)
    if pt.is_unsigned_integer(target):
        info = (0, 2**target.bit_width - 1)
    lo, hi = info
    if pt.is_integer(arr.type):
        return try_cast(arr, target, lambda: keep_valid(arr, _int_in_range(arr, lo, hi), target))
    if pt.is_floating(arr.type):

        def floats() -> pa.Array:
            whole = pc.and_(pc.is_finite(arr), pc.equal(pc.trunc(arr), arr))
            bounds = pc.and_(pc.greater_equal(arr, float(lo)), pc.less(arr, float(hi) + 1))
            return keep_valid(arr, pc.and_(whole, bounds), target)

        return try_cast(arr, target, floats)
    if pt.is_string(arr.type):
        text = arr

        def from_text() -> pa.Array:
            wide = pc.cast(decimal_text(text, 38, 0), pa.decimal128(38, 0))
            bounds = pc.and_(
                pc.greater_equal(wide, pa.scalar(Decimal(lo), pa.decimal128(38, 0))),
                pc.less_equal(wide, pa.scalar(Decimal(hi), pa.decimal128(38, 0))),
            )
            return keep_valid(wide, bounds, target)

        return try_cast(text, target, from_text)
    if pt.is_decimal(arr.type):
        return try_cast(arr, target, lambda: _to_integer(pc.cast(arr, pa.string()), target))
    if pt.is_boolean(arr.type):
        return pc.cast(arr, target)
    return try_cast(arr, target, None)


def _int_in_range(arr: pa.Array, lo: int, hi: int) -> pa.Array:
    """lo ≤ arr ≤ hi, with the bounds clipped to what the source type can hold."""
    if pt.is_unsigned_integer(arr.type):
        lo = max(lo, 0)
    source_max = (
        2**arr.type.bit_width - 1 if pt.is_unsigned_integer(arr.type) else 2 ** (arr.type.bit_width - 1) - 1
    )
    source_min = 0 if pt.is_unsigned_integer(arr.type) else -(2 ** (arr.type.bit_width - 1))
    lo, hi = max(lo, source_min), min(hi, source_max)
    return pc.and_(
        pc.greater_equal(arr, pa.scalar(lo, arr.type)), pc.less_equal(arr, pa.scalar(hi, arr.type))
    )


def _to_float(arr: pa.Array, target: pa.DataType) -> pa.Array:
    if pt.is_string(arr.type):
        text = arr
        result = try_cast(text, target, lambda: keep_valid(text, float_text_valid(text), target))
        overflow = pc.and_(pc.is_inf(result), pc.invert(pc.match_substring_regex(text, "(?i)inf")))
    elif pt.is_integer(arr.type):
        limit = 2**53 if target.bit_width == 64 else 2**24
        return try_cast(arr, target, lambda: keep_valid(arr, _int_in_range(arr, -limit, limit), target))
    elif pt.is_floating(arr.type) or pt.is_decimal(arr.type) or pt.is_boolean(arr.type):
        result = pc.cast(arr, target, safe=True)
        was_finite = pc.is_finite(arr) if pt.is_floating(arr.type) else pc.is_valid(arr)
        overflow = pc.and_(was_finite, pc.invert(pc.is_finite(result)))
    else:
        raise NoConversion
    return pc.if_else(pc.fill_null(overflow, False), None, result)


def _to_bool(arr: pa.Array, target: pa.DataType) -> pa.Array:
    if pt.is_string(arr.type):
        text = arr
        return try_cast(text, target, lambda: keep_valid(pc.utf8_lower(text), bool_text_valid(text), target))
    if pt.is_integer(arr.type):
        return keep_valid(arr, pc.is_in(arr, value_set=pa.array([0, 1], arr.type)), target)
    raise NoConversion


def _to_string(arr: pa.Array, target: pa.DataType) -> pa.Array:
    if pt.is_string(arr.type):
        return arr
    if pt.is_binary(arr.type) or pt.is_fixed_size_binary(arr.type):
        return try_cast(arr, target, lambda: keep_valid(arr, _utf8_valid(arr), target))
    if pt.is_nested(arr.type):
        raise NoConversion
    return try_cast(arr, target, None)


def _utf8_valid(arr: pa.Array) -> pa.Array:
    """Which values are valid UTF-8: Arrow has no such kernel, so this decodes each
    *distinct* value once (only reached when a binary column holds invalid text)."""
    distinct = pc.unique(arr).drop_null()
    good = [value for value in distinct.to_pylist() if _decodes(value)]
    return pc.is_in(arr, value_set=pa.array(good, arr.type))


def _decodes(value: bytes) -> bool:
    try:
        value.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _to_binary(arr: pa.Array, target: pa.DataType) -> pa.Array:
    if not (pt.is_string(arr.type) or pt.is_binary(arr.type) or pt.is_fixed_size_binary(arr.type)):
        raise NoConversion
    raw = hex_bytes(arr) if pt.is_string(arr.type) else pc.cast(arr, pa.binary())
    if pt.is_fixed_size_binary(target):
        return keep_valid(raw, pc.equal(pc.binary_length(raw), target.byte_width), target)
    return raw


def _enum_values(symbols: list[str]) -> pa.Array:
    return pa.array(symbols, pa.string())


def _to_enum(arr: pa.Array, symbols: list[str]) -> pa.Array:
    if not pt.is_string(arr.type):
        raise NoConversion
    indices = pc.cast(pc.index_in(arr, value_set=_enum_values(symbols)), pa.int32())
    return pa.DictionaryArray.from_arrays(indices, _enum_values(symbols))


def _converter(target: pa.DataType) -> Callable[[pa.Array, pa.DataType], pa.Array] | None:
    checks: list[tuple[Callable[[pa.DataType], bool], Callable[..., pa.Array]]] = [
        (pt.is_decimal, _to_decimal),
        (pt.is_integer, _to_integer),
        (pt.is_floating, _to_float),
        (pt.is_boolean, _to_bool),
        (pt.is_string, _to_string),
        (pt.is_binary, _to_binary),
        (pt.is_fixed_size_binary, _to_binary),
        (pt.is_timestamp, to_timestamp),
        (pt.is_date32, to_date),
        (pt.is_time, to_time),
    ]
    for check, converter in checks:
        if check(target):
            return converter
    return None
