"""Decoding one field of many records at once: text, zoned, packed and binary columns.

Input is the field's bytes as a uint8 matrix (records × field length); output is an Arrow
array plus, per record, a failure code (index into `REASONS`, 0 = decoded) and the
index within the field of the first offending byte. Work is whole-column numpy: lookup
tables and arithmetic on the matrix; Python loops run over the field's bytes (at most
38 digits), never over records.

Nulls: a failed value is null. A zoned or packed field whose bytes are all the code
page's space is null too (the usual mainframe "no value"), and is not a failure.
Text keeps every character except trailing spaces and NULs (low-values); an all-space
text is the empty string, not null. Negative zero decodes as 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from connectors.mainframe.code_pages import CodePage, expand
from connectors.mainframe.record_layout import BINARY, MAX_INT64_DIGITS, PACKED, TEXT, ZONED, LayoutField
from govbus.errors import BadConfiguration

OK = 0
NOT_IN_CODE_PAGE = 1
BAD_ZONED_DIGIT = 2
BAD_ZONED_SIGN = 3
BAD_PACKED_DIGIT = 4
BAD_PACKED_SIGN = 5
NEGATIVE_UNSIGNED = 6
TOO_MANY_DIGITS = 7
SHORT_RECORD = 8
REASONS = (
    "",
    "byte not in the code page",
    "bad zoned digit",
    "bad zoned sign",
    "bad packed digit",
    "bad packed sign nibble",
    "negative sign in an unsigned field",
    "value exceeds the PIC digits",
    "the record ends inside the field",
)


@dataclass(frozen=True)
class FieldResult:
    """A decoded column: `values` (nulls where failed or blank) and per-record failures.

    `failure` (uint8, codes into REASONS) and `bad_byte` (int64, 0-based within the
    field) are None when no record failed.
    """

    values: pa.Array
    failure: np.ndarray | None
    bad_byte: np.ndarray | None


def decode_field(
    cols: np.ndarray, field: LayoutField, page: CodePage, short: np.ndarray | None = None
) -> FieldResult:
    """Decode `cols` (uint8, records × field.length) as `field` in `page`.

    `short` marks records that end inside the field (their bytes are padding): they fail
    with SHORT_RECORD; the caller knows which byte is missing and sets `bad_byte` for them.
    """
    n = cols.shape[0]
    value = digits = None
    if field.kind == TEXT:
        failure, bad_byte = _text_failures(cols, page)
    elif field.kind == BINARY:
        value, failure = _binary(cols, field)
        bad_byte = None if failure is None else np.zeros(n, dtype=np.int64)
        negative = value < 0
    else:
        digits, negative, failure, bad_byte = (_packed if field.kind == PACKED else _zoned)(cols, field, page)
    null = np.zeros(n, dtype=bool)
    if failure is not None:
        if field.kind in (ZONED, PACKED):  # all spaces: no value, not a failure
            rows = np.flatnonzero(failure)
            blank = rows[(cols[rows] == page.space).all(axis=1)]
            failure[blank] = OK
            null[blank] = True
        null |= failure != OK
    if short is not None and short.any():
        null |= short
        failure = np.zeros(n, dtype=np.uint8) if failure is None else failure
        bad_byte = np.zeros(n, dtype=np.int64) if bad_byte is None else bad_byte
        failure[short] = SHORT_RECORD
    if field.kind == TEXT:
        array = _text(cols, page, null)
    elif field.digits <= MAX_INT64_DIGITS:
        if value is None:
            value = _accumulate(digits)
            np.negative(value, out=value, where=negative)
        array = _from_int64(value, null, field.arrow_type)
    else:
        array = _decimal_from_digits(digits, negative, null, field.arrow_type)
    if failure is not None and not failure.any():
        failure = bad_byte = None
    return FieldResult(array, failure, bad_byte)


def _text_failures(cols: np.ndarray, page: CodePage) -> tuple[np.ndarray | None, np.ndarray | None]:
    if page.valid.all():
        return None, None
    rows = ~page.valid[row_max(cols)]  # the code pages' valid bytes are 0..k (ascii: 0..0x7F)
    if not rows.any():
        return None, None
    invalid = ~page.valid[cols]
    return rows.astype(np.uint8) * NOT_IN_CODE_PAGE, invalid.argmax(axis=1).astype(np.int64)


def _text(cols: np.ndarray, page: CodePage, null: np.ndarray) -> pa.Array:
    """UTF-8 strings of the characters up to the last one that is not a space or NUL."""
    n, width = cols.shape
    kept = ((cols | np.uint8(page.space)) != page.space).view(np.uint8)  # not space nor NUL
    if width < 256:
        kept *= np.arange(1, width + 1, dtype=np.uint8)  # in place: 1 + the byte's index, or 0
        keep = row_max(kept)  # 1 + the index of the last kept byte, 0 if none
    else:
        keep = row_max(kept * np.arange(1, width + 1, dtype=np.uint32))
    raw = cols[np.arange(width, dtype=keep.dtype) < keep[:, None]]
    data = np.frombuffer(raw.tobytes().translate(page.translate), dtype=np.uint8)
    row_ends = np.cumsum(keep, dtype=np.int64)
    zeros = data == 0
    if zeros.any() and (page.utf8_length[raw[zeros]] > 1).any():  # some character is not ASCII
        data, ends = expand(raw, page.utf8, page.utf8_length)
        row_ends = np.concatenate(([0], ends))[row_ends]
    if n and row_ends[-1] >= 2**31:
        raise BadConfiguration("a batch holds more than 2 GiB of text", where="batch_size", hint="lower it")
    offsets = np.zeros(n + 1, dtype=np.int32)
    offsets[1:] = row_ends
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(data), _validity(null))


def _zoned(
    cols: np.ndarray, field: LayoutField, page: CodePage
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Digit matrix, negative flags, failure codes and first bad byte of zoned decimals."""
    digits = cols - np.uint8(page.zero)  # wraps: a byte outside zero..zero+9 becomes > 9
    last = cols[:, -1]
    digits[:, -1] = page.last_digit[last]
    sign = page.last_sign[last]
    bad = digits > 9
    bad_digit = row_max(digits[:, :-1]) > 9
    bad_sign = sign == 0 if field.signed else sign != 1
    if not (bad_digit.any() or bad_sign.any()):
        return digits, sign < 0, None, None
    failure = np.where(bad_digit, BAD_ZONED_DIGIT, OK).astype(np.uint8)
    unsigned_negative = ~bad_digit & bad_sign & (sign == -1)
    failure[~bad_digit & bad_sign] = BAD_ZONED_SIGN
    failure[unsigned_negative] = NEGATIVE_UNSIGNED
    bad_byte = np.where(bad_digit, bad.argmax(axis=1), cols.shape[1] - 1).astype(np.int64)
    digits[bad] = 0
    return digits, sign < 0, failure, bad_byte


