"""What a COBOL PICTURE, USAGE and SIGN make of an elementary item: kind, bytes and digits.

Supported (IBM Enterprise COBOL storage rules unless said otherwise):

    PIC X(n) / A(n) / mixed X, A, 9     text, n bytes
    PIC [S]9(n)[V9(m)]  DISPLAY         zoned decimal, n+m bytes, sign overpunched in the last
                                        byte; SIGN IS LEADING overpunches the first; SIGN …
                                        SEPARATE adds a '+'/'-' byte before or after
    P (decimal scaling)                 PIC 9(3)PP: the digits times 100; PIC PP9(3) or
                                        VPP9(3): the digits are thousandths … (P takes no byte)
    edited numbers: 9 Z * . , + - $     one byte per position; decoded as a number (the
                    CR DB V P S         digits, the explicit point, the sign symbols; S: an
                                        overpunched or SIGN … SEPARATE sign)
    edited with B, 0 or /               text, one byte per position (dates, codes)
    COMP-3, PACKED-DECIMAL              packed decimal, (digits) // 2 + 1 bytes
    COMP, COMP-4, BINARY, COMP-0        big-endian binary limited to the PIC digits: 1-4
                                        digits 2 bytes, 5-9 4 bytes, 10-18 8 bytes, more
                                        than 18: ceil((digits × log2 10 + 1) / 8) bytes
    COMP-5                              the same storage, native: any value the bytes hold
    COMP-9                              little-endian binary (an extension some readers use;
                                        1-2 digits take 1 byte)
    COMP-1, COMP-2                      4- and 8-byte floating point (IBM hexadecimal by
                                        default; no PIC needed)

Refused with a PictureError (the caller adds the copybook line and item): NATIONAL,
DBCS, INDEX and POINTER items, numbers of more than 38 digits, P in the middle of a
picture, a currency sign other than $.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from connectors.mainframe.record_layout import BINARY, EDITED, FLOAT, MAX_DIGITS, PACKED, TEXT, ZONED

DISPLAY_USAGE = "display"
PACKED_USAGE = "packed"
BINARY_USAGE = "binary"
NATIVE_USAGE = "native"
LITTLE_ENDIAN_USAGE = "little-endian"
SINGLE_USAGE = "float-4"
DOUBLE_USAGE = "float-8"
FLOAT_USAGES = {SINGLE_USAGE: 4, DOUBLE_USAGE: 8}
USAGES = {
    "DISPLAY": DISPLAY_USAGE,
    **dict.fromkeys(("COMP", "COMPUTATIONAL", "COMP-4", "COMPUTATIONAL-4", "BINARY"), BINARY_USAGE),
    **dict.fromkeys(("COMP-0", "COMPUTATIONAL-0"), BINARY_USAGE),
    **dict.fromkeys(("COMP-3", "COMPUTATIONAL-3", "PACKED-DECIMAL"), PACKED_USAGE),
    **dict.fromkeys(("COMP-5", "COMPUTATIONAL-5"), NATIVE_USAGE),
    **dict.fromkeys(("COMP-9", "COMPUTATIONAL-9"), LITTLE_ENDIAN_USAGE),
    **dict.fromkeys(("COMP-1", "COMPUTATIONAL-1"), SINGLE_USAGE),
    **dict.fromkeys(("COMP-2", "COMPUTATIONAL-2"), DOUBLE_USAGE),
}
UNSUPPORTED_USAGES = {
    "NATIONAL": "UTF-16 text",
    "DISPLAY-1": "DBCS text",
    "INDEX": "an index item",
    "POINTER": "a pointer",
    "PROCEDURE-POINTER": "a pointer",
    "FUNCTION-POINTER": "a pointer",
}
SIGN_POSITIONS = ("trailing", "leading", "trailing_separate", "leading_separate")
_MAX_REPEAT = 65_535
_SYMBOLS = re.compile(r"(CR|DB|[^()\s])(?:\((\d+)\))?")
_NUMERIC_EDIT = set("9ZP*.,+-$V") | {"CR", "DB"}
_TEXT_EDIT = set("9ZX A*.,+-$BV0/") | {"CR", "DB"}


class PictureError(ValueError):
    """A PICTURE/USAGE the parser refuses; the message says why, without the copybook line."""


@dataclass(frozen=True)
class Storage:
    """How an elementary item is stored: record_layout's kind, bytes, and numeric shape."""

    kind: str
    length: int
    digits: int = 0
    scale: int = 0
    signed: bool = False
    sign: str = "trailing"
    scaling: int = 0
    native: bool = False
    little_endian: bool = False
    picture: str = ""


def storage(picture: str | None, usage: str | None, sign: str | None = None) -> Storage:
    """The storage of an item with this PICTURE string (None for COMP-1/COMP-2), usage
    (None means DISPLAY) and SIGN clause (one of SIGN_POSITIONS, None for the default)."""
    usage = usage or DISPLAY_USAGE
    if usage in FLOAT_USAGES:
        return Storage(FLOAT, FLOAT_USAGES[usage], signed=True)
    if picture is None:
        raise PictureError("an elementary item needs a PIC clause (only COMP-1 and COMP-2 items do not)")
    symbols = _expand(picture)
    signed = symbols[:1] == ["S"]
    body = symbols[1:] if signed else symbols
    if body and set(body) <= {"9", "V", "P"} and "9" in body:
        signed = signed or sign is not None  # SIGN on a PIC without S: signed (as common readers take it)
        digits, scale, scaling = _scaling(picture, body)
        return _numeric(digits, scale, scaling, signed, usage, sign or "trailing")
    if sign is not None and not signed:
        raise PictureError(f"PIC {picture}: a SIGN clause needs a numeric PIC")
    if usage != DISPLAY_USAGE:
        raise PictureError(f"PIC {picture}: only a numeric PIC (9, S, V, P) can be COMP, COMP-3 or COMP-5")
    if signed and not (set(body) <= _NUMERIC_EDIT):
        raise PictureError(f"PIC {picture}: S is only allowed in a numeric or numeric-edited PIC")
    if body and set(body) <= {"X", "A", "9"}:
        return Storage(TEXT, len(body))
    if body and set(body) <= _NUMERIC_EDIT and any(s in body for s in "9Z*+-$"):
        return _edited(picture, body, signed, sign or "trailing")
    if body and set(body) <= _TEXT_EDIT:
        return Storage(TEXT, sum(len(s) for s in body if s not in "VP"))
    raise PictureError(f"PIC {picture}: not a supported picture string")


