"""Decoding one field of many records at once: text, zoned, packed, edited, binary and float.

Input is the field's bytes as a uint8 matrix (records × field length); output is an Arrow
array plus, per record, a failure code (`connectors.mainframe.field_codes`, 0 = decoded)
and the index within the field of the first offending byte. Work is whole-column numpy:
lookup tables and arithmetic on the matrix; Python loops run over the field's bytes (at
most 38 digits), never over records.

What a failure, a blank number and a short record become follows the field's
`FieldPolicy` and the file's `DecodeOptions` (`connectors.mainframe.decode_options`):
by default a failed value is null and reported (the record is rejected), a zoned, packed
or edited number whose bytes are all the code page's space is null and not a failure,
and a field the record does not reach is reported. Text keeps every character except, by
default, trailing spaces and NULs (low-values); an all-space text is "", not null.
Negative zero decodes as 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from connectors.mainframe.arrow_build import decimal_from_digits, from_int64, from_words, text_array, validity
from connectors.mainframe.code_pages import CodePage
from connectors.mainframe.decode_binary import binary, floating
from connectors.mainframe.decode_decimal import edited, packed, row_max, zoned
from connectors.mainframe.decode_options import DEFAULT_OPTIONS, DecodeOptions
from connectors.mainframe.field_codes import BLANK_NUMBER, NOT_IN_CODE_PAGE, OK, SHORT_RECORD
from connectors.mainframe.record_layout import (
    BINARY,
    EDITED,
    FLOAT,
    MAX_INT64_DIGITS,
    PACKED,
    TEXT,
    LayoutField,
)


@dataclass(frozen=True)
class FieldResult:
    """A decoded column: `values` (nulls where failed, blank or absent) and the failures
    that reject the record under the field's policy.

    `failure` (uint8 codes) and `bad_byte` (int64, 0-based within the field) are None
    when no record failed that way.
    """

    values: pa.Array
    failure: np.ndarray | None
    bad_byte: np.ndarray | None


def decode_field(
    cols: np.ndarray,
    field: LayoutField,
    page: CodePage,
    short: np.ndarray | None = None,
    options: DecodeOptions = DEFAULT_OPTIONS,
    absent: np.ndarray | None = None,
) -> FieldResult:
    """Decode `cols` (uint8, records × field.length) as `field` in `page`.

    `short` marks records that end inside the field (their missing bytes are 0) and
    `absent` records that do not hold the field at all (an OCCURS DEPENDING ON occurrence
    past the count, or a REDEFINES view their segment does not use): absent fields are
    null and never fail; short ones follow `options.short_record`. The caller knows which
    byte is missing and sets `bad_byte` for SHORT_RECORD failures.
    """
    n = cols.shape[0]
    policy = options.policy_of(field.name)
    value = words = digits = negative = floats = None
    if field.kind == TEXT:
        failure, bad_byte = _text_failures(cols, page)
    elif field.kind == BINARY:
        column = binary(cols, field)
        value, words, failure = column.value, column.words, column.failure
        bad_byte = None if failure is None else np.zeros(n, dtype=np.int64)
    elif field.kind == FLOAT:
        floats, failure = floating(cols, field, options.float_format)
        bad_byte = None if failure is None else np.zeros(n, dtype=np.int64)
    elif field.kind == PACKED:
        digits, negative, failure, bad_byte = packed(cols, field)
    elif field.kind == EDITED:
        digits, negative, failure, bad_byte = edited(cols, field, page)
    else:
        digits, negative, failure, bad_byte = zoned(cols, field, page)
    if failure is None and absent is None and (short is None or not short.any()) and field.kind != EDITED:
        none = np.zeros(n, dtype=bool)  # the common case: every value decoded
        array = _array(cols, field, page, options, none, none, value, words, digits, negative, floats)
        return FieldResult(array, None, None)
    failure = np.zeros(n, dtype=np.uint8) if failure is None else failure
    bad_byte = np.zeros(n, dtype=np.int64) if bad_byte is None else bad_byte
    null = np.zeros(n, dtype=bool)
    zero = np.zeros(n, dtype=bool)
    if digits is not None:  # zoned, packed, edited: an all-space number is blank
        rows = np.flatnonzero(failure) if field.kind != EDITED else np.arange(n)  # spaces fail unless edited
        blank = np.zeros(n, dtype=bool)
        blank[rows[(cols[rows] == page.space).all(axis=1)]] = True
        if blank.any():
            failure[blank] = OK
            blank_policy = "zero" if field.blank_when_zero else policy.blank
            if blank_policy == "reject":
                failure[blank], bad_byte[blank] = BLANK_NUMBER, 0
            else:
                (zero if blank_policy == "zero" else null)[blank] = True
    if short is not None and short.any():
        failure[short] = OK
        if options.short_record == "reject":
            failure[short] = SHORT_RECORD
        elif options.short_record == "null" or field.kind != TEXT:
            null |= short
        zero[short] = False
    failed = failure != OK
    if failed.any() and policy.bad_value != "reject":
        bad_value = failed & (failure != SHORT_RECORD)
        (zero if policy.bad_value == "zero" else null)[bad_value] = True
        failure[bad_value] = OK
        failed = failure != OK
    null |= failed
    if absent is not None:
        null |= absent
        failure[absent] = OK
    zero &= ~null
    array = _array(cols, field, page, options, null, zero, value, words, digits, negative, floats)
    if not failure.any():
        return FieldResult(array, None, None)
    return FieldResult(array, failure, bad_byte)


def _array(
    cols: np.ndarray,
    field: LayoutField,
    page: CodePage,
    options: DecodeOptions,
    null: np.ndarray,
    zero: np.ndarray,
    value: np.ndarray | None,
    words: np.ndarray | None,
    digits: np.ndarray | None,
    negative: np.ndarray | None,
    floats: np.ndarray | None,
) -> pa.Array:
    """The Arrow column: nulls where `null`, 0 (or "") where `zero`."""
    if field.kind == TEXT:
        return text_array(cols, page, options.text_trim, null=null, empty=zero)
    if floats is not None:
        floats = np.where(zero, 0, floats).astype(floats.dtype)
        return pa.Array.from_buffers(field.arrow_type, len(floats), [validity(null), pa.py_buffer(floats)])
    arrow_type = field.arrow_type
    if digits is not None:
        assert negative is not None
        if zero.any():
            digits = np.where(zero[:, None], np.uint8(0), digits)
            negative = negative & ~zero
        if field.scaling:
            digits = np.concatenate([digits, np.zeros((len(digits), field.scaling), dtype=np.uint8)], axis=1)
        if digits.shape[1] <= MAX_INT64_DIGITS:
            value = _accumulate(digits)
            np.negative(value, out=value, where=negative)
        else:
            return decimal_from_digits(digits, negative, null, arrow_type)
    if words is not None:
        return from_words(np.where(zero[:, None], 0, words), null, arrow_type, field.scaling)
    assert value is not None
    value = np.where(zero, 0, value)
    if field.kind == BINARY and field.scaling:
        return from_words(np.stack([value, value >> 63], axis=1), null, arrow_type, field.scaling)
    return from_int64(value, null, arrow_type)


def _text_failures(cols: np.ndarray, page: CodePage) -> tuple[np.ndarray | None, np.ndarray | None]:
    if page.valid.all():
        return None, None
    rows = ~page.valid[row_max(cols)]  # the code pages' valid bytes are 0..k (ascii: 0..0x7F)
    if not rows.any():
        return None, None
    invalid = ~page.valid[cols]
    return rows.astype(np.uint8) * NOT_IN_CODE_PAGE, invalid.argmax(axis=1).astype(np.int64)


def _accumulate(digits: np.ndarray) -> np.ndarray:
    """The unsigned integers whose decimal digits are the rows of `digits` (<= 18 columns)."""
    if digits.shape[1] == 0:
        return np.zeros(len(digits), dtype=np.int64)
    value = digits[:, 0].astype(np.int64)
    for j in range(1, digits.shape[1]):
        value *= 10
        value += digits[:, j]
    return value
