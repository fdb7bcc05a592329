"""Binary integers (COMP, COMP-4, COMP-5, COMP-9, more than 18 digits) and floating point
(COMP-1, COMP-2) out of whole columns.

Binary: big-endian two's complement (COMP-9: little-endian), 1 to 16 bytes. COMP and
COMP-4 values must stay within the PIC digits (IBM's TRUNC(STD) view of the data):
a larger value is "value exceeds the PIC digits"; COMP-5 takes any value the bytes hold.
Up to 8 bytes the value is an int64 (an unsigned 8-byte value beyond int64 and every
longer field become 128-bit words: little-endian (low, high) int64 pairs, decimal128's
layout).

Floating point: IBM hexadecimal (System/360) by default: a sign bit, a 7-bit exponent of
16 biased by 64 and a 24-bit (COMP-1) or 56-bit (COMP-2) fraction. COMP-1 is computed
exactly in float64 and rounded once to float32 (a value beyond float32's range is
"value beyond the range of a single-precision float"); COMP-2's 56-bit fraction is rounded
once to float64's 53 bits (round to nearest, ties to even) and scaled exactly. A negative
zero reads as 0. IEEE 754 formats are read as they are.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from connectors.mainframe.field_codes import FLOAT_RANGE, TOO_MANY_DIGITS
from connectors.mainframe.record_layout import LayoutField

_FLOAT32_MAX = float(np.finfo(np.float32).max)


@dataclass(frozen=True)
class BinaryColumn:
    """Decoded integers: `value` (int64) when every value fits, else `words` (n × 2 int64,
    decimal128's little-endian layout); `failure` (codes) is None when none failed."""

    value: np.ndarray | None
    words: np.ndarray | None
    failure: np.ndarray | None


def binary(cols: np.ndarray, field: LayoutField) -> BinaryColumn:
    """The integers of a binary field (the PIC digits checked unless COMP-5)."""
    n, length = cols.shape
    data = np.ascontiguousarray(cols[:, ::-1] if field.little_endian else cols)  # now big-endian
    if length in (1, 2, 4, 8) and not (length == 8 and not field.signed and field.native):
        raw = data.view(np.dtype(f">{'i' if field.signed else 'u'}{length}")).reshape(n)
        if field.native:
            return BinaryColumn(raw.astype(np.int64), None, None)
        limit = 10**field.digits
        too_big = (raw >= limit) | (raw <= -limit) if field.signed else raw >= limit
        value = np.where(too_big, 0, raw).astype(np.int64)
        return BinaryColumn(
            value, None, too_big.astype(np.uint8) * TOO_MANY_DIGITS if too_big.any() else None
        )
    high, low = _words(data, field.signed)
    failure = None
    if not field.native or 2 ** (8 * length) > 10**field.digits:  # COMP-5 of 16 bytes: 38 digits at most
        too_big = _magnitude_at_least(high, low, 10**field.digits)
        if too_big.any():
            failure = too_big.astype(np.uint8) * TOO_MANY_DIGITS
            high, low = np.where(too_big, 0, high), np.where(too_big, np.uint64(0), low)
    words = np.empty((n, 2), dtype=np.int64)
    words[:, 0] = low.view(np.int64)
    words[:, 1] = high
    return BinaryColumn(None, words, failure)


def _words(data: np.ndarray, signed: bool) -> tuple[np.ndarray, np.ndarray]:
    """(high int64, low uint64) of big-endian integers of up to 16 bytes, sign-extended."""
    n, length = data.shape
    padded = np.zeros((n, 16), dtype=np.uint8)
    if signed:
        padded[:, : 16 - length] = np.where(data[:, :1] >= 0x80, 0xFF, 0x00).astype(np.uint8)
    padded[:, 16 - length :] = data
    high = padded[:, :8].copy().view(">i8").reshape(n).astype(np.int64)
    low = padded[:, 8:].copy().view(">u8").reshape(n).astype(np.uint64)
    return high, low


def _magnitude_at_least(high: np.ndarray, low: np.ndarray, limit: int) -> np.ndarray:
    """|value| >= limit for 128-bit two's complement values (vectorized, uint64 halves)."""
    negative = high < 0
    mag_low = np.where(negative, ~low + np.uint64(1), low)
    carry = negative & (mag_low == 0)
    mag_high = np.where(negative, ~high.view(np.uint64) + carry.astype(np.uint64), high.view(np.uint64))
    limit_high, limit_low = np.uint64(limit >> 64), np.uint64(limit & (2**64 - 1))
    return (mag_high > limit_high) | ((mag_high == limit_high) & (mag_low >= limit_low))


def floating(cols: np.ndarray, field: LayoutField, float_format: str) -> tuple[np.ndarray, np.ndarray | None]:
    """float32 (4 bytes) or float64 (8 bytes) values, and failures (COMP-1 out of range)."""
    n, length = cols.shape
    little = float_format.endswith("little_endian")
    data = np.ascontiguousarray(cols[:, ::-1] if little else cols)
    if float_format.startswith("ieee754"):
        return data.view(f">f{length}").reshape(n).astype(f"f{length}"), None
    word = data.view(f">u{length}").reshape(n).astype(np.uint64)
    bits = 8 * length
    negative = (word >> np.uint64(bits - 1)) & np.uint64(1)
    exponent = ((word >> np.uint64(bits - 8)) & np.uint64(0x7F)).astype(np.int64)
    fraction = word & np.uint64((1 << (bits - 8)) - 1)
    value = np.ldexp(fraction.astype(np.float64), 4 * (exponent - 64) - (bits - 8))  # one rounding
    value = np.where(negative.astype(bool), -value, value) + 0.0  # -0.0 + 0.0 is 0.0
    if length == 8:
        return value, None
    too_big = np.abs(value) > _FLOAT32_MAX
    if too_big.any():
        value = np.where(too_big, 0.0, value)
        return value.astype(np.float32), too_big.astype(np.uint8) * FLOAT_RANGE
    return value.astype(np.float32), None
