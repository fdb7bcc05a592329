"""Byte lookup tables for the supported code pages: text, zoned digits and overpunch signs.

Every supported code page is single-byte. Text bytes are translated through a 256-entry
table into UTF-8 (one to three bytes each); zoned-decimal bytes through digit and sign
tables. The tables are built once, at import.

    cp037, cp273, cp277, cp278,   IBM's EBCDIC pages exactly as IBM (and glibc's iconv)
    cp280, cp284, cp285, cp297,   define them, byte for byte
    cp500, cp871, cp1047,         (`connectors.mainframe.code_page_tables`; Python's own
    cp1140 … cp1149               cp273 codec differs from IBM's on byte 0xBC)
    ascii                         bytes 0x00-0x7F; a text byte >= 0x80 is a decode error
    latin1                        ISO 8859-1: every byte is the character of that number

Zoned decimal. EBCDIC: every digit byte is F0-F9; the byte that carries the sign (the
last, or the first under SIGN IS LEADING) has the zone C or F positive, D negative
(A, B, E are refused as bad signs). ASCII and Latin-1: digits 30-39; the sign byte may be
overpunched as an EBCDIC file converted to ASCII would be ({ A-I positive, } J-R
negative) or as Micro Focus does (p-y negative). A separate sign (SIGN … SEPARATE) is the
code page's '+' or '-' character.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from connectors.mainframe.code_page_tables import DIFFERENCES_FROM_CP037, ebcdic_characters

EBCDIC_PAGES = ("cp037", *DIFFERENCES_FROM_CP037)
ENCODINGS = (*EBCDIC_PAGES, "ascii", "latin1")
NOT_A_DIGIT = 255


@dataclass(frozen=True)
class CodePage:
    """The lookup tables of one code page (numpy arrays indexed by byte value)."""

    name: str
    ebcdic: bool
    utf8: np.ndarray  # uint8 (256, 4): the UTF-8 bytes of each byte's character, left-aligned
    utf8_length: np.ndarray  # uint8 (256,): how many of them (1 to 3)
    escaped: np.ndarray  # uint8 (256, 4): like utf8, but \xNN for a byte that is not printable
    escaped_length: np.ndarray  # uint8 (256,)
    translate: bytes  # 256 bytes for bytes.translate: the character when it is ASCII, else 0
    ascii: np.ndarray  # uint8 (256,): the same as an array (the ASCII code, or 0)
    valid: np.ndarray  # bool (256,): the byte is a character of the code page
    space: int  # the byte of ' ' (an all-space number is blank)
    zero: int  # the byte of '0': a zoned byte that is not the sign byte is zero..zero+9
    plus: int  # the byte of '+'
    minus: int  # the byte of '-'
    sign_digit: np.ndarray  # uint8 (256,): digit of the (sign-carrying) zoned byte, else 255
    sign_of: np.ndarray  # int8 (256,): +1 / -1 sign carried by the sign byte, 0 if none


def code_page(name: str) -> CodePage:
    """The tables of `name` (one of ENCODINGS); KeyError for another name."""
    return _PAGES[name]


def characters(name: str) -> list[str]:
    """The 256 characters of code page `name` (ascii: bytes >= 0x80 as Latin-1, invalid)."""
    if name in ("ascii", "latin1"):
        return [chr(b) for b in range(256)]
    return ebcdic_characters(name)


def expand(raw: np.ndarray, table: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each byte of `raw` (1-D) replaced by its `table` row's first `lengths` bytes.

    Returns the output bytes and, per input byte, the output length up to and including
    it (a cumulative sum) so that callers can cut the output at input boundaries.
    """
    sizes = lengths[raw]
    ends = np.cumsum(sizes, dtype=np.int64)
    out = np.empty(int(ends[-1]) if len(ends) else 0, dtype=np.uint8)
    starts = ends - sizes
    for k in range(table.shape[1]):
        more = sizes > k
        if not more.any():
            break
        out[starts[more] + k] = table[raw[more], k]
    return out, ends


def _build(name: str) -> CodePage:
    chars = characters(name)
    ebcdic = name in EBCDIC_PAGES
    valid = np.arange(256) < 0x80 if name == "ascii" else np.ones(256, dtype=bool)
    utf8, length = _table([char.encode("utf-8") for char in chars])
    escaped, escaped_length = _table(
        [
            char.encode("utf-8") if valid[byte] and char.isprintable() and char != "\\" else b"\\x%02x" % byte
            for byte, char in enumerate(chars)
        ]
    )
    translate = bytes(utf8[b, 0] if length[b] == 1 else 0 for b in range(256))
    sign_digit = np.full(256, NOT_A_DIGIT, dtype=np.uint8)
    sign_of = np.zeros(256, dtype=np.int8)
    if not ebcdic:
        zones = {0x30: 1, 0x70: -1}
        for char, d, sign in [("{", 0, 1), ("}", 0, -1)] + [
            (chr(ord(start) + d - 1), d, sign) for start, sign in (("A", 1), ("J", -1)) for d in range(1, 10)
        ]:
            sign_digit[ord(char)], sign_of[ord(char)] = d, sign
    else:
        zones = {0xF0: 1, 0xC0: 1, 0xD0: -1}
    for zone, sign in zones.items():
        sign_digit[zone : zone + 10] = np.arange(10)
        sign_of[zone : zone + 10] = sign
    return CodePage(
        name=name,
        ebcdic=ebcdic,
        utf8=utf8,
        utf8_length=length,
        escaped=escaped,
        escaped_length=escaped_length,
        translate=translate,
        ascii=np.frombuffer(translate, dtype=np.uint8).copy(),
        valid=valid,
        space=chars.index(" "),
        zero=chars.index("0"),
        plus=chars.index("+"),
        minus=chars.index("-"),
        sign_digit=sign_digit,
        sign_of=sign_of,
    )


def _table(encoded: list[bytes]) -> tuple[np.ndarray, np.ndarray]:
    table = np.zeros((256, 4), dtype=np.uint8)
    for byte, text in enumerate(encoded):
        table[byte, : len(text)] = np.frombuffer(text, dtype=np.uint8)
    return table, np.array([len(text) for text in encoded], dtype=np.uint8)


_PAGES = {name: _build(name) for name in ENCODINGS}
