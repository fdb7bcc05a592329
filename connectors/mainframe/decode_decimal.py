"""Decimal digits out of whole columns: zoned (every SIGN form), packed and edited numbers.

Each decoder takes a field's bytes as a uint8 matrix (records × bytes) and returns the
digit matrix (records × stored digits, most significant first), the negative flags, and
per record a failure code (`connectors.mainframe.field_codes`, None when none failed)
and the index within the field of the first offending byte. Python loops run over the
field's bytes, never over records.
"""

from __future__ import annotations

import numpy as np

from connectors.mainframe.code_pages import CodePage
from connectors.mainframe.field_codes import (
    BAD_EDITED,
    BAD_PACKED_DIGIT,
    BAD_PACKED_SIGN,
    BAD_ZONED_DIGIT,
    BAD_ZONED_SIGN,
    NEGATIVE_UNSIGNED,
    OK,
    TOO_MANY_DIGITS,
)
from connectors.mainframe.record_layout import LayoutField

Digits = tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None]


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


def zoned(cols: np.ndarray, field: LayoutField, page: CodePage) -> Digits:
    """Zoned decimal: the sign overpunched in the last (or, LEADING, the first) byte, or a
    separate '+'/'-' byte after (or before) the digits."""
    width = cols.shape[1]
    sign_form = field.sign if field.signed else "trailing"
    if sign_form.endswith("separate"):
        at = 0 if sign_form.startswith("leading") else width - 1
        body = cols[:, 1:] if at == 0 else cols[:, :-1]
        digits = body - np.uint8(page.zero)  # wraps: a byte outside zero..zero+9 becomes > 9
        marks = cols[:, at]
        sign = np.where(marks == page.plus, 1, np.where(marks == page.minus, -1, 0)).astype(np.int8)
        bad = digits > 9
        bad_digit = row_max(digits) > 9
        first_bad = bad.argmax(axis=1) + (1 if at == 0 else 0)
    else:
        at = 0 if sign_form == "leading" else width - 1
        digits = cols - np.uint8(page.zero)
        digits[:, at] = page.sign_digit[cols[:, at]]
        sign = page.sign_of[cols[:, at]]
        bad = digits > 9
        others = digits[:, 1:] if at == 0 else digits[:, :-1]
        bad_digit = row_max(others) > 9
        first_bad = bad.argmax(axis=1)
    bad_sign = sign == 0 if field.signed else sign != 1
    if not (bad_digit.any() or bad_sign.any()):
        return digits, sign < 0, None, None
    failure = np.where(bad_digit, BAD_ZONED_DIGIT, OK).astype(np.uint8)
    failure[~bad_digit & bad_sign] = BAD_ZONED_SIGN
    failure[~bad_digit & bad_sign & (sign == -1)] = NEGATIVE_UNSIGNED
    bad_byte = np.where(bad_digit, first_bad, at).astype(np.int64)
    digits[bad] = 0
    return digits, sign < 0, failure, bad_byte


def packed(cols: np.ndarray, field: LayoutField) -> Digits:
    """Packed decimal (COMP-3): two digits a byte, the sign in the last nibble (C, F +; D -)."""
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


def edited(cols: np.ndarray, field: LayoutField, page: CodePage) -> Digits:
    """A numeric-edited field read back as a number, position by position of its picture:
    digits where 9, Z, * or a floating $ + - stand (a space, '*' or the floating symbol
    there is a suppressed zero), the point and commas where they stand (or blanked), the
    sign from '-', CR, DB, or an S overpunch or separate sign."""
    n, width = cols.shape
    signed_s = field.picture.startswith("S")
    roles = field.picture[1:] if signed_s else field.picture
    separate = signed_s and field.sign.endswith("separate")
    offset = 1 if separate and field.sign.startswith("leading") else 0
    chars = page.ascii[cols]  # the ASCII code of each byte's character (0 when not ASCII)
    floating = {s for s in "+-$" if roles.count(s) > 1}
    first_float = {s: roles.index(s) for s in floating}
    digit_positions = [
        j for j, r in enumerate(roles) if r in "9Z*" or (r in floating and j != first_float[r])
    ]
    overpunch = None
    if signed_s and not separate:
        overpunch = digit_positions[0] if field.sign == "leading" else digit_positions[-1]
    fill = np.zeros(256, dtype=bool)
    fill[[ord(c) for c in " *" + "".join(floating) + ("$" if "$" in roles else "")]] = True
    is_digit = (chars >= ord("0")) & (chars <= ord("9"))
    digits = np.zeros((n, len(digit_positions)), dtype=np.uint8)
    bad = np.zeros((n, width), dtype=bool)
    negative = np.zeros(n, dtype=bool)
    for k, j in enumerate(digit_positions):
        at = j + offset
        if j == overpunch:
            punched = page.sign_digit[cols[:, at]]
            digits[:, k] = np.where(punched <= 9, punched, 0)
            bad[:, at] = punched > 9
            negative |= page.sign_of[cols[:, at]] < 0
            continue
        digits[:, k] = np.where(is_digit[:, at], chars[:, at] - ord("0"), 0)
        bad[:, at] = ~(is_digit[:, at] | fill[chars[:, at]])
        negative |= chars[:, at] == ord("-")
    for j, role in enumerate(roles):
        if j in digit_positions:
            continue
        ch = chars[:, j + offset]
        if role in "+-":  # a sign position (or the first of a floating sign string)
            ok = (ch == ord("+")) | (ch == ord("-")) | (ch == ord(" "))
            negative |= ch == ord("-")
        else:
            expected = ord({"c": "C", "r": "R", "d": "D", "b": "B"}.get(role, role))
            ok = (ch == expected) | fill[ch]
            negative |= ch == ord("-")  # a floating minus may land on an insertion position
            if role in "cd":
                negative |= ch == expected
        bad[:, j + offset] = ~ok
    if separate:
        at = 0 if offset else width - 1
        bad[:, at] = (cols[:, at] != page.plus) & (cols[:, at] != page.minus)
        negative |= cols[:, at] == page.minus
    rows = row_max(bad.view(np.uint8)) > 0
    if not rows.any():
        return digits, negative, None, None
    failure = np.where(rows, BAD_EDITED, OK).astype(np.uint8)
    digits[rows] = 0
    return digits, negative & ~rows, failure, bad.argmax(axis=1).astype(np.int64)
