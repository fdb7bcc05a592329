"""Vectorized checks and parsers for values that arrive as text.

Each function takes a whole `pa.StringArray` (already trimmed of surrounding whitespace)
and returns either a validity mask (true = the value converts exactly) or the parsed
values with null where a value does not parse. No Python loop over rows: regular
expressions (RE2), string kernels and integer arithmetic of `pyarrow.compute`.

Decimal text follows Arrow's own decimal syntax (`[+-]digits[.digits][e[+-]digits]`,
either side of the point may be empty but not both), so a value this module calls valid
is one `pc.cast` converts.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

_DECIMAL = r"^[+-]?(?P<int>[0-9]*)(?:\.(?P<frac>[0-9]*))?(?:[eE](?P<exp>[+-]?[0-9]{1,4}))?$"
_FLOAT = r"^[+-]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|(?i:inf|infinity|nan))$"
_BOOL = ["true", "false", "1", "0"]
_TIMESTAMP = (
    r"^(?P<date>[0-9]{4}-[0-9]{2}-[0-9]{2})"
    r"(?:[T ](?P<hh>[0-9]{2})(?::(?P<mm>[0-9]{2})(?::(?P<ss>[0-9]{2})(?:[.,](?P<frac>[0-9]{1,9}))?)?)?)?"
    r"(?P<tz>[Zz]|[+-][0-9]{2}(?::?[0-9]{2})?)?$"
)
_TIME = r"^(?P<hh>[0-9]{2}):(?P<mm>[0-9]{2})(?::(?P<ss>[0-9]{2})(?:\.(?P<frac>[0-9]{1,9}))?)?$"
_DATE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
_DIGITS = {"s": 0, "ms": 3, "us": 6, "ns": 9}
INT64_MAX = 2**63 - 1


def _int(strings: pa.Array, empty: int = 0) -> pa.Array:
    """Digits → int64; the empty string (an absent optional group) → `empty`."""
    return pc.cast(pc.if_else(pc.equal(strings, ""), str(empty), strings), pa.int64())


def decimal_text(text: pa.Array, precision: int, scale: int) -> pa.Array:
    """Canonical text (`[-]core e E`) of each value that decimal(precision, scale) holds
    exactly; null for any other value.

    The value is written as core × 10^E with `core` free of leading and trailing zeros
    (n digits); it fits iff it needs at most `scale` fraction digits (-E ≤ scale) and
    at most `precision` digits in all (n + E + scale ≤ precision). Casting the canonical
    text instead of the original matters: Arrow's own parser silently drops digits of a
    text with more than 38 fraction digits (`0.000…01` → 0), which this form never has.
    """
    parts = pc.extract_regex(text, _DECIMAL)
    integer = pc.struct_field(parts, "int")
    fraction = pc.struct_field(parts, "frac")
    has_digit = pc.greater(pc.add(pc.utf8_length(integer), pc.utf8_length(fraction)), 0)
    exponent = _int(pc.replace_substring(pc.struct_field(parts, "exp"), "+", ""))
    digits = pc.utf8_ltrim(pc.binary_join_element_wise(integer, fraction, ""), "0")
    core = pc.utf8_rtrim(digits, "0")
    n = pc.cast(pc.utf8_length(core), pa.int64())
    trailing = pc.subtract(pc.utf8_length(digits), pc.utf8_length(core))
    e = pc.add(pc.subtract(exponent, pc.utf8_length(fraction)), pc.cast(trailing, pa.int64()))
    fits = pc.and_(
        pc.less_equal(pc.negate(e), scale),
        pc.less_equal(pc.add(pc.add(n, e), scale), precision),
    )
    zero = pc.equal(n, 0)
    valid = pc.fill_null(pc.and_(has_digit, pc.or_(zero, fits)), False)
    sign = pc.if_else(pc.starts_with(text, "-"), "-", "")
    canonical = pc.binary_join_element_wise(sign, core, "e", pc.cast(e, pa.string()), "")
    return pc.if_else(valid, pc.if_else(zero, "0", canonical), None)


def float_text_valid(text: pa.Array) -> pa.Array:
    """True where `text` is a floating-point literal Arrow parses (incl. inf and nan)."""
    return pc.fill_null(pc.match_substring_regex(text, _FLOAT), False)


def bool_text_valid(text: pa.Array) -> pa.Array:
    """True where `text` is true/false/1/0 in any letter case."""
    return pc.fill_null(pc.is_in(pc.utf8_lower(text), value_set=pa.array(_BOOL)), False)


def _fraction(frac: pa.Array, unit: str) -> tuple[pa.Array, pa.Array]:
    """Fraction-of-second digits → (count of `unit`, exact?); digits past `unit` must be 0."""
    keep = _DIGITS[unit]
    padded = pc.utf8_rpad(frac, width=9, padding="0")
    exact = pc.match_substring_regex(pc.utf8_slice_codeunits(padded, keep, 9), r"^0*$")
    if keep == 0:
        return pa.repeat(pa.scalar(0, pa.int64()), len(frac)), exact
    return _int(pc.utf8_slice_codeunits(padded, 0, keep)), exact


def _calendar_seconds(date: pa.Array, hh: pa.Array, mm: pa.Array, ss: pa.Array) -> pa.Array:
    """Epoch seconds of a naive date and time; null unless it is a real calendar instant.

    `strptime` rolls Feb 30 over into March, so each value is printed back and compared.
    """
    base = pc.binary_join_element_wise(date, "T", hh, ":", mm, ":", ss, "")
    parsed = pc.strptime(base, format="%Y-%m-%dT%H:%M:%S", unit="s", error_is_null=True)
    same = pc.equal(pc.strftime(parsed, format="%Y-%m-%dT%H:%M:%S"), base)
    return pc.if_else(pc.fill_null(same, False), pc.cast(parsed, pa.int64()), None)


def _or_default(strings: pa.Array, default: str) -> pa.Array:
    return pc.if_else(pc.equal(strings, ""), default, strings)


def parse_timestamp_text(text: pa.Array, unit: str, zoned: bool) -> pa.Array:
    """ISO-8601 text → int64 count of `unit` since the epoch (UTC); null where invalid.

    Accepts `YYYY-MM-DD[( |T)hh[:mm[:ss[.fraction]]]][Z|±hh[[:]mm]]`. For a zoned target
    (timestamp with tz UTC) an offset is applied and a value without one is taken as UTC.
    For a local (zone-less) target a value with an offset is invalid: its local time is
    unknown. Digits finer than `unit` must be zeros (no silent truncation).
    """
    parts = pc.extract_regex(text, _TIMESTAMP)
    hh, mm, ss = (_or_default(pc.struct_field(parts, name), "00") for name in ("hh", "mm", "ss"))
    seconds = _calendar_seconds(pc.struct_field(parts, "date"), hh, mm, ss)
    fraction, exact = _fraction(pc.struct_field(parts, "frac"), unit)
    tz = pc.struct_field(parts, "tz")
    offset_text = pc.replace_substring(pc.utf8_slice_codeunits(tz, 1, 6), ":", "")
    offset_h = _int(pc.utf8_slice_codeunits(offset_text, 0, 2))
    offset_m = _int(pc.utf8_slice_codeunits(offset_text, 2, 4))
    sign = pc.if_else(pc.starts_with(tz, "-"), -1, 1)
    offset_s = pc.multiply(sign, pc.add(pc.multiply(offset_h, 3600), pc.multiply(offset_m, 60)))
    plain = pc.is_in(tz, value_set=pa.array(["", "Z", "z"]))
    offset_ok = pc.or_(plain, pc.and_(pc.less_equal(offset_h, 23), pc.less_equal(offset_m, 59)))
    if not zoned:
        offset_ok = pc.equal(tz, "")
    factor = 10 ** _DIGITS[unit]
    limit = INT64_MAX // factor - 2 * 86400
    in_range = pc.less_equal(pc.abs(seconds), limit)
    valid = pc.fill_null(pc.and_(pc.and_(exact, offset_ok), in_range), False)
    utc_seconds = pc.subtract(seconds, pc.if_else(plain, 0, offset_s))
    value = pc.add(pc.multiply(utc_seconds, factor), fraction)
    return pc.if_else(valid, value, None)


def parse_date_text(text: pa.Array) -> pa.Array:
    """`YYYY-MM-DD` → date32; null where it is not a real calendar date."""
    ok = pc.fill_null(pc.match_substring_regex(text, _DATE), False)
    date = pc.if_else(ok, text, None)
    zero = pa.repeat(pa.scalar("00"), len(text))
    seconds = _calendar_seconds(date, zero, zero, zero)
    return pc.cast(pc.cast(pc.divide(seconds, 86400), pa.int32()), pa.date32())


def parse_time_text(text: pa.Array, unit: str) -> pa.Array:
    """`hh:mm[:ss[.fraction]]` → int64 count of `unit` since midnight; null where invalid."""
    parts = pc.extract_regex(text, _TIME)
    hh, mm, ss = (_int(pc.struct_field(parts, name)) for name in ("hh", "mm", "ss"))
    fraction, exact = _fraction(pc.struct_field(parts, "frac"), unit)
    in_range = pc.and_(pc.and_(pc.less_equal(hh, 23), pc.less_equal(mm, 59)), pc.less_equal(ss, 59))
    valid = pc.fill_null(pc.and_(in_range, exact), False)
    seconds = pc.add(pc.add(pc.multiply(hh, 3600), pc.multiply(mm, 60)), ss)
    value = pc.add(pc.multiply(seconds, 10 ** _DIGITS[unit]), fraction)
    return pc.if_else(valid, value, None)


_HEX = r"^(?:[0-9a-fA-F]{2})*$"
_NIBBLE = np.full(256, 0, dtype=np.uint8)
for _code in range(256):
    _char = chr(_code)
    if _char in "0123456789abcdefABCDEF":
        _NIBBLE[_code] = int(_char, 16)


def hex_bytes(text: pa.Array) -> pa.Array:
    """Hexadecimal text (`00ff`, either case, surrounding whitespace ignored) → binary;
    null where a value is not an even number of hex digits.

    It is the text form GovBus's CSV and JSON Lines sinks write binary in. Decoded in one
    numpy pass over the string buffer: with every invalid value blanked, the digits of
    the valid ones lie back to back in pairs, so byte i of the result is built from
    digits 2i and 2i+1 and each value's offsets halve.
    """
    trimmed = pc.utf8_trim_whitespace(text)
    valid = pc.fill_null(pc.match_substring_regex(trimmed, _HEX), False)
    kept = pc.if_else(valid, trimmed, "")
    kept = kept.combine_chunks() if isinstance(kept, pa.ChunkedArray) else kept
    kept = pa.concat_arrays([kept.cast(pa.string())])  # a fresh, unsliced array
    _, offsets_buffer, data_buffer = kept.buffers()
    offsets = np.frombuffer(offsets_buffer, dtype=np.int32)[: len(kept) + 1]
    start, end = int(offsets[0]), int(offsets[-1])
    digits = (
        np.frombuffer(data_buffer, dtype=np.uint8)[start:end]
        if data_buffer is not None
        else np.zeros(0, np.uint8)
    )
    nibbles = _NIBBLE[digits]
    data = (nibbles[0::2] << 4) | nibbles[1::2]
    halves = ((offsets - start) // 2).astype(np.int32)
    decoded = pa.Array.from_buffers(
        pa.binary(), len(kept), [None, pa.py_buffer(halves.tobytes()), pa.py_buffer(data.tobytes())]
    )
    return pc.if_else(pc.and_(valid, pc.is_valid(text)), decoded, None)