def binary_length(digits: int, usage: str) -> int:
    """Bytes of a binary item of `digits` digits (COMP-9 keeps 1-2 digits in one byte)."""
    if usage == LITTLE_ENDIAN_USAGE and digits <= 2:
        return 1
    if digits <= 4:
        return 2
    if digits <= 9:
        return 4
    if digits <= 18:
        return 8
    return math.ceil((math.log2(10) * digits + 1) / 8)


def native_digits(length: int, signed: bool) -> int:
    """Decimal digits of the largest magnitude `length` bytes hold (COMP-5's whole range)."""
    return len(str(2 ** (8 * length - (1 if signed else 0))))


def _numeric(digits: int, scale: int, scaling: int, signed: bool, usage: str, sign: str) -> Storage:
    if max(digits + scaling, scale) > MAX_DIGITS:
        raise PictureError(
            f"a number of {max(digits + scaling, scale)} digits is longer than the {MAX_DIGITS} supported"
        )
    shape = {"digits": digits, "scale": scale, "signed": signed, "scaling": scaling}
    if usage == PACKED_USAGE:
        return Storage(PACKED, digits // 2 + 1, **shape)
    if usage in (BINARY_USAGE, NATIVE_USAGE, LITTLE_ENDIAN_USAGE):
        length = binary_length(digits, usage)
        if usage == NATIVE_USAGE:  # the bytes' whole range, as far as 38 digits reach
            shape["digits"] = min(MAX_DIGITS, max(digits, native_digits(length, signed)))
        return Storage(
            BINARY, length, **shape, native=usage == NATIVE_USAGE, little_endian=usage == LITTLE_ENDIAN_USAGE
        )
    length = digits + (1 if sign.endswith("separate") else 0)
    return Storage(ZONED, length, **shape, sign=sign if signed else "trailing")


def _scaling(picture: str, body: list[str]) -> tuple[int, int, int]:
    """(stored digits, scale, scaling) of a 9/V/P picture; a run of P only at one end."""
    text = "".join(body)
    if text.count("V") > 1:
        raise PictureError(f"PIC {picture}: more than one V")
    if "P" not in text:
        return text.count("9"), len(text) - text.index("V") - 1 if "V" in text else 0, 0
    left = re.fullmatch(r"V?(P+)(9+)", text)
    if left:
        return len(left.group(2)), len(left.group(1)) + len(left.group(2)), 0
    right = re.fullmatch(r"(9+)(P+)V?", text)
    if right:
        return len(right.group(1)), 0, len(right.group(2))
    raise PictureError(f"PIC {picture}: P (decimal scaling) positions must be one run at one end of the 9s")


def _edited(picture: str, body: list[str], signed: bool, sign: str) -> Storage:
    """A numeric-edited picture: a number whose digits, point and sign the decoder finds by
    position (`picture` keeps one symbol per byte; V and P take none)."""
    positions = [s for s in body if s not in "VP"]
    if "P" in body:
        raise PictureError(f"PIC {''.join(body)}: P in an edited picture is not supported")
    roles = "".join("cr" if s == "CR" else "db" if s == "DB" else s for s in positions)
    floating = {s for s in "+-$" if roles.count(s) > 1}
    digits = sum(1 for s in roles if s in "9Z*") + sum(roles.count(s) - 1 for s in floating)
    if "." in roles:
        after = roles[roles.index(".") + 1 :]
    elif "V" in body:
        after = "".join(s for s in body[body.index("V") + 1 :] if s not in "VP")
    else:
        after = ""
    scale = sum(1 for s in after if s in "9Z*" or s in floating)
    if not digits or digits > MAX_DIGITS:
        raise PictureError(f"PIC {picture}: an edited number needs 1 to {MAX_DIGITS} digit positions")
    length = len(roles) + (1 if signed and sign.endswith("separate") else 0)
    negative_symbols = any(s in roles for s in "-+cd")  # c r: CR, d b: DB
    return Storage(
        EDITED, length, digits, scale, signed or negative_symbols, sign=sign if signed else "trailing",
        picture=("S" if signed else "") + roles,
    )  # fmt: skip


def _expand(picture: str) -> list[str]:
    """X(3)9V99 -> ['X','X','X','9','V','9','9'], upper-cased (CR and DB stay one symbol);
    refuses what is not a run of symbols with optional (n) counts."""
    text = picture.upper()
    symbols: list[str] = []
    consumed = 0
    for match in _SYMBOLS.finditer(text):
        if match.start() != consumed:
            break
        count = int(match.group(2)) if match.group(2) else 1
        if not 1 <= count <= _MAX_REPEAT:
            raise PictureError(f"PIC {picture}: a repeat count must be 1 to {_MAX_REPEAT}")
        symbols += [match.group(1)] * count
        consumed = match.end()
    if not text or consumed != len(text):
        raise PictureError(f"PIC {picture}: not a picture string (symbols with optional (n) counts)")
    if "S" in symbols[1:]:
        raise PictureError(f"PIC {picture}: S must be the first symbol")
    return symbols
