"""Independent encoders the mainframe tests build records with: IBM hexadecimal floats,
zoned decimals in every SIGN form, wide binaries, edited numbers, and the descriptor
words of variable-length files. Written from IBM's formats, sharing no code with
`connectors` (text encoding is `test_fixed_width_encoding`'s)."""

from __future__ import annotations

from fractions import Fraction

from tests.connectors.mainframe.test_fixed_width_encoding import encode_text


def ibm_float(value: float | Fraction, length: int) -> bytes:
    """`value` as an IBM System/360 hexadecimal float of 4 (COMP-1) or 8 (COMP-2) bytes:
    sign bit, exponent of 16 biased by 64, fraction 0.f (rounded to nearest, ties even)."""
    bits = 8 * length - 8
    exact = Fraction(value)
    sign = 1 if exact < 0 else 0
    magnitude = abs(exact)
    if magnitude == 0:
        return bytes(length)
    exponent = 0
    while magnitude >= 1:
        magnitude /= 16
        exponent += 1
    while magnitude < Fraction(1, 16):
        magnitude *= 16
        exponent -= 1
    scaled = magnitude * 2**bits
    fraction = round(scaled)  # Python rounds Fractions half to even
    if fraction == 2**bits:
        fraction, exponent = fraction // 16, exponent + 1
    assert -64 <= exponent <= 63, "out of the IBM float range"
    word = (sign << (8 * length - 1)) | ((exponent + 64) << bits) | fraction
    return word.to_bytes(length, "big")


def ibm_float_value(data: bytes) -> Fraction:
    """The exact value of an IBM hexadecimal float."""
    word = int.from_bytes(data, "big")
    bits = 8 * len(data) - 8
    sign = -1 if word >> (8 * len(data) - 1) else 1
    exponent = (word >> bits) & 0x7F
    fraction = word & ((1 << bits) - 1)
    return sign * Fraction(fraction, 2**bits) * Fraction(16) ** (exponent - 64)


def zoned_sign(value: int, digits: int, sign: str, encoding: str = "cp037") -> bytes:
    """PIC S9(digits) with SIGN `sign`: trailing / leading overpunch (EBCDIC zones C/D),
    trailing_separate / leading_separate ('+' or '-' in the code page)."""
    body = f"{abs(value):0{digits}d}"
    if sign.endswith("separate"):
        mark = "-" if value < 0 else "+"
        text = mark + body if sign.startswith("leading") else body + mark
        return encode_text(text, encoding)
    data = bytearray(0xF0 | int(d) for d in body)
    at = 0 if sign == "leading" else -1
    data[at] = (0xD0 if value < 0 else 0xC0) | (data[at] & 0x0F)
    return bytes(data)


def binary_bytes(value: int, length: int, *, signed: bool = True, little: bool = False) -> bytes:
    """Two's complement (or unsigned) integer of `length` bytes."""
    return value.to_bytes(length, "little" if little else "big", signed=signed)


def rdw(record: bytes, *, big: bool = True, includes: bool = True, swap: bool = False) -> bytes:
    """A record after its RDW: the length (with the 4 header bytes unless `includes` is
    False) in two bytes of the given order, then two zero bytes (before them if `swap`)."""
    length = (len(record) + (4 if includes else 0)).to_bytes(2, "big" if big else "little")
    return (b"\0\0" + length if swap else length + b"\0\0") + record


def bdw(block: bytes) -> bytes:
    """A VB block after its BDW (IBM: big-endian length counting the BDW)."""
    return (len(block) + 4).to_bytes(2, "big") + b"\0\0" + block


def test_ibm_float_matches_ibm_examples() -> None:
    assert ibm_float(1.0, 4) == bytes.fromhex("41100000")
    assert ibm_float(-118.625, 4) == bytes.fromhex("C276A000")
    assert ibm_float(0.1, 8) == bytes.fromhex("401999999999999A")
    assert ibm_float_value(bytes.fromhex("C276A000")) == Fraction(-118625, 1000)
    assert ibm_float(Fraction(1, 2**260), 4) == bytes.fromhex("00100000")  # the smallest normal


def test_zoned_sign_forms() -> None:
    assert zoned_sign(-12, 3, "trailing") == b"\xf0\xf1\xd2"
    assert zoned_sign(-12, 3, "leading") == b"\xd0\xf1\xf2"
    assert zoned_sign(12, 3, "leading_separate") == b"\x4e\xf0\xf1\xf2"
    assert zoned_sign(-12, 3, "trailing_separate") == b"\xf0\xf1\xf2\x60"
