"""Numbers of every USAGE and PICTURE form, decoded from bytes made by independent
encoders (`test_mainframe_bytes`, `test_fixed_width_encoding`): property tests over random
values, and the edge cases by hand."""

from __future__ import annotations

import math
from decimal import Decimal, localcontext
from fractions import Fraction

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors import decode_records, parse_copybook
from connectors.mainframe.decode_options import DecodeOptions
from tests.connectors.mainframe.test_fixed_width_encoding import encode_text, packed, zoned
from tests.connectors.mainframe.test_mainframe_bytes import (
    binary_bytes,
    ibm_float,
    ibm_float_value,
    zoned_sign,
)

ERROR = "_govbus_source_error"


def decode_one(copybook: str, record: bytes, encoding: str = "cp037", **keywords: object) -> dict:
    layout = parse_copybook(copybook, name="n.cpy")
    buffer = np.frombuffer(record.ljust(layout.record_length, b"\0"), np.uint8).reshape(1, -1)
    return decode_records(buffer, layout, encoding, file="n.dat", **keywords).to_pylist()[0]  # type: ignore[arg-type]


def scaled(value: int, scale: int) -> int | Decimal:
    with localcontext(prec=80):
        return value if scale == 0 else Decimal(value).scaleb(-scale)


@settings(max_examples=150, deadline=None)
@given(st.integers(1, 38), st.data(), st.booleans())
def test_packed_decimals_of_any_size(digits: int, data: st.DataObject, signed: bool) -> None:
    scale = data.draw(st.integers(0, digits))
    low = -(10**digits) + 1 if signed else 0
    value = data.draw(st.integers(low, 10**digits - 1))
    picture = f"{'S' if signed else ''}9({digits - scale})" + (f"V9({scale})" if scale else "")
    picture = picture.replace("9(0)", "")
    row = decode_one(f"01 R.\n 05 N PIC {picture} COMP-3.", packed(value, digits, signed=signed))
    assert row[ERROR] is None and row["n"] == (value if scale == 0 and digits <= 18 else scaled(value, scale))


@settings(max_examples=150, deadline=None)
@given(st.integers(1, 38), st.sampled_from(["trailing", "leading", "trailing_separate", "leading_separate"]),
       st.data())  # fmt: skip
def test_zoned_decimals_in_every_sign_form(digits: int, sign: str, data: st.DataObject) -> None:
    value = data.draw(st.integers(-(10**digits) + 1, 10**digits - 1))
    clause = {"trailing": "", "leading": " SIGN LEADING", "trailing_separate": " SIGN TRAILING SEPARATE",
              "leading_separate": " SIGN IS LEADING SEPARATE CHARACTER"}[sign]  # fmt: skip
    row = decode_one(f"01 R.\n 05 N PIC S9({digits}){clause}.", zoned_sign(value, digits, sign))
    assert row[ERROR] is None and row["n"] == value


def test_a_separate_sign_must_be_plus_or_minus() -> None:
    row = decode_one("01 R.\n 05 N PIC S9(3) SIGN TRAILING SEPARATE.", b"\xf1\xf2\xf3\xc1")
    assert row[ERROR] == "n.dat byte 3 (record 1, field n at n.cpy:2): bad zoned sign"


finite = st.floats(allow_nan=False, allow_infinity=False, min_value=-1e70, max_value=1e70).filter(
    lambda v: v == 0 or abs(v) > 1e-75  # IBM floats reach 16**-65 (about 5.4e-79)
)


@settings(max_examples=300, deadline=None)
@given(finite)
def test_comp_2_is_ibm_hexadecimal_double(value: float) -> None:
    encoded = ibm_float(value, 8)  # exact: a double's 53 bits fit the 56-bit fraction
    row = decode_one("01 R.\n 05 D COMP-2.", encoded)
    assert row["d"] == value


@settings(max_examples=300, deadline=None)
@given(st.binary(min_size=8, max_size=8))
def test_comp_2_rounds_a_56_bit_fraction_once(data: bytes) -> None:
    row = decode_one("01 R.\n 05 D COMP-2.", data)
    assert row["d"] == float(ibm_float_value(data))  # Python rounds a Fraction correctly


