"""Differential test: the vectorized decoder equals a slow, obvious per-record decoder.

`reference_row` decodes one record field by field in plain Python from the IBM rules
(written here, not shared with `connectors`); every record — valid, corrupted or random
bytes — must decode to the same values and the same error text, in every code page.
"""

from __future__ import annotations

import random
from decimal import Decimal
from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors import RecordLayout, decode_records, parse_copybook
from tests.connectors.mainframe.test_fixed_width_encoding import (
    ENCODINGS,
    SPACE,
    binary,
    decode_text,
    packed,
    text,
    zoned,
)

LAYOUT = parse_copybook(
    """
    01 REC.
       05 CODE      PIC X(6).
       05 QTY       PIC 9(4).
       05 PRICE     PIC S9(5)V99.
       05 TOTAL     PIC S9(9)V99 COMP-3.
       05 EVEN      PIC 9(6) COMP-3.
       05 FLAGS     PIC S9(4) COMP.
       05 SEQ       PIC 9(9) COMP.
       05 BIG-BIN   PIC S9(18) COMP.
       05 NOTE      PIC X(10).
       05 HUGE      PIC S9(22)V99 COMP-3.
       05 WIDE      PIC 9(19).
    """
)
ASCII_SIGNS = {
    **{c: (d, 1) for d, c in enumerate("{ABCDEFGHI")},
    **{c: (d, -1) for d, c in enumerate("}JKLMNOPQR")},
}
ASCII_SIGNS |= {chr(0x70 + d): (d, -1) for d in range(10)} | {str(d): (d, 1) for d in range(10)}


def reference_row(record: bytes, layout: RecordLayout, encoding: str, number: int, position: int) -> dict:
    """One record decoded the slow way: values, or the error text of the first bad field."""
    row: dict[str, Any] = {}
    for field in layout.fields:
        data = record[field.offset : field.offset + field.length]
        value, problem = _reference_value(data, field, encoding)
        if problem is not None:
            reason, at = problem
            error = (
                f"r.dat byte {position + field.offset + at} (record {number}, field {field.name} "
                f"at {field.source}:{field.line}): {reason}"
            )
            return dict.fromkeys(layout.names) | {"_govbus_source_error": error}
        row[field.name] = value
    return row | {"_govbus_source_error": None}


def _reference_value(data: bytes, field: Any, encoding: str) -> tuple[Any, tuple[str, int] | None]:
    if field.kind == "text":
        if encoding == "ascii" and any(b >= 0x80 for b in data):
            return None, ("byte not in the code page", next(i for i, b in enumerate(data) if b >= 0x80))
        return decode_text(data, encoding).rstrip(" \x00"), None
    if field.kind in ("zoned", "packed") and all(b == SPACE[encoding] for b in data):
        return None, None
    if field.kind == "binary":
        number = int.from_bytes(data, "big", signed=field.signed)
        if abs(number) >= 10**field.digits:
            return None, ("value exceeds the PIC digits", 0)
        return _scaled(number, field), None
    digits, sign, problem = (_zoned if field.kind == "zoned" else _packed)(data, field, encoding)
    if problem is not None:
        return None, problem
    return _scaled(sign * int(digits), field), None


def _zoned(data: bytes, field: Any, encoding: str) -> tuple[str, int, tuple[str, int] | None]:
    digits = ""
    for i, byte in enumerate(data[:-1]):
        zone, digit = (byte >> 4, byte & 0xF) if encoding != "ascii" else (byte - 0x30 >= 0, byte - 0x30)
        if (encoding != "ascii" and zone != 0xF) or not 0 <= digit <= 9:
            return "", 0, ("bad zoned digit", i)
        digits += str(digit)
    last = data[-1]
    if encoding == "ascii":
        digit, sign = ASCII_SIGNS.get(chr(last), (None, 0))
    else:
        digit = last & 0xF if last & 0xF <= 9 else None
        sign = {0xC: 1, 0xF: 1, 0xD: -1}.get(last >> 4, 0) if digit is not None else 0
    if sign == 0:
        return "", 0, ("bad zoned sign", len(data) - 1)
    if sign < 0 and not field.signed:
        return "", 0, ("negative sign in an unsigned field", len(data) - 1)
    return digits + str(digit), sign, None


