"""What a COBOL PICTURE and USAGE make of an elementary item: its kind, bytes and digits.

Supported (IBM Enterprise COBOL storage rules):

    PIC X(n) / A(n) / mixed X, A, 9     text, n bytes
    PIC edited (Z, *, +, -, ., ',', $, B, 0, /, CR, DB)
                                        text, one byte per position (the edited characters)
    PIC [S]9(n)[V9(m)]  DISPLAY         zoned decimal, n+m bytes, sign overpunched in the last
    PIC [S]9(n)[V9(m)]  COMP-3          packed decimal, (n+m) // 2 + 1 bytes
                        PACKED-DECIMAL
    PIC [S]9(n)[V9(m)]  COMP, COMP-4,   big-endian binary: 1-4 digits 2 bytes, 5-9 4 bytes,
                        BINARY          10-18 8 bytes

Refused with a BadConfiguration (the caller adds the copybook line): P scaling, COMP-1 and
COMP-2 floats, COMP-5 (native binary, values beyond the PIC digits), NATIONAL, INDEX and
POINTER items, numbers of more than 38 digits.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from connectors.mainframe.record_layout import BINARY, MAX_DIGITS, PACKED, TEXT, ZONED

DISPLAY_USAGE = "display"
PACKED_USAGE = "packed"
BINARY_USAGE = "binary"
USAGES = {
    "DISPLAY": DISPLAY_USAGE,
    "COMP": BINARY_USAGE,
    "COMPUTATIONAL": BINARY_USAGE,
    "COMP-4": BINARY_USAGE,
    "COMPUTATIONAL-4": BINARY_USAGE,
    "BINARY": BINARY_USAGE,
    "COMP-3": PACKED_USAGE,
    "COMPUTATIONAL-3": PACKED_USAGE,
    "PACKED-DECIMAL": PACKED_USAGE,
}
UNSUPPORTED_USAGES = {
    "COMP-1": "a single-precision float",
    "COMPUTATIONAL-1": "a single-precision float",
    "COMP-2": "a double-precision float",
    "COMPUTATIONAL-2": "a double-precision float",
    "COMP-5": "native binary (values may exceed the PIC digits)",
    "COMPUTATIONAL-5": "native binary (values may exceed the PIC digits)",
    "NATIONAL": "UTF-16 text",
    "DISPLAY-1": "DBCS text",
    "INDEX": "an index item",
    "POINTER": "a pointer",
    "PROCEDURE-POINTER": "a pointer",
    "FUNCTION-POINTER": "a pointer",
}
_MAX_REPEAT = 65_535
_SYMBOLS = re.compile(r"([^()\s])(?:\((\d+)\))?")
_EDITED = set("9ZB0/,.+-*$CRDV")


class PictureError(ValueError):
    """A PICTURE/USAGE the parser refuses; the message says why, without the copybook line."""


@dataclass(frozen=True)
class Storage:
    """How an elementary item is stored: kind (record_layout's), bytes, and numeric shape."""

    kind: str
    length: int
    digits: int = 0
    scale: int = 0
    signed: bool = False


def storage(picture: str, usage: str | None) -> Storage:
    """The storage of an item with this PICTURE string and usage (None means DISPLAY)."""
    expanded = _expand(picture)
    signed = expanded.startswith("S")
    body = expanded[1:] if signed else expanded
    usage = usage or DISPLAY_USAGE
    if body and set(body) <= {"9", "V"} and body.count("V") <= 1 and "9" in body:
        digits = body.count("9")
        scale = len(body) - body.index("V") - 1 if "V" in body else 0
        return _numeric(digits, scale, signed, usage)
    if "P" in body:
        raise PictureError(f"PIC {picture}: P (decimal scaling) positions are not supported")
    if signed:
        raise PictureError(f"PIC {picture}: S is only allowed before 9 and V")
    if usage != DISPLAY_USAGE:
        raise PictureError(f"PIC {picture}: only a numeric PIC (9, S, V) can be COMP or COMP-3")
    if body and set(body) <= {"X", "A", "9"}:
        return Storage(TEXT, len(body))
    if body and set(body) <= _EDITED:
        return Storage(TEXT, len(body) - body.count("V"))
    raise PictureError(f"PIC {picture}: not a supported picture string")


def _numeric(digits: int, scale: int, signed: bool, usage: str) -> Storage:
    if digits > MAX_DIGITS:
        raise PictureError(f"a number of {digits} digits is longer than the {MAX_DIGITS} supported")
    if usage == PACKED_USAGE:
        return Storage(PACKED, digits // 2 + 1, digits, scale, signed)
    if usage == BINARY_USAGE:
        if digits > 18:
            raise PictureError(f"a binary (COMP) number holds at most 18 digits, not {digits}")
        length = 2 if digits <= 4 else 4 if digits <= 9 else 8
        return Storage(BINARY, length, digits, scale, signed)
    return Storage(ZONED, digits, digits, scale, signed)


def _expand(picture: str) -> str:
    """X(3)9V99 -> XXX9V99, upper-cased; refuses what is not a run of symbols and counts."""
    text = picture.upper()
    parts = []
    consumed = 0
    for match in _SYMBOLS.finditer(text):
        if match.start() != consumed:
            break
        count = int(match.group(2)) if match.group(2) else 1
        if not 1 <= count <= _MAX_REPEAT:
            raise PictureError(f"PIC {picture}: a repeat count must be 1 to {_MAX_REPEAT}")
        parts.append(match.group(1) * count)
        consumed = match.end()
    if not text or consumed != len(text):
        raise PictureError(f"PIC {picture}: not a picture string (symbols with optional (n) counts)")
    return "".join(parts)
