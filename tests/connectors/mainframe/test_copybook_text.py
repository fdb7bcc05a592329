"""Copybooks read as compilers read them: reference format areas, indicators,
continuation lines, DOS end-of-file, COPY … REPLACING, levels 66 and 88."""

from __future__ import annotations

from pathlib import Path

import pytest

from connectors import load_copybook, parse_copybook
from govbus.errors import BadConfiguration


def fixed(*lines: tuple[str, str, str, str]) -> str:
    """Reference-format lines from (sequence area, indicator, code, identification area)."""
    return "".join(f"{seq:<6.6}{ind:1.1}{code:<65.65}{ident}\n" for seq, ind, code, ident in lines)


def test_sequence_and_identification_areas_are_ignored_whatever_they_hold() -> None:
    text = fixed(
        ("CUST01", " ", "01  CUSTOMER.", "CUSTREC1"),
        ("AB 12 ", " ", "    05  CUST-ID      PIC X(6).", "99999999"),
        ("      ", "*", "    05  COMMENTED    PIC X(9).", ""),
        ("000400", "/", "  a page-eject comment", ""),
        ("000500", "D", "    05  DEBUG-ONLY   PIC X(9).", ""),
        ("000600", " ", "    05  BALANCE      PIC S9(5)V99 COMP-3.", "PIC X(99)"),
    )
    layout = parse_copybook(text, name="cust.cpy")
    assert [(f.name, f.offset, f.length, f.line) for f in layout.fields] == [
        ("cust_id", 0, 6, 2), ("balance", 6, 4, 6),
    ]  # fmt: skip


def test_continuation_lines_continue_words_and_literals() -> None:
    literal = "VALUE 'ABCDEFGHIJ" + "K" * 25  # left open: the spaces up to column 72 belong to it
    padding = " " * (65 - len(f"        88 IS-SET {literal}"))
    text = fixed(
        ("000100", " ", "01  R.", ""),
        ("000200", " ", "    05  LONG-NA", ""),
        ("000300", "-", "          ME PIC X(3).", ""),
        ("000400", " ", "    05  FLAG PIC X(60).", ""),
        ("000500", " ", f"        88 IS-SET {literal}", ""),
        ("000600", "-", "        'LMN'.", ""),
    )
    layout = parse_copybook(text)
    assert layout.names == ("long_name", "flag")
    (condition,) = layout.conditions
    assert condition.values == ("'ABCDEFGHIJ" + "K" * 25 + padding + "LMN'",) and len(padding) == 5


def test_a_dos_end_of_file_byte_and_tabs_are_tolerated(tmp_path: Path) -> None:
    path = tmp_path / "dos.cpy"
    path.write_bytes(b"       01  R.\r\n\t   05  A  PIC X(2).\r\n           05  B\tPIC 9.\r\n\x1a")
    assert load_copybook(path).names == ("a", "b")


def test_free_format_is_kept_when_columns_1_to_7_hold_code() -> None:
    layout = parse_copybook("01 R. *> the record\n 05 A PIC X(3).\n* a comment line\n 05 B PIC 9(2).")
    assert [(f.name, f.offset) for f in layout.fields] == [("a", 0), ("b", 3)]


def test_the_format_can_be_forced() -> None:
    text = "01 R.\n 05 A PIC X(3).\n"
    assert parse_copybook(text, form="free").names == ("a",)
    with pytest.raises(BadConfiguration) as error:
        parse_copybook(text, form="fixed", name="r.cpy")
    assert error.value.where == "copybook_format" or error.value.where.startswith("r.cpy")


def test_listing_directives_are_skipped() -> None:
    layout = parse_copybook("       01  R.\n           EJECT\n           05  A PIC X.\n           SKIP2\n"
                            "           05  B PIC X.\n")  # fmt: skip
    assert layout.names == ("a", "b")


def test_condition_names_and_renames_are_kept_as_documentation() -> None:
    layout = parse_copybook(
        """
        01 R.
           05 STATUS-CODE PIC X.
              88 ACTIVE     VALUE 'A'.
              88 CLOSED     VALUES ARE 'C' 'X'.
           05 SCORE PIC 9(2) OCCURS 2.
              88 PASSING    VALUE 50 THRU 99.
           05 NAME PIC X(5).
              88 NO-NAME    VALUE SPACES.
        66 STATUS-AND-SCORE RENAMES STATUS-CODE THRU SCORE.
        """,
        name="r.cpy",
    )
    by_name = {c.name: c for c in layout.conditions}
    assert by_name["active"].values == ("'A'",) and by_name["active"].fields == ("status_code",)
    assert by_name["closed"].values == ("'C'", "'X'")
    assert by_name["passing"].values == ("50 THRU 99",) and by_name["passing"].fields == (
        "score_1",
        "score_2",
    )
    assert by_name["no_name"].values == ("SPACES",)
    (renamed,) = layout.renames
    assert (renamed.name, renamed.fields) == ("status_and_score", ("status_code", "score_1", "score_2"))
    assert layout.names == ("status_code", "score_1", "score_2", "name")  # no extra column