def _packed(data: bytes, field: Any, encoding: str) -> tuple[str, int, tuple[str, int] | None]:
    nibbles = data.hex()
    for i, nibble in enumerate(nibbles[:-1]):
        if nibble not in "0123456789":
            return "", 0, ("bad packed digit", i // 2)
    if len(nibbles) - 1 > field.digits and nibbles[0] != "0":
        return "", 0, ("value exceeds the PIC digits", 0)
    sign = {"c": 1, "f": 1, "d": -1}.get(nibbles[-1], 0)
    if sign == 0:
        return "", 0, ("bad packed sign nibble", len(data) - 1)
    if sign < 0 and not field.signed:
        return "", 0, ("negative sign in an unsigned field", len(data) - 1)
    return nibbles[:-1], sign, None


def _scaled(number: int, field: Any) -> int | Decimal:
    if field.scale == 0 and field.digits <= 18:
        return number
    return Decimal(number).scaleb(-field.scale)


def random_record(rng: random.Random, encoding: str) -> bytes:
    """A valid record of LAYOUT, then in one case out of four a few random bytes."""
    alphabet = "ABCxyz019 -ÄÖüß[]^" if encoding != "ascii" else "ABCxyz019 -[]^"

    def word(length: int) -> str:
        return "".join(rng.choice(alphabet) for _ in range(rng.randint(0, length)))

    def number(digits: int, signed: bool = True) -> int:
        value = rng.choice([0, 10**digits - 1, rng.randrange(10**digits)])
        return -value if signed and rng.random() < 0.5 else value

    record = bytearray(
        b"".join(
            [
                text(word(6), 6, encoding),
                zoned(number(4, False), 4, signed=False, encoding=encoding),
                zoned(number(7), 7, encoding=encoding),
                packed(number(11), 11),
                packed(number(6, False), 6, signed=False),
                binary(number(4), 2),
                binary(number(9, False), 4, signed=False),
                binary(number(18), 8),
                text(word(10), 10, encoding),
                packed(number(24), 24),
                zoned(number(19, False), 19, signed=False, encoding=encoding),
            ]
        )
    )
    if rng.random() < 0.25:
        for _ in range(rng.randint(1, 3)):
            record[rng.randrange(len(record))] = rng.choice([rng.randrange(256), SPACE[encoding]])
    if rng.random() < 0.05:
        start = LAYOUT.field("qty").offset
        record[start : start + 4] = bytes([SPACE[encoding]]) * 4  # a blank number: null, no error
    return bytes(record)


def check_against_reference(records: list[bytes], encoding: str) -> None:
    width = LAYOUT.record_length
    buffer = np.frombuffer(b"".join(records), dtype=np.uint8).reshape(len(records), width)
    positions = np.arange(len(records), dtype=np.int64) * width
    table = decode_records(buffer, LAYOUT, encoding, file="r.dat", positions=positions)
    got = table.drop_columns(["_govbus_source_position", "_govbus_source_raw"]).to_pylist()
    expected = [reference_row(r, LAYOUT, encoding, i + 1, i * width) for i, r in enumerate(records)]
    for i, (mine, theirs) in enumerate(zip(got, expected, strict=True)):
        assert mine == theirs, f"record {i + 1} in {encoding}"


def test_a_thousand_random_records_per_code_page_decode_like_the_reference() -> None:
    rng = random.Random(20240601)
    for encoding in ENCODINGS:
        records = [random_record(rng, encoding) for _ in range(1000)]
        check_against_reference(records, encoding)
        decoded = decode_records(
            np.frombuffer(b"".join(records), dtype=np.uint8).reshape(1000, -1), LAYOUT, encoding
        )
        rejected = decoded.column("_govbus_source_error").null_count
        assert 100 < 1000 - rejected < 1000 and rejected < 900  # both kinds were exercised


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.binary(min_size=LAYOUT.record_length, max_size=LAYOUT.record_length), min_size=1, max_size=20
    ),
    st.sampled_from(ENCODINGS),
)
def test_arbitrary_bytes_decode_like_the_reference(records: list[bytes], encoding: str) -> None:
    check_against_reference(records, encoding)