def _packed(
    cols: np.ndarray, field: LayoutField, page: CodePage
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Digit matrix, negative flags, failure codes and first bad byte of packed decimals."""
    n, length = cols.shape
    nibbles = np.empty((n, 2 * length), dtype=np.uint8)
    nibbles[:, 0::2] = cols >> 4
    nibbles[:, 1::2] = cols & 0x0F
    sign = nibbles[:, -1]
    body = nibbles[:, :-1]
    bad = body > 9
    bad_digit = row_max(body) > 9
    positive = (sign == 0x0F) | (sign == 0x0C)
    negative = sign == 0x0D
    excess = body.shape[1] - field.digits  # 1 when the digits are even: a leading pad nibble
    too_many = (body[:, 0] != 0) & ~bad_digit if excess else np.zeros(n, dtype=bool)
    bad_sign = ~(positive | negative)
    unsigned_negative = negative if not field.signed else np.zeros(n, dtype=bool)
    if not (bad_digit.any() or too_many.any() or bad_sign.any() or unsigned_negative.any()):
        return body[:, excess:], negative, None, None
    failure = np.zeros(n, dtype=np.uint8)
    failure[unsigned_negative] = NEGATIVE_UNSIGNED
    failure[bad_sign] = BAD_PACKED_SIGN
    failure[too_many] = TOO_MANY_DIGITS
    failure[bad_digit] = BAD_PACKED_DIGIT
    bad_byte = np.where(bad_digit, bad.argmax(axis=1) // 2, np.where(too_many, 0, length - 1))
    body = np.where(bad, np.uint8(0), body)
    return body[:, excess:], negative, failure, bad_byte.astype(np.int64)


def _binary(cols: np.ndarray, field: LayoutField) -> tuple[np.ndarray, np.ndarray | None]:
    """Big-endian integers as int64, and failures where they exceed the PIC digits."""
    n, length = cols.shape
    dtype = np.dtype(f">{'i' if field.signed else 'u'}{length}")
    raw = np.ascontiguousarray(cols).view(dtype).reshape(n)
    limit = 10**field.digits
    too_big = (raw >= limit) | (raw <= -limit) if field.signed else raw >= limit
    value = raw.astype(np.int64)
    if not too_big.any():
        return value, None
    value[too_big] = 0
    return value, too_big.astype(np.uint8) * TOO_MANY_DIGITS


def row_max(matrix: np.ndarray) -> np.ndarray:
    """The maximum of each row, by a loop over the (few) columns: numpy's reduction along
    short rows costs far more per row than one vectorized pass per column."""
    n, width = matrix.shape
    if width == 0:
        return np.zeros(n, dtype=matrix.dtype)
    result = matrix[:, 0].copy()
    for j in range(1, width):
        np.maximum(result, matrix[:, j], out=result)
    return result


def _accumulate(digits: np.ndarray) -> np.ndarray:
    """The unsigned integers whose decimal digits are the rows of `digits` (<= 18 columns)."""
    value = digits[:, 0].astype(np.int64)
    for j in range(1, digits.shape[1]):
        value *= 10
        value += digits[:, j]
    return value


def _validity(null: np.ndarray) -> pa.Buffer | None:
    if not null.any():
        return None
    return pa.py_buffer(np.packbits(~null, bitorder="little"))


def _from_int64(value: np.ndarray, null: np.ndarray, arrow_type: pa.DataType) -> pa.Array:
    """int64 as itself, or as the unscaled value of a decimal128 (two little-endian words)."""
    n = len(value)
    if arrow_type == pa.int64():
        return pa.Array.from_buffers(arrow_type, n, [_validity(null), pa.py_buffer(value)])
    words = np.empty((n, 2), dtype=np.int64)
    words[:, 0] = value
    words[:, 1] = value >> 63
    return pa.Array.from_buffers(arrow_type, n, [_validity(null), pa.py_buffer(words)])


def _decimal_from_digits(
    digits: np.ndarray, negative: np.ndarray, null: np.ndarray, arrow_type: pa.Decimal128Type
) -> pa.Array:
    """Decimals of more than 18 digits: "-123.45"-style text built in numpy, cast by Arrow."""
    n, count = digits.shape
    point = count - arrow_type.scale
    width = count + 1 + (1 if arrow_type.scale else 0)
    text = np.empty((n, width), dtype=np.uint8)
    text[:, 0] = np.where(negative, ord("-"), ord("+"))
    text[:, 1 : 1 + point] = digits[:, :point] + ord("0")
    if arrow_type.scale:
        text[:, 1 + point] = ord(".")
        text[:, 2 + point :] = digits[:, point:] + ord("0")
    fixed = pa.Array.from_buffers(pa.binary(width), n, [_validity(null), pa.py_buffer(text)])
    return fixed.cast(pa.binary()).cast(pa.string()).cast(arrow_type)