@settings(max_examples=300, deadline=None)
@given(st.binary(min_size=4, max_size=4))
def test_comp_1_is_ibm_hexadecimal_single(data: bytes) -> None:
    exact = ibm_float_value(data)
    row = decode_one("01 R.\n 05 F COMP-1.", data)
    if abs(exact) > Fraction(float(np.finfo(np.float32).max)):
        assert row[ERROR].endswith("value beyond the range of a single-precision float")
    else:
        assert row[ERROR] is None and row["f"] == float(np.float32(float(exact)))


def test_float_types_and_ieee_formats() -> None:
    layout = parse_copybook("01 R.\n 05 F COMP-1.\n 05 D USAGE IS COMP-2.")
    assert layout.arrow_schema.types == [pa.float32(), pa.float64()]
    big_single = np.array([1.5], ">f4").tobytes()
    little_double = np.array([-2.25], "<f8").tobytes()
    ieee = decode_one("01 R.\n 05 F COMP-1.", big_single, options=DecodeOptions(float_format="ieee754"))
    little = decode_one(
        "01 R.\n 05 D COMP-2.", little_double, options=DecodeOptions(float_format="ieee754_little_endian")
    )
    assert (ieee["f"], little["d"]) == (1.5, -2.25)
    assert decode_one("01 R.\n 05 F COMP-1.", ibm_float(-1.0, 4)[::-1],
                      options=DecodeOptions(float_format="ibm_little_endian"))["f"] == -1.0  # fmt: skip
    assert decode_one("01 R.\n 05 F COMP-1.", bytes.fromhex("80000000"))["f"] == 0.0  # negative zero


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 38), st.sampled_from(["COMP", "COMP-4", "BINARY", "COMP-0", "COMP-5", "COMP-9"]),
       st.booleans(), st.data())  # fmt: skip
def test_binary_of_any_size_and_usage(digits: int, usage: str, signed: bool, data: st.DataObject) -> None:
    layout = parse_copybook(f"01 R.\n 05 N PIC {'S' if signed else ''}9({digits}) {usage}.")
    field = layout.fields[0]
    expected_length = (1 if usage == "COMP-9" and digits <= 2 else 2 if digits <= 4 else 4 if digits <= 9
                       else 8 if digits <= 18 else math.ceil((math.log2(10) * digits + 1) / 8))  # fmt: skip
    assert field.length == expected_length
    if usage == "COMP-5":  # native: the whole range of the bytes
        low, high = (-(2 ** (8 * field.length - 1)), 2 ** (8 * field.length - 1) - 1) if signed else (
            0, 2 ** (8 * field.length) - 1)  # fmt: skip
    else:
        low, high = (-(10**digits) + 1 if signed else 0), 10**digits - 1
    low, high = max(low, -(10**38) + 1), min(high, 10**38 - 1)  # decimal128 holds 38 digits
    value = data.draw(st.integers(low, high))
    encoded = binary_bytes(value, field.length, signed=signed, little=usage == "COMP-9")
    row = decode_one(f"01 R.\n 05 N PIC {'S' if signed else ''}9({digits}) {usage}.", encoded)
    assert row[ERROR] is None and row["n"] == value


def test_binary_beyond_the_pic_digits_is_refused_unless_native() -> None:
    assert decode_one("01 R.\n 05 N PIC S9(20) COMP.", binary_bytes(10**20, 9))[ERROR].endswith(
        "value exceeds the PIC digits"
    )
    assert decode_one("01 R.\n 05 N PIC S9(4) COMP-5.", binary_bytes(-32768, 2))["n"] == -32768
    assert decode_one("01 R.\n 05 N PIC 9(18) COMP-5.", b"\xff" * 8)["n"] == 2**64 - 1


@pytest.mark.parametrize(
    ("picture", "data", "expected", "arrow_type"),
    [
        ("9(3)PP", b"\xf1\xf2\xf3", 12300, pa.int64()),
        ("S9(2)PPP", b"\xf4\xd5", -45000, pa.int64()),
        ("PP99", b"\xf4\xf5", Decimal("0.0045"), pa.decimal128(4, 4)),
        ("SVPPP9(2)", b"\xf1\xd2", Decimal("-0.00012"), pa.decimal128(5, 5)),
        ("9(18)PP", b"\xf9" * 18, 10**20 - 100, pa.decimal128(20, 0)),
        ("S9(3)PP COMP-3", b"\x12\x3d", -12300, pa.int64()),
        ("S9(4)PPP COMP", binary_bytes(-1234, 2), -1234000, pa.int64()),
        ("S9(4)P(15) COMP", binary_bytes(-1234, 2), -1234 * 10**15, pa.decimal128(19, 0)),
    ],
)
def test_p_scaling(picture: str, data: bytes, expected: object, arrow_type: pa.DataType) -> None:
    assert parse_copybook(f"01 R.\n 05 N PIC {picture}.").arrow_schema.field("n").type == arrow_type
    row = decode_one(f"01 R.\n 05 N PIC {picture}.", data)
    assert row[ERROR] is None and row["n"] == expected


