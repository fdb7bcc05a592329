"""decode_records on hand-built mainframe records: every PIC kind, code pages, bad records."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pyarrow as pa
import pytest

from connectors import decode_records, parse_copybook
from tests.connectors.mainframe.test_fixed_width_encoding import (
    EBCDIC,
    binary,
    decode_text,
    packed,
    text,
    zoned,
)

ERROR, POSITION, RAW = "_govbus_source_error", "_govbus_source_position", "_govbus_source_raw"

KINDS = parse_copybook(
    """
    01 REC.
       05 NAME      PIC X(8).
       05 COUNT-U   PIC 9(5).
       05 BALANCE   PIC S9(5)V99.
       05 AMOUNT    PIC S9(7)V99 COMP-3.
       05 EVEN      PIC S9(4) COMP-3.
       05 UNSIGNED  PIC 9(3) COMP-3.
       05 SMALL     PIC S9(4) COMP.
       05 MEDIUM    PIC 9(9) BINARY.
       05 LARGE     PIC S9(16)V99 COMP-4.
       05 HUGE      PIC S9(20)V9(5).
       05 HUGE-P    PIC S9(30) COMP-3.
       05 MAX-INT   PIC S9(18).
    """
)


def kinds_record(name: str, n: int, balance: int, amount: int, even: int, unsigned: int, small: int,
                 medium: int, large: int, huge: int, huge_p: int, max_int: int) -> bytes:  # fmt: skip
    return b"".join(
        [
            text(name, 8),
            zoned(n, 5, signed=False),
            zoned(balance, 7),
            packed(amount, 9),
            packed(even, 4),
            packed(unsigned, 3, signed=False),
            binary(small, 2),
            binary(medium, 4, signed=False),
            binary(large, 8),
            zoned(huge, 25),
            packed(huge_p, 30),
            zoned(max_int, 18),
        ]
    )


def decode(records: list[bytes], layout=KINDS, encoding: str = "cp037", **frame) -> pa.Table:
    width = max(len(r) for r in records)
    buffer = np.frombuffer(b"".join(r.ljust(width, b"\0") for r in records), dtype=np.uint8)
    return decode_records(buffer.reshape(len(records), width), layout, encoding, file="x.dat", **frame)


def test_every_kind_decodes_exactly() -> None:
    records = [
        kinds_record("ALICE", 42, -12345, 123456789, -1234, 999, -9999, 999999999, -10**17 - 1,
                     -(10**24) - 5, 10**29 + 7, 10**18 - 1),
        kinds_record("B", 0, 0, -1, 9999, 0, 9999, 0, 10**17, 10**25 - 1, -(10**30) + 1, -(10**18) + 1),
    ]  # fmt: skip
    table = decode(records)
    assert table.schema.names[-3:] == [ERROR, POSITION, RAW]
    assert table.column(ERROR).null_count == 2
    first, second = table.to_pylist()
    assert first["name"] == "ALICE" and second["name"] == "B"
    assert first["count_u"] == 42 and second["count_u"] == 0
    assert first["balance"] == Decimal("-123.45") and second["balance"] == Decimal("0.00")
    assert first["amount"] == Decimal("1234567.89") and second["amount"] == Decimal("-0.01")
    assert (first["even"], second["even"]) == (-1234, 9999)
    assert (first["unsigned"], first["small"], first["medium"]) == (999, -9999, 999999999)
    assert first["large"] == Decimal("-1000000000000000.01") and second["large"] == Decimal(
        "1000000000000000.00"
    )
    assert first["huge"] == Decimal("-10000000000000000000.00005")
    assert second["huge"] == Decimal("99999999999999999999.99999")
    assert first["huge_p"] == 10**29 + 7 and second["huge_p"] == -(10**30) + 1
    assert first["max_int"] == 10**18 - 1 and second["max_int"] == -(10**18) + 1
    assert table.schema.field("huge_p").type == pa.decimal128(30, 0)


def test_negative_zero_is_zero() -> None:
    layout = parse_copybook("01 R.\n 05 Z PIC S9(3).\n 05 P PIC S9(3) COMP-3.")
    minus_zero = b"\xf0\xf0\xd0" + b"\x00\x0d"
    assert decode([minus_zero], layout).to_pylist()[0] | {RAW: None} == {
        "z": 0, "p": 0, ERROR: None, POSITION: None, RAW: None
    }  # fmt: skip


def test_all_space_numbers_are_null_and_blank_text_is_empty() -> None:
    layout = parse_copybook("01 R.\n 05 T PIC X(4).\n 05 Z PIC S9(3)V9.\n 05 P PIC 9(5) COMP-3.")
    row = decode([b"\x40" * 11], layout).to_pylist()[0]
    assert row == {"t": "", "z": None, "p": None, ERROR: None, POSITION: None, RAW: None}


def test_text_keeps_inner_spaces_and_drops_trailing_spaces_and_low_values() -> None:
    layout = parse_copybook("01 R.\n 05 T PIC X(10).")
    values = decode([text(" a b", 8) + b"\x00\x00", b"\x00" * 10], layout).column("t").to_pylist()
    assert values == [" a b", ""]


@pytest.mark.parametrize("encoding", EBCDIC)
def test_each_ebcdic_code_page_round_trips_its_characters(encoding: str) -> None:
    layout = parse_copybook("01 R.\n 05 T PIC X(24).\n 05 Z PIC S9(3).")
    words = "Müller-Ärger ßé [x] ^ ¬"
    row = decode([text(words, 24, encoding) + zoned(-7, 3)], layout, encoding).to_pylist()[0]
    assert (row["t"], row["z"], row[ERROR]) == (words, -7, None)


def test_one_byte_reads_as_each_code_page_defines_it() -> None:
    layout = parse_copybook("01 R.\n 05 T PIC X(2).")
    seen = {enc: decode([b"\x4a\xba"], layout, enc).column("t")[0].as_py() for enc in EBCDIC}
    assert seen == {"cp037": "¢[", "cp273": "Ä¬", "cp500": "[¬", "cp1047": "¢Ý"}


def test_ascii_records_with_overpunched_signs() -> None:
    layout = parse_copybook("01 R.\n 05 T PIC X(3).\n 05 Z PIC S9(4)V9.\n 05 U PIC 9(2).")
    records = [b"ab " + zoned(-12345, 5, encoding="ascii") + b"07", b"xyz1234{99", b"   0000p00"]
    rows = decode(records, layout, "ascii").to_pylist()
    assert [(r["t"], r["z"], r["u"]) for r in rows] == [
        ("ab", Decimal("-1234.5"), 7), ("xyz", Decimal("1234.0"), 99), ("", Decimal("-0.0"), 0),
    ]  # fmt: skip
    bad = decode([b"\xe9t " + b"12345" + b"00"], layout, "ascii").to_pylist()[0]
    assert bad[ERROR] == "x.dat byte 0 (record 1, field t at copybook:2): byte not in the code page"
    assert bad[RAW] == "\\xe9t 1234500"


def test_bad_packed_digit_rejects_the_record_with_its_byte_offset() -> None:
    layout = parse_copybook("01 R.\n 05 ID PIC X(4).\n 05 AMOUNT PIC S9(5)V99 COMP-3.\n 05 N PIC 9(2).")
    good = text("A001", 4) + packed(1234567, 7) + zoned(1, 2, signed=False)
    bad = bytearray(good)
    bad[5] = 0x3A  # the second byte of amount: the digit nibble A
    table = decode([good, bytes(bad), good], layout)
    assert table.column(ERROR).to_pylist() == [
        None, "x.dat byte 15 (record 2, field amount at copybook:3): bad packed digit", None,
    ]  # fmt: skip
    assert table.column(POSITION).to_pylist() == [None, "x.dat@10", None]
    assert table.to_pylist()[1] | {ERROR: None, POSITION: None, RAW: None} == dict.fromkeys(
        table.column_names
    )
    assert table.column("amount").to_pylist() == [Decimal("12345.67"), None, Decimal("12345.67")]
    assert table.column(RAW)[1].as_py().startswith("A001\\x12")


@pytest.mark.parametrize(
    ("field", "data", "reason", "byte"),
    [
        ("S9(3) COMP-3", b"\x12\x3a", "bad packed sign nibble", 1),
        ("9(3) COMP-3", b"\x12\x3d", "negative sign in an unsigned field", 1),
        ("S9(4) COMP-3", b"\x11\x23\x4c", "value exceeds the PIC digits", 0),
        ("S9(3)", b"\xf1\x41\xc3", "bad zoned digit", 1),
        ("S9(3)", b"\xf1\xf2\xa3", "bad zoned sign", 2),
        ("9(3)", b"\xf1\xf2\xd3", "negative sign in an unsigned field", 2),
        ("S9(4) COMP", binary(10000, 2), "value exceeds the PIC digits", 0),
        ("9(9) COMP", binary(10**9, 4, signed=False), "value exceeds the PIC digits", 0),
    ],
)
def test_each_undecodable_value_has_its_reason(field: str, data: bytes, reason: str, byte: int) -> None:
    layout = parse_copybook(f"01 R.\n 05 A PIC X(2).\n 05 V PIC {field}.")
    table = decode([text("ok", 2) + data] * 2, layout, positions=np.array([100, 200]))
    assert table.column(ERROR).to_pylist() == [
        f"x.dat byte {100 + 2 + byte} (record 1, field v at copybook:3): {reason}",
        f"x.dat byte {200 + 2 + byte} (record 2, field v at copybook:3): {reason}",
    ]
    assert table.column("a").null_count == 2  # the whole record is quarantined


def test_binary_limits_follow_the_pic_digits() -> None:
    layout = parse_copybook("01 R.\n 05 S PIC S9(4) COMP.\n 05 U PIC 9(18) COMP.")
    table = decode([binary(-9999, 2) + binary(10**18 - 1, 8, signed=False)], layout)
    assert table.to_pylist()[0]["s"] == -9999 and table.to_pylist()[0]["u"] == 10**18 - 1


def test_a_redefined_area_is_rejected_only_when_no_view_decodes() -> None:
    layout = parse_copybook(
        """
        01 R.
           05 KIND PIC X.
           05 AMOUNTS.
              10 A PIC S9(3) COMP-3.
           05 CODE-VIEW REDEFINES AMOUNTS PIC 9(2).
        """
    )
    packed_only = b"\xc1" + packed(-5, 3)  # not zoned digits: the second view fails
    zoned_only = b"\xc2" + zoned(42, 2, signed=False)  # no packed sign: the first view fails
    neither = b"\xc3" + b"\x4a\x4a"
    table = decode([packed_only, zoned_only, neither], layout)
    assert table.column("a").to_pylist() == [-5, None, None]
    assert table.column("code_view").to_pylist() == [None, 42, None]
    assert table.column(ERROR).to_pylist() == [
        None, None, "x.dat byte 7 (record 3, field a at copybook:5): bad packed digit",
    ]  # fmt: skip


def test_records_shorter_than_a_field_are_rejected() -> None:
    layout = parse_copybook("01 R.\n 05 A PIC X(2).\n 05 B PIC 9(4).")
    table = decode(
        [b"\xc1\xc1\xf1\xf2\xf3\xf4", b"\xc1\xc1\xf1\x00\x00\x00"],
        layout, lengths=np.array([6, 3]), positions=np.array([0, 10]), header=4,
    )  # fmt: skip
    assert table.column("b").to_pylist() == [1234, None]
    assert (
        table.column(ERROR)[1].as_py()
        == "x.dat byte 17 (record 2, field b at copybook:3): the record ends inside the field"
    )


def test_record_problems_take_precedence_and_keep_their_position() -> None:
    layout = parse_copybook("01 R.\n 05 A PIC X(2).")
    table = decode([b"\xc1\xc1", b"\xc1\x00"], layout, first_record=9, problems={1: "truncated record"})
    assert table.column(ERROR).to_pylist() == [None, "x.dat byte 20 (record 11): truncated record"]
    assert table.column(POSITION).to_pylist() == [None, "x.dat@20"]


def test_an_empty_buffer_has_the_full_schema() -> None:
    table = decode_records(np.zeros((0, KINDS.record_length), dtype=np.uint8), KINDS)
    assert table.num_rows == 0
    assert table.schema.names == [*KINDS.names, ERROR, POSITION, RAW]


def test_text_column_equals_the_codec_for_every_byte() -> None:
    layout = parse_copybook("01 R.\n 05 T PIC X(16).")
    every = np.arange(256, dtype=np.uint8).reshape(16, 16)
    for encoding in EBCDIC:
        values = decode_records(every, layout, encoding).column("t").to_pylist()
        assert values == [decode_text(bytes(row), encoding).rstrip(" \x00") for row in every.tolist()], (
            encoding
        )


def test_large_buffers_decode_in_slices_with_the_same_result() -> None:
    layout = parse_copybook("01 R.\n 05 A PIC X.\n 05 N PIC S9(3) COMP-3.")
    count = 70_000
    records = np.frombuffer(b"".join(text("x", 1) + packed(i % 999, 3) for i in range(count)), np.uint8)
    records = records.reshape(count, 3).copy()
    records[66_000, 2] = 0x1A  # a bad sign nibble in the second slice
    table = decode_records(records, layout, file="big.dat", problems={69_999: "truncated record"})
    errors = table.column(ERROR)
    assert errors.null_count == count - 2
    assert (
        errors[66_000].as_py()
        == "big.dat byte 198002 (record 66001, field n at copybook:3): bad packed sign nibble"
    )
    assert errors[69_999].as_py() == "big.dat byte 209997 (record 70000): truncated record"
    assert table.column("n").to_pylist()[65_535:65_538] == [65_535 % 999, 65_536 % 999, 65_537 % 999]
    assert table.column("n")[66_000].as_py() is None