def test_copy_replacing_pseudo_text_partial_words_and_leading(tmp_path: Path) -> None:
    (tmp_path / "ADDRESS.cpy").write_text(
        "           05  :PFX:-STREET   PIC X(20).\n"
        "           05  :PFX:-ZIP      PIC 9(5).\n"
        "           05  TMP-CODE       PIC X(2).\n"
    )
    (tmp_path / "main.cpy").write_text(
        "       01  CUSTOMER.\n"
        "           05  CUST-ID        PIC X(6).\n"
        "           COPY ADDRESS REPLACING ==:PFX:== BY ==HOME==\n"
        "                                  LEADING ==TMP== BY ==KEEP==.\n"
        "           COPY 'ADDRESS.cpy' REPLACING ==:PFX:== BY ==WORK==\n"
        "                ==TMP-CODE== BY ==W-CODE==.\n"
    )
    layout = load_copybook(tmp_path / "main.cpy")
    assert layout.names == (
        "cust_id", "home_street", "home_zip", "keep_code", "work_street", "work_zip", "w_code",
    )  # fmt: skip
    assert layout.fields[1].source == "ADDRESS.cpy" and layout.fields[1].line == 1
    assert layout.record_length == 6 + 2 * 27


def test_copy_members_nest_and_come_from_the_library(tmp_path: Path) -> None:
    library = tmp_path / "lib"
    library.mkdir()
    (library / "inner.cpy").write_text("           05  INNER-A  PIC 9(3).\n")
    (library / "OUTER").write_text("           05  OUTER-A  PIC X.\n           COPY INNER.\n")
    (tmp_path / "main.cpy").write_text("       01  R.\n           COPY OUTER.\n")
    assert load_copybook(tmp_path / "main.cpy", library=["lib"]).names == ("outer_a", "inner_a")
    with pytest.raises(BadConfiguration) as error:
        load_copybook(tmp_path / "main.cpy")
    assert error.value.where == "main.cpy:2" and "COPY OUTER: no such member" in error.value.message


def test_copy_errors_name_the_member_line_and_refuse_cycles(tmp_path: Path) -> None:
    (tmp_path / "bad.cpy").write_text("           05  OK     PIC X.\n           05  WRONG  PIC Q(2).\n")
    (tmp_path / "main.cpy").write_text("       01  R.\n           COPY BAD.\n")
    with pytest.raises(BadConfiguration) as error:
        load_copybook(tmp_path / "main.cpy")
    assert error.value.where == "bad.cpy:2" and "WRONG" in error.value.message
    (tmp_path / "loop.cpy").write_text("           COPY LOOP.\n")
    (tmp_path / "top.cpy").write_text("       01  R.\n           05 A PIC X.\n           COPY LOOP.\n")
    with pytest.raises(BadConfiguration, match="copies itself"):
        load_copybook(tmp_path / "top.cpy")


def test_a_member_cannot_be_read_from_outside_its_folders(tmp_path: Path) -> None:
    (tmp_path / "secret.cpy").write_text("           05  SECRET  PIC X.\n")
    inner = tmp_path / "copybooks"
    inner.mkdir()
    (inner / "link.cpy").symlink_to(tmp_path / "secret.cpy")
    for statement in ("COPY '../secret.cpy'.", f"COPY '{tmp_path / 'secret.cpy'}'.", "COPY LINK."):
        (inner / "main.cpy").write_text(f"       01  R.\n           05  A PIC X.\n           {statement}\n")
        with pytest.raises(BadConfiguration, match="no such member"):
            load_copybook(inner / "main.cpy")


def test_banner_comments_tabs_and_clauses_split_over_lines() -> None:
    text = (
        "        01  RECORD.\n"
        "********************************************\n"
        "*******   a banner starting in column 1\n"
        "          10  AMOUNT-A   PIC S9(9) SIGN IS\n"
        "\t\t                          LEADING SEPARATE.\n"
        "\t\t  \n"
        "          10  AMOUNT-B   PIC 99V99 SIGN\n"
        "                         TRAILING SEPARATE.\n"
        "          10  SCALED     PIC SPPP9(5)  COMP-3.\n"
    )
    layout = parse_copybook(text)
    assert [(f.name, f.length, f.sign, f.signed, f.scale) for f in layout.fields] == [
        ("amount_a", 10, "leading_separate", True, 0),
        ("amount_b", 5, "trailing_separate", True, 2),  # SIGN makes a PIC without S signed
        ("scaled", 3, "trailing", True, 8),
    ]