EDITED = {
    "ZZ,ZZ9.99-": lambda v: f"{abs(v):>9,.2f}" + ("-" if v < 0 else " "),
    "$$$,$$9.99CR": lambda v: f"${abs(v):,.2f}".rjust(10) + ("CR" if v < 0 else "  "),
    "-ZZZ9": lambda v: ("-" if v < 0 else " ") + f"{abs(v):>4d}",
    "+9(4)": lambda v: ("-" if v < 0 else "+") + f"{abs(v):04d}",
    "***,**9": lambda v: f"{abs(v):,d}".rjust(7, "*"),
    "--,--9": lambda v: (("-" if v < 0 else "") + f"{abs(v):,d}").rjust(6),
    "ZZZ9.99DB": lambda v: f"{abs(v):>7.2f}" + ("DB" if v < 0 else "  "),
}
RANGES = {"ZZ,ZZ9.99-": (99999.99, 2), "$$$,$$9.99CR": (99999.99, 2), "-ZZZ9": (9999, 0), "+9(4)": (9999, 0),
          "***,**9": (99999, 0), "--,--9": (9999, 0), "ZZZ9.99DB": (9999.99, 2)}  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(sorted(EDITED)), st.data(), st.sampled_from(["cp037", "ascii"]))
def test_edited_numbers_read_back_as_numbers(picture: str, data: st.DataObject, encoding: str) -> None:
    top, scale = RANGES[picture]
    unscaled = data.draw(st.integers(-round(top * 10**scale), round(top * 10**scale)))
    if picture == "***,**9":
        unscaled = abs(unscaled)
    value = Decimal(unscaled).scaleb(-scale) if scale else unscaled
    text = EDITED[picture](value)
    row = decode_one(f"01 R.\n 05 N PIC {picture}.", encode_text(text, encoding), encoding)
    assert row[ERROR] is None and row["n"] == value, text


def test_s_in_an_edited_picture_and_explicit_points() -> None:
    assert decode_one("01 R.\n 05 N PIC S9(3).99.", b"\xf1\xf2\xf3\x4b\xf4\xd5")["n"] == Decimal("-123.45")
    assert decode_one("01 R.\n 05 N PIC 99.99.", encode_text("07.50", "cp037"))["n"] == Decimal("7.50")
    row = decode_one("01 R.\n 05 N PIC S9(2).9 SIGN LEADING SEPARATE.", encode_text("-12.5", "cp037"))
    assert row["n"] == Decimal("-12.5")
    assert decode_one("01 R.\n 05 N PIC ZZ9.99 BLANK WHEN ZERO.", b"\x40" * 6)["n"] == Decimal("0.00")
    assert decode_one("01 R.\n 05 N PIC ZZ9.99.", encode_text(" 1x.00", "cp037"))[ERROR] == (
        "n.dat byte 2 (record 1, field n at n.cpy:2): bad character in an edited number"
    )
    assert parse_copybook("01 R.\n 05 D PIC 99/99/99.").fields[0].kind == "text"  # a date stays text


def test_comp_0_is_binary_and_usage_clauses_apply_to_groups() -> None:
    layout = parse_copybook(
        "01 R.\n 05 G COMP-0.\n  10 A PIC S9(4).\n  10 B PIC 9(9).\n 05 C PIC S9(3) COMP-5."
    )
    assert [(f.kind, f.length, f.native) for f in layout.fields] == [
        ("binary", 2, False), ("binary", 4, False), ("binary", 2, True),
    ]  # fmt: skip
    signed = parse_copybook("01 R.\n 05 G SIGN IS LEADING SEPARATE.\n  10 A PIC S9(3).\n  10 T PIC X.")
    assert [(f.length, f.sign) for f in signed.fields] == [(4, "leading_separate"), (1, "trailing")]
    unsigned = zoned(5, 3, signed=False) + b"\x00\x5f"
    assert decode_one("01 R.\n 05 Z PIC 9(3).\n 05 P PIC 9(3) COMP-3.", unsigned)["p"] == 5
