"""Hand-made mainframe encodings the fixed-width tests build records with, checked here.

The helpers are written from the IBM formats, independently of `connectors`: zoned
decimal (one digit per byte, sign in the last byte's zone), packed decimal (two digits
per byte, sign in the last nibble), big-endian binary, and text in a code page
(Python's codecs; cp1047 from cp037 and IBM's table of the six characters that differ).
The tests pin them to examples from IBM's documentation so that the decoder tests do
not only agree with themselves.
"""

from __future__ import annotations

import functools
import shutil
import subprocess

import pytest

EBCDIC = ("cp037", "cp273", "cp500", "cp1047")
ENCODINGS = (*EBCDIC, "ascii")
CP1047_NOT_CP037 = {"[": 0xAD, "]": 0xBD, "^": 0x5F, "¬": 0xB0, "Ý": 0xBA, "¨": 0xBB}
IBM_NOT_PYTHON = {"cp273": {0xBC: "¯"}}  # IBM's table (and glibc's) has MACRON where Python has OVERLINE
SPACE = {"ascii": 0x20, **dict.fromkeys(EBCDIC, 0x40)}


@functools.cache
def characters(encoding: str) -> str:
    """The 256 characters of an EBCDIC page: IBM's table from iconv when this machine has
    it, else Python's codec with IBM's corrections (cp1047 from cp037)."""
    if shutil.which("iconv"):
        name = "IBM" + encoding[2:]
        done = subprocess.run(
            ["iconv", "-f", name, "-t", "UTF-8"], input=bytes(range(256)), capture_output=True
        )
        if done.returncode == 0:
            return done.stdout.decode("utf-8")
    if encoding == "cp1047":
        chars = list(bytes(range(256)).decode("cp037"))
        for char, byte in CP1047_NOT_CP037.items():
            chars[byte] = char
        return "".join(chars)
    chars = list(bytes(range(256)).decode(encoding))
    for byte, char in IBM_NOT_PYTHON.get(encoding, {}).items():
        chars[byte] = char
    return "".join(chars)


def encode_text(text: str, encoding: str) -> bytes:
    """`text` in `encoding` (ascii and latin1: Python's codecs; EBCDIC: IBM's table)."""
    if encoding in ("ascii", "latin1") or _python_codec_is_ibm(encoding):
        return text.encode(encoding)
    table = _inverse(encoding)
    if len(table) < 256 or max(table) > 255:  # not a permutation of Latin-1: check each character
        missing = [c for c in text if ord(c) not in table]
        assert not missing, f"{missing[0]!r} is not a character of {encoding}"
    return text.translate(table).encode("latin-1")


@functools.cache
def _python_codec_is_ibm(encoding: str) -> bool:
    try:
        return bytes(range(256)).decode(encoding) == characters(encoding)
    except LookupError:
        return False


@functools.cache
def _inverse(encoding: str) -> dict[int, int]:
    return {ord(char): byte for byte, char in reversed(list(enumerate(characters(encoding))))}


def decode_text(data: bytes, encoding: str) -> str:
    """The inverse of `encode_text` (ascii: strict, a byte >= 0x80 raises)."""
    if encoding in ("ascii", "latin1"):
        return data.decode(encoding)
    return data.decode("latin-1").translate(dict(enumerate(characters(encoding))))


def text(value: str, length: int, encoding: str = "cp037") -> bytes:
    """PIC X(length): the value padded with spaces."""
    return encode_text(value.ljust(length), encoding)


def zoned(value: int, digits: int, *, signed: bool = True, encoding: str = "cp037") -> bytes:
    """PIC [S]9(digits) DISPLAY: EBCDIC F0-F9, last zone C/D (F if unsigned); ASCII 30-39,
    last byte overpunched {A-I / }J-R when signed."""
    body = f"{abs(value):0{digits}d}"
    assert len(body) == digits
    if encoding == "ascii":
        if not signed:
            return body.encode()
        last = int(body[-1])
        punch = ("{ABCDEFGHI" if value >= 0 else "}JKLMNOPQR")[last]
        return (body[:-1] + punch).encode()
    data = bytearray(0xF0 | int(d) for d in body)
    data[-1] = (0xF0 if not signed else 0xD0 if value < 0 else 0xC0) | int(body[-1])
    return bytes(data)


def packed(value: int, digits: int, *, signed: bool = True) -> bytes:
    """PIC [S]9(digits) COMP-3: digits // 2 + 1 bytes, sign nibble C/D (F if unsigned)."""
    width = digits + (1 - digits % 2)  # an odd number of digit nibbles
    nibbles = f"{abs(value):0{width}d}" + ("F" if not signed else "D" if value < 0 else "C")
    return bytes.fromhex(nibbles)


def binary(value: int, length: int, *, signed: bool = True) -> bytes:
    """PIC [S]9(n) COMP: big-endian two's complement (or unsigned)."""
    return value.to_bytes(length, "big", signed=signed)


def test_packed_matches_ibm_examples() -> None:
    assert packed(123, 3) == b"\x12\x3c"
    assert packed(-123, 3) == b"\x12\x3d"
    assert packed(1234, 4) == b"\x01\x23\x4c"  # even digits: a leading zero nibble
    assert packed(5, 1, signed=False) == b"\x5f"


def test_zoned_matches_ibm_examples() -> None:
    assert zoned(123, 3) == b"\xf1\xf2\xc3"
    assert zoned(-123, 3) == b"\xf1\xf2\xd3"
    assert zoned(123, 3, signed=False) == b"\xf1\xf2\xf3"
    assert zoned(-120, 3, encoding="ascii") == b"12}"
    assert zoned(121, 3, encoding="ascii") == b"12A"


def test_binary_is_big_endian_twos_complement() -> None:
    assert binary(-2, 2) == b"\xff\xfe"
    assert binary(258, 4, signed=False) == b"\x00\x00\x01\x02"


def test_code_pages_differ_where_expected() -> None:
    assert encode_text("[", "cp037") == b"\xba"
    assert encode_text("[", "cp500") == b"\x4a"
    assert encode_text("[", "cp1047") == b"\xad"
    assert encode_text("Ä", "cp273") == b"\x4a" and encode_text("Ä", "cp037") == b"\x63"
    assert encode_text("A1 ", "cp1047") == encode_text("A1 ", "cp037") == b"\xc1\xf1\x40"
    assert decode_text(encode_text("x[^]¬", "cp1047"), "cp1047") == "x[^]¬"


@pytest.mark.skipif(shutil.which("iconv") is None, reason="no iconv on this machine")
def test_cp1047_table_agrees_with_glibc() -> None:
    every_byte = bytes(range(256))
    result = subprocess.run(["iconv", "-f", "IBM1047", "-t", "UTF-8"], input=every_byte, capture_output=True)
    if result.returncode != 0:
        pytest.skip("this iconv does not know IBM1047")
    assert result.stdout.decode("utf-8") == decode_text(every_byte, "cp1047")
