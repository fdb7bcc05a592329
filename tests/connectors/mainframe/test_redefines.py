"""REDEFINES: a record is rejected only when every view of an area fails, and the reason
names a field that failed (issue 19: one valid record in seven was rejected)."""

from __future__ import annotations

import random

import numpy as np
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors import decode_records, parse_copybook
from connectors.mainframe.decode_options import DecodeOptions, FieldPolicy
from tests.connectors.mainframe.test_fixed_width_differential import _reference_value
from tests.connectors.mainframe.test_fixed_width_encoding import packed, text, zoned

ERROR = "_govbus_source_error"


def decode(copybook: str, records: list[bytes], encoding: str = "cp037", **keywords: object) -> pa.Table:
    layout = parse_copybook(copybook, name="r.cpy")
    width = max(len(r) for r in records)
    buffer = np.frombuffer(b"".join(r.ljust(width, b"\0") for r in records), np.uint8).reshape(
        len(records), -1
    )
    return decode_records(buffer, layout, encoding, file="r.dat", **keywords)  # type: ignore[arg-type]


ISSUE = "01 R.\n 05 A.\n  10 A1 PIC X.\n  10 A2 PIC X.\n 05 B REDEFINES A PIC 9(2)."


def test_the_issues_minimal_case_decodes() -> None:
    table = decode(ISSUE, [b"AB", b"12"], "ascii")
    assert table.column(ERROR).to_pylist() == [None, None]
    assert table.column("a1").to_pylist() == ["A", "1"]
    assert table.column("b").to_pylist() == [None, 12]


def test_a_record_no_view_decodes_names_a_failing_field() -> None:
    copybook = "01 R.\n 05 A PIC S9(3) COMP-3.\n 05 B REDEFINES A PIC 9(2).\n 05 C PIC X."
    table = decode(copybook, [b"\x4a\x4a" + b"\xc1", packed(-5, 3) + b"\xc1"])
    assert table.column(ERROR).to_pylist() == [
        "r.dat byte 0 (record 1, field a at r.cpy:2): bad packed digit",
        None,
    ]
    assert table.column("a").to_pylist() == [None, -5] and table.column("b").to_pylist() == [None, None]


def test_a_field_outside_the_area_still_rejects() -> None:
    copybook = "01 R.\n 05 A PIC 9(2).\n 05 B REDEFINES A PIC X(2).\n 05 N PIC 9(2)."
    table = decode(copybook, [b"\xf1\xf2\xc1\xc1"])
    assert table.column(ERROR)[0].as_py() == "r.dat byte 2 (record 1, field n at r.cpy:4): bad zoned digit"


def test_nested_redefines_count_inside_their_view() -> None:
    copybook = """
        01 R.
           05 BODY.
              10 X1 PIC 9(2).
              10 X2 REDEFINES X1 PIC S9(3) COMP-3.
           05 ALT REDEFINES BODY PIC X(2).
        """
    rows = decode(copybook, [b"\xc1\xc1", zoned(12, 2, signed=False), packed(7, 3)]).to_pylist()
    assert [r[ERROR] for r in rows] == [None, None, None]  # ALT (text) always decodes
    assert [(r["x1"], r["x2"], r["alt"]) for r in rows] == [
        (None, None, "AA"), (12, None, "12"), (None, 7, "\x00@"),  # cp037: 0x00 NUL, 0x7C '@'

    ]  # fmt: skip


def test_several_01_records_are_views() -> None:
    copybook = "01 HEADER.\n 05 H-DATE PIC 9(8).\n01 DETAIL.\n 05 D-ID PIC X(4).\n 05 D-AMT PIC S9(7) COMP-3."
    detail = text("D001", 4) + packed(-1234, 7)
    header = zoned(20240131, 8, signed=False)
    table = decode(copybook, [header, detail])
    assert table.column(ERROR).to_pylist() == [None, None]
    assert table.column("h_date").to_pylist() == [20240131, None]
    assert table.column("d_amt").to_pylist() == [None, -1234]


def test_a_null_policy_view_does_not_fail_its_area() -> None:
    copybook = "01 R.\n 05 A PIC S9(3) COMP-3.\n 05 B REDEFINES A PIC 9(2)."
    options = DecodeOptions(field_policies={"a": FieldPolicy("null")})
    table = decode(copybook, [b"\x4a\x4a"], options=options)
    assert table.column(ERROR).to_pylist() == [None]


def test_a_thousand_records_valid_in_one_view_are_all_kept() -> None:
    """Records are a packed number or two zoned digits, at random: each decodes in exactly
    one view, and none may be rejected (the bug rejected those whose view was not the
    one that failed first in the batch)."""
    rng = random.Random(19)
    copybook = """
        01 R.
           05 KIND PIC X.
           05 AMOUNT PIC S9(3) COMP-3.
           05 CODE-V REDEFINES AMOUNT PIC 9(2).
           05 NAME PIC X(3).
        """
    records, expected = [], []
    for _ in range(1000):
        if rng.random() < 0.5:
            value = rng.randrange(-999, 1000)
            records.append(text("P", 1) + packed(value, 3) + text("abc", 3))
            expected.append((value, None))
        else:
            value = rng.randrange(100)
            records.append(text("Z", 1) + zoned(value, 2, signed=False) + text("abc", 3))
            expected.append((None, value))
    table = decode(copybook, records)
    assert table.column(ERROR).null_count == 1000
    assert list(zip(table.column("amount").to_pylist(), table.column("code_v").to_pylist(), strict=True)) == (
        expected
    )


AREA = parse_copybook(
    "01 R.\n 05 K PIC X.\n 05 A.\n  10 A1 PIC S9(3) COMP-3.\n  10 A2 PIC 9.\n"
    " 05 B REDEFINES A.\n  10 B1 PIC 9(2).\n  10 B2 PIC S9(1) COMP-3.\n 05 T PIC 9.",
    name="r.cpy",
)


def _fails(data: bytes, field: object) -> tuple[str, int] | None:
    return _reference_value(data, field, "cp037")[1]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(min_size=AREA.record_length, max_size=AREA.record_length), min_size=1, max_size=30))
def test_arbitrary_records_are_rejected_exactly_when_every_view_fails(records: list[bytes]) -> None:
    """A slow reference: per record, the first failing field of each view and outside."""
    buffer = np.frombuffer(b"".join(records), np.uint8).reshape(len(records), -1)
    errors = decode_records(buffer, AREA, file="r.dat").column(ERROR).to_pylist()
    by_name = {f.name: f for f in AREA.fields}
    for number, (record, error) in enumerate(zip(records, errors, strict=True), 1):

        def first_failure(names: tuple[str, ...], record: bytes = record) -> tuple[str, int, str] | None:
            for name in names:
                field = by_name[name]
                problem = _fails(record[field.offset : field.offset + field.length], field)
                if problem is not None:
                    return name, field.offset + problem[1], problem[0]
            return None

        outside, view_a, view_b = (
            first_failure(("k",)),
            first_failure(("a1", "a2")),
            first_failure(("b1", "b2")),
        )
        tail = first_failure(("t",))
        area = view_a if view_a is not None and view_b is not None else None
        failure = outside or area or tail
        expected = None
        if failure is not None:
            name, at, reason = failure
            field = by_name[name]
            where = f"field {name} at r.cpy:{field.line}"
            expected = (
                f"r.dat byte {(number - 1) * AREA.record_length + at} (record {number}, {where}): {reason}"
            )
        assert error == expected
