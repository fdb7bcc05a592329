"""What a bad value, a blank number and a short record become: the defaults, and the
per-file and per-field choices a contract makes."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pyarrow as pa
import pytest

from connectors import decode_records, parse_copybook
from connectors.mainframe.decode_options import DecodeOptions, FieldPolicy
from govbus.errors import BadConfiguration
from tests.connectors.mainframe.test_fixed_width_encoding import packed, text, zoned

ERROR = "_govbus_source_error"
LAYOUT = parse_copybook(
    "01 R.\n 05 NAME PIC X(4).\n 05 QTY PIC 9(3).\n 05 AMT PIC S9(3)V99 COMP-3.\n 05 BIN PIC S9(4) COMP.",
    name="p.cpy",
)
GOOD = text("ANNA", 4) + zoned(12, 3, signed=False) + packed(-12345, 5) + (7).to_bytes(2, "big")
BAD_QTY = text("BERT", 4) + b"\xf1\xc1\xf3" + packed(100, 5) + (8).to_bytes(2, "big")
BLANK = text("CARL", 4) + b"\x40" * 3 + b"\x40" * 3 + (9).to_bytes(2, "big")


def decode(records: list[bytes], options: DecodeOptions | None = None, **keywords: object) -> pa.Table:
    width = max(len(r) for r in records)
    buffer = np.frombuffer(b"".join(r.ljust(width, b"\0") for r in records), np.uint8).reshape(
        len(records), -1
    )
    extra = {} if options is None else {"options": options}
    return decode_records(buffer, LAYOUT, file="p.dat", **extra, **keywords)  # type: ignore[arg-type]


def test_defaults_reject_bad_values_and_null_blank_numbers() -> None:
    rows = decode([GOOD, BAD_QTY, BLANK]).to_pylist()
    assert rows[0][ERROR] is None and rows[0]["amt"] == Decimal("-123.45")
    assert rows[1][ERROR] == "p.dat byte 17 (record 2, field qty at p.cpy:3): bad zoned digit"
    assert rows[1]["name"] is None  # a rejected record keeps no value
    assert (rows[2][ERROR], rows[2]["qty"], rows[2]["amt"], rows[2]["bin"]) == (None, None, None, 9)


def test_null_and_zero_keep_the_record() -> None:
    nulled = decode([BAD_QTY], DecodeOptions(policy=FieldPolicy("null"))).to_pylist()[0]
    assert (nulled[ERROR], nulled["name"], nulled["qty"], nulled["amt"]) == (
        None,
        "BERT",
        None,
        Decimal("1.00"),
    )
    zeroed = decode([BAD_QTY], DecodeOptions(policy=FieldPolicy("zero"))).to_pylist()[0]
    assert (zeroed[ERROR], zeroed["qty"]) == (None, 0)


def test_blank_numbers_may_read_as_zero_or_be_rejected() -> None:
    zero = decode([BLANK], DecodeOptions(policy=FieldPolicy(blank="zero"))).to_pylist()[0]
    assert (zero["qty"], zero["amt"]) == (0, Decimal("0.00"))
    rejected = decode([BLANK], DecodeOptions(policy=FieldPolicy(blank="reject"))).to_pylist()[0]
    assert rejected[ERROR] == "p.dat byte 4 (record 1, field qty at p.cpy:3): blank number (all spaces)"


def test_field_policies_override_the_files() -> None:
    options = DecodeOptions(field_policies={"qty": FieldPolicy("zero", "zero")})
    rows = decode([BAD_QTY, BLANK], options).to_pylist()
    assert [(r[ERROR], r["qty"], r["amt"]) for r in rows] == [(None, 0, Decimal("1.00")), (None, 0, None)]


def test_a_bad_text_byte_follows_the_policy_too() -> None:
    layout = parse_copybook("01 R.\n 05 T PIC X(3).\n 05 N PIC 9.")
    buffer = np.frombuffer(b"a\xffb1", np.uint8).reshape(1, -1)
    for policy, value in (("null", None), ("zero", "")):
        options = DecodeOptions(policy=FieldPolicy(policy))
        row = decode_records(buffer, layout, "ascii", options=options).to_pylist()[0]
        assert (row[ERROR], row["t"], row["n"]) == (None, value, 1)


@pytest.mark.parametrize(
    ("policy", "length", "expected"),
    [
        (
            "reject",
            6,
            (None, None, "p.dat byte 6 (record 1, field qty at p.cpy:3): the record ends inside the field"),
        ),
        ("null", 6, ("ANNA", None, None)),
        ("null", 2, (None, None, None)),
        ("keep", 6, ("ANNA", None, None)),
        ("keep", 2, ("AN", None, None)),
    ],
)
def test_short_records(policy: str, length: int, expected: tuple) -> None:
    row = decode([GOOD], DecodeOptions(short_record=policy), lengths=np.array([length])).to_pylist()[0]
    assert (row["name"], row["qty"], row[ERROR]) == expected


def test_short_text_keeps_its_characters_and_an_absent_one_is_empty() -> None:
    layout = parse_copybook("01 R.\n 05 A PIC X(4).\n 05 B PIC X(4).")
    buffer = np.frombuffer(text("XY", 2) + bytes(6), np.uint8).reshape(1, -1)
    row = decode_records(buffer, layout, lengths=np.array([2]), options=DecodeOptions(short_record="keep"))
    assert row.to_pylist()[0] | {"_govbus_source_position": None, "_govbus_source_raw": None} == {
        "a": "XY", "b": "", ERROR: None, "_govbus_source_position": None, "_govbus_source_raw": None,
    }  # fmt: skip


@pytest.mark.parametrize(("trim", "expected"), [("right", "  A B"), ("both", "A B"), ("left", "A B  "),
                                                ("none", "  A B  ")])  # fmt: skip
def test_text_trimming(trim: str, expected: str) -> None:
    layout = parse_copybook("01 R.\n 05 T PIC X(7).")
    buffer = np.frombuffer(text("  A B", 7), np.uint8).reshape(1, -1)
    assert (
        decode_records(buffer, layout, options=DecodeOptions(text_trim=trim)).column("t")[0].as_py()
        == expected
    )


def test_unknown_policies_are_refused_naming_the_setting() -> None:
    with pytest.raises(BadConfiguration) as error:
        FieldPolicy("skip")
    assert error.value.where == "on_bad_value"
    with pytest.raises(BadConfiguration) as error:
        DecodeOptions(short_record="pad")
    assert error.value.where == "on_short_record"


def test_an_all_space_edited_number_is_blank_unless_blank_when_zero() -> None:
    layout = parse_copybook("01 R.\n 05 A PIC ZZ9.99.\n 05 B PIC ZZ9.99 BLANK WHEN ZERO.")
    buffer = np.full((1, 12), 0x40, dtype=np.uint8)
    row = decode_records(buffer, layout).to_pylist()[0]
    assert (row["a"], row["b"], row[ERROR]) == (None, Decimal("0.00"), None)
