"""The copybook parser: offsets, lengths, kinds, names and Arrow types of a flattened layout."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from connectors import LayoutField, RecordLayout, load_copybook, parse_copybook
from govbus.errors import BadConfiguration

RESIDENT = """\
000100* Civil Registry resident export (fixed format, sequence numbers in 1-6)
000200 01  RESIDENT-RECORD.
000300     05  RESIDENT-ID              PIC X(11).
000400     05  RESIDENT-BIRTH-DATE.
000500         10  BIRTH-YEAR           PIC 9(4).
000600         10  BIRTH-MONTH          PIC 9(2).
000700         10  BIRTH-DAY            PIC 99.
000800     05  FILLER                   PIC X(3).
000900     05  MONTHLY-INCOME           PIC S9(7)V99 COMP-3.
001000     05  HOUSEHOLD-SIZE           PIC S9(4) COMP.
001100     05  BALANCE                  PIC S9(5)V99.
001200     05  STATUS-CODE              PIC X.
001300         88  STATUS-ACTIVE        VALUE 'A'.
001400     05  BIG-NUMBER               PIC 9(20).
001500     05  RUN-ID                   PIC 9(10) BINARY.
"""


def test_fields_get_offsets_lengths_kinds_in_record_order() -> None:
    layout = parse_copybook(RESIDENT, name="resident.cpy")
    shape = [(f.name, f.offset, f.length, f.kind, f.digits, f.scale, f.signed) for f in layout.fields]
    assert shape == [
        ("resident_id", 0, 11, "text", 0, 0, False),
        ("birth_year", 11, 4, "zoned", 4, 0, False),
        ("birth_month", 15, 2, "zoned", 2, 0, False),
        ("birth_day", 17, 2, "zoned", 2, 0, False),
        ("monthly_income", 22, 5, "packed", 9, 2, True),  # FILLER took 19..21
        ("household_size", 27, 2, "binary", 4, 0, True),
        ("balance", 29, 7, "zoned", 7, 2, True),
        ("status_code", 36, 1, "text", 0, 0, False),
        ("big_number", 37, 20, "zoned", 20, 0, False),
        ("run_id", 57, 8, "binary", 10, 0, False),
    ]
    assert layout.record_length == 65
    assert layout.fields[0].line == 3 and layout.source == "resident.cpy"


def test_arrow_schema_keeps_decimals_exact() -> None:
    schema = parse_copybook(RESIDENT).arrow_schema
    assert schema.field("resident_id").type == pa.string()
    assert schema.field("birth_year").type == pa.int64()
    assert schema.field("monthly_income").type == pa.decimal128(9, 2)
    assert schema.field("household_size").type == pa.int64()
    assert schema.field("balance").type == pa.decimal128(7, 2)
    assert schema.field("big_number").type == pa.decimal128(20, 0)  # more than 18 digits
    assert schema.field("run_id").type == pa.int64()


def test_path_naming_prefixes_every_group() -> None:
    layout = parse_copybook(RESIDENT, naming="path")
    assert "resident_record_resident_birth_date_birth_year" in layout.names
    assert parse_copybook("01 RESIDENT.\n 05 BIRTH-DATE PIC X(8).", naming="path").names == (
        "resident_birth_date",
    )


def test_leaf_names_are_qualified_by_their_groups_only_when_they_clash() -> None:
    layout = parse_copybook(
        """
        01 PERSON.
           05 BIRTH.
              10 YEAR PIC 9(4).
              10 PLACE PIC X(5).
           05 DEATH.
              10 YEAR PIC 9(4).
        """
    )
    assert layout.names == ("birth_year", "place", "death_year")


def test_identical_paths_are_refused_with_the_line() -> None:
    with pytest.raises(BadConfiguration) as error:
        parse_copybook("01 R.\n  05 A PIC X.\n  05 A PIC 9.\n", name="dup.cpy")
    assert error.value.where == "dup.cpy:3"
    assert "two fields would be named r_a" in error.value.message


def test_occurs_repeats_fields_with_suffixes() -> None:
    layout = parse_copybook(
        """
        01 FAMILY.
           05 CHILD OCCURS 2 TIMES.
              10 NAME  PIC X(3).
              10 SCORE PIC 9 OCCURS 2.
           05 TOTAL PIC 9(3).
        """
    )
    assert [(f.name, f.offset) for f in layout.fields] == [
        ("name_1", 0), ("score_1_1", 3), ("score_1_2", 4),
        ("name_2", 5), ("score_2_1", 8), ("score_2_2", 9),
        ("total", 10),
    ]  # fmt: skip
    assert layout.record_length == 13


def test_redefines_is_an_alternative_view_that_adds_no_bytes() -> None:
    layout = parse_copybook(
        """
        01 REC.
           05 KIND PIC X.
           05 PAYLOAD PIC X(6).
           05 AMOUNTS REDEFINES PAYLOAD.
              10 AMOUNT-A PIC S9(5) COMP-3.
              10 AMOUNT-B PIC 9(3).
           05 TAIL PIC X(2).
        """
    )
    by_name = {f.name: f for f in layout.fields}
    assert [by_name[n].offset for n in ("payload", "amount_a", "amount_b", "tail")] == [1, 1, 4, 7]
    assert layout.record_length == 9
    assert by_name["payload"].area == by_name["amount_a"].area == by_name["amount_b"].area == "payload@1"
    assert by_name["payload"].view == "payload" and by_name["amount_b"].view == "amounts"
    assert by_name["kind"].area is None and by_name["tail"].area is None


def test_several_records_are_views_of_one_record() -> None:
    layout = parse_copybook(
        "01 HEADER.\n 05 H-DATE PIC X(8).\n01 DETAIL.\n 05 D-ID PIC X(4).\n 05 D-AMT PIC 9(6)."
    )
    assert [(f.name, f.offset) for f in layout.fields] == [("h_date", 0), ("d_id", 0), ("d_amt", 4)]
    assert layout.record_length == 10
    assert {f.area for f in layout.fields} == {"header@0"}


def test_group_usage_applies_to_its_items_and_fillers_keep_their_bytes() -> None:
    layout = parse_copybook(
        """
        01 REC.
           05 AMOUNTS COMP-3.
              10 A PIC S9(3).
              10 FILLER PIC S9(5).
              10 B PIC 9(4).
           05 PIC X(2).
           05 C PIC S9(9) USAGE IS COMPUTATIONAL.
        """
    )
    assert [(f.name, f.offset, f.length, f.kind) for f in layout.fields] == [
        ("a", 0, 2, "packed"),
        ("b", 5, 3, "packed"),
        ("c", 10, 4, "binary"),
    ]


def test_free_format_comments_values_and_edited_pictures() -> None:
    layout = parse_copybook(
        """
      * a comment line
        01 REC.                           *> an inline comment
           05 NAME PIC X(5) VALUE 'A. B'.
           05 PRICE PICTURE IS ZZ,ZZ9.99.
           05 FLAG PIC X VALUE SPACES.
              88 IS-ON VALUE 'Y' 'y'.
           05 CODE-A PIC A(2) JUSTIFIED RIGHT.
        """
    )
    assert [(f.name, f.length, f.kind) for f in layout.fields] == [
        ("name", 5, "text"), ("price", 9, "edited"), ("flag", 1, "text"), ("code_a", 2, "text"),
    ]  # fmt: skip


def test_load_copybook_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.cpy"
    path.write_text("       01  REC.\n           05  A  PIC X(3).\n           05  B  PIC Q(2).\n")
    with pytest.raises(BadConfiguration) as error:
        load_copybook(path)
    assert error.value.where == "bad.cpy:3"
    with pytest.raises(BadConfiguration, match="does not exist"):
        load_copybook(tmp_path / "missing.cpy")


@pytest.mark.parametrize(
    ("copybook", "line", "words"),
    [
        ("01 R.\n 05 A PIC X(3)\n 05 B PIC X.", 2, "unknown clause"),
        ("01 R.\n 05 A PIC X(3) USAGE NATIONAL.", 2, "NATIONAL"),
        ("01 R.\n 05 N PIC 9.\n 05 A PIC X OCCURS 1 TO 5 DEPENDING ON Z.", 3, "DEPENDING ON counter"),
        (
            "01 R.\n 05 N PIC 9.\n 05 G OCCURS 2.\n  10 A PIC X OCCURS 1 TO 5 DEPENDING ON N.",
            4,
            "inside another",
        ),
        ("01 R.\n 05 A PIC X OCCURS 3 TO 2 DEPENDING ON N.\n 05 N PIC 9.", 2, "minimum not above"),
        ("01 R.\n 05 A PIC X OCCURS 5 TO 9.", 2, "needs DEPENDING ON"),
        ("01 R.\n 05 A PIC X.\n 05 B REDEFINES C PIC X.", 3, "REDEFINES"),
        ("01 R.\n 05 A.\n", 2, "needs a PIC"),
        ("01 R.\n 05 A PIC X.\n  10 B PIC X.", 3, "under an elementary item"),
        ("01 R.\n 05 A PIC 9(39).", 2, "38"),
        ("01 R.\n 05 A PIC X(3) COMP-3.", 2, "numeric PIC"),
        ("01 R.\n 05 A PIC X(3) SIGN LEADING SEPARATE.", 2, "SIGN clause needs a numeric PIC"),
        ("01 R.\n 05 A PIC 9P9.", 2, "P (decimal scaling)"),
        ("01 R.\n 05 A PIC X(2)S.", 2, "S must be the first"),
        ("01 R.\n X5 A PIC X.", 2, "level number"),
        ("01 R.\n 05 A PIC X SYNC.", 2, "SYNCHRONIZED"),
        ("01 R.\n 05 A OCCURS 2.\n  10 B PIC X.\n 05 C REDEFINES A PIC XX.", 4, "OCCURS"),
        ("01 R.\n 05 A PIC X(2) COMP-7.", 2, "unknown clause COMP-7"),
        ("01 R.\n 05 A PIC X.\n 66 B RENAMES Q.", 3, "RENAMES names an item"),
        ("88 FLAG VALUE 'Y'.\n01 R.\n 05 A PIC X.", 1, "must follow the item"),
        ("01 R.\n 05 A PIC X.\n     COPY NOWHERE.", 3, "COPY NOWHERE: no such member"),
    ],
)
def test_problems_name_the_copybook_line(copybook: str, line: int, words: str) -> None:
    with pytest.raises(BadConfiguration) as error:
        parse_copybook(copybook, name="r.cpy")
    assert error.value.where == f"r.cpy:{line}"
    assert words.lower() in str(error.value).lower()


def test_hand_built_layouts_are_checked() -> None:
    text = LayoutField("name", 0, 3, "text")
    assert RecordLayout((text,), 3).arrow_schema.names == ["name"]
    with pytest.raises(BadConfiguration, match="takes 3 bytes"):
        RecordLayout((LayoutField("amount", 0, 2, "packed", digits=5),), 2)
    with pytest.raises(BadConfiguration, match="ends after the record"):
        RecordLayout((text,), 2)
    with pytest.raises(BadConfiguration, match="two fields"):
        RecordLayout((text, text), 3)
    with pytest.raises(BadConfiguration, match="usable field name"):
        RecordLayout((LayoutField("_govbus_source_error", 0, 3, "text"),), 3)
