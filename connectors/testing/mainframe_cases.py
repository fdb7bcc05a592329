"""Conformance cases for mainframe sources: one small export per supported COBOL clause and
record format, with the rows a reader must deliver.

Each `MainframeCase` is a copybook, the connector settings beyond `path` and `copybook`,
the export's bytes (written here in hex, byte by byte), and the expected rows (only the
columns named). `check_mainframe_case` writes the two files into a folder, builds the
source with the caller's `make_source(settings)` and compares. GovBus's own `fixed_width`
connector runs every case (tests/connectors/mainframe/test_mainframe_cases.py); a plug-in
reading mainframe exports can run them too. docs/mainframe.md lists the same clauses and
formats. The cases use code page 037 unless they say otherwise.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from connectors.base import Source


@dataclass(frozen=True)
class MainframeCase:
    """One export: what it shows, its copybook, settings, bytes (hex) and expected rows."""

    name: str
    shows: str
    copybook: str
    data: str
    expected: tuple[Mapping[str, Any], ...]
    settings: Mapping[str, Any] = field(default_factory=dict)

    @property
    def bytes(self) -> bytes:
        """The export's bytes (spaces in `data` are for reading only)."""
        return bytes.fromhex(self.data)


def _cpy(*entries: str) -> str:
    """A fixed-format copybook: each entry starts in column 8."""
    return "".join(f"       {entry}\n" for entry in entries)


def _line(sequence: str, indicator: str, code: str, identification: str = "") -> str:
    """One reference-format line: columns 1-6, 7, 8-72 and 73-80."""
    return f"{sequence:6.6}{indicator:1.1}{code:<65.65}{identification}\n"


CLAUSES = (
    MainframeCase("pic-x", "PIC X: text in the code page, trailing spaces removed",
                  _cpy("01 R.", "   05 NAME PIC X(5)."), "C1D5D5C140 E2D6D5D1C1",
                  ({"name": "ANNA"}, {"name": "SONJA"})),
    MainframeCase("pic-9", "PIC 9: unsigned zoned decimal", _cpy("01 R.", "   05 N PIC 9(3)."),
                  "F0F4F2", ({"n": 42},)),
    MainframeCase("pic-s9v9", "PIC S9 V9: signed zoned decimal, sign overpunched in the last byte",
                  _cpy("01 R.", "   05 N PIC S9(3)V99."), "F1F2F3F4D5", ({"n": Decimal("-123.45")},)),
    MainframeCase("sign-leading", "SIGN IS LEADING: the sign overpunched in the first byte",
                  _cpy("01 R.", "   05 N PIC S9(3) SIGN IS LEADING."), "D1F2F3", ({"n": -123},)),
    MainframeCase("sign-trailing-separate", "SIGN TRAILING SEPARATE: a '-' or '+' byte after the digits",
                  _cpy("01 R.", "   05 N PIC S9(3) SIGN TRAILING SEPARATE."), "F1F2F360", ({"n": -123},)),
    MainframeCase("sign-leading-separate", "SIGN LEADING SEPARATE CHARACTER: a '+' or '-' byte first",
                  _cpy("01 R.", "   05 N PIC S9(3) SIGN LEADING SEPARATE CHARACTER."), "4EF1F2F3",
                  ({"n": 123},)),
    MainframeCase("comp-3", "COMP-3 / PACKED-DECIMAL: two digits a byte, sign in the last nibble",
                  _cpy("01 R.", "   05 N PIC S9(5)V99 COMP-3."), "1234567D", ({"n": Decimal("-12345.67")},)),
    MainframeCase("comp", "COMP, COMP-4, BINARY, COMP-0: big-endian binary within the PIC digits",
                  _cpy("01 R.", "   05 A PIC S9(4) COMP.", "   05 B PIC 9(4) COMP-0."), "FF85 0064",
                  ({"a": -123, "b": 100},)),
    MainframeCase("comp-5", "COMP-5: native binary, any value the bytes hold",
                  _cpy("01 R.", "   05 N PIC S9(4) COMP-5."), "7FFF", ({"n": 32767},)),
    MainframeCase("comp-9", "COMP-9: little-endian binary (an extension)",
                  _cpy("01 R.", "   05 N PIC 9(4) COMP-9."), "0F27", ({"n": 9999},)),
    MainframeCase("binary-19-digits", "binary of more than 18 digits: ceil((digits × log2 10 + 1) / 8) bytes",
                  _cpy("01 R.", "   05 N PIC S9(20) COMP."), "FF7538DCFB76180000",
                  ({"n": Decimal("-10000000000000000000")},)),
    MainframeCase("comp-1", "COMP-1: IBM hexadecimal single-precision float",
                  _cpy("01 R.", "   05 F COMP-1."), "C276A000", ({"f": -118.625},)),
    MainframeCase("comp-2", "COMP-2: IBM hexadecimal double-precision float",
                  _cpy("01 R.", "   05 D USAGE COMP-2."), "401999999999999A", ({"d": 0.1},)),
    MainframeCase("p-right", "P right of the digits: scaled up (PIC 9(3)PP is hundreds)",
                  _cpy("01 R.", "   05 N PIC 9(3)PP."), "F1F2F3", ({"n": 12300},)),
    MainframeCase("p-left", "P left of the digits: scaled down (PIC SVPP99 is ten-thousandths)",
                  _cpy("01 R.", "   05 N PIC SVPP99."), "F4D5", ({"n": Decimal("-0.0045")},)),
    MainframeCase("edited", "numeric-edited PIC (Z , . - + CR DB $ *): read back as a number",
                  _cpy("01 R.", "   05 N PIC ZZ,ZZ9.99-."), "F1F26BF3F4F54BF6F760",
                  ({"n": Decimal("-12345.67")},)),
    MainframeCase("s-edited", "S in an edited PIC: an explicit point and an overpunched sign",
                  _cpy("01 R.", "   05 N PIC S9(3).99."), "F1F2F34BF4D5", ({"n": Decimal("-123.45")},)),
    MainframeCase("occurs", "OCCURS n: columns with suffixes _1 … _n",
                  _cpy("01 R.", "   05 SCORE PIC 9 OCCURS 3 TIMES."), "F1F2F3",
                  ({"score_1": 1, "score_2": 2, "score_3": 3},)),
    MainframeCase("occurs-depending-on", "OCCURS 0 TO n DEPENDING ON: occurrences past the count null, "
                  "what follows moves up; records as long as their counts (record_format: odo)",
                  _cpy("01 R.", "   05 N PIC 9.", "   05 ITEM OCCURS 0 TO 3 TIMES DEPENDING ON N PIC X.",
                       "   05 TAIL PIC X."), "F2C1C2E9 F0E8",
                  ({"n": 2, "item_1": "A", "item_2": "B", "item_3": None, "tail": "Z"},
                   {"n": 0, "item_1": None, "tail": "Y"}),
                  {"record_format": "odo"}),
    MainframeCase("redefines", "REDEFINES: alternative views; a record is rejected only if every view fails",
                  _cpy("01 R.", "   05 A.", "      10 A1 PIC X.", "      10 A2 PIC X.",
                       "   05 B REDEFINES A PIC 9(2)."), "41423132",
                  ({"a1": "A", "a2": "B", "b": None}, {"a1": "1", "a2": "2", "b": 12}),
                  {"encoding": "ascii"}),
    MainframeCase("several-01", "several 01 records: views of one record",
                  _cpy("01 HEADER.", "   05 H-DATE PIC 9(4).", "01 DETAIL.", "   05 D-CODE PIC X(4)."),
                  "F2F0F2F4", ({"h_date": 2024, "d_code": "2024"},)),
    MainframeCase("levels-66-88", "level 88 conditions and 66 RENAMES: documentation, no column",
                  _cpy("01 R.", "   05 STATUS-CODE PIC X.", "      88 ACTIVE VALUE 'A'.", "   05 N PIC 9.",
                       "66 BOTH RENAMES STATUS-CODE THRU N."), "C1F7",
                  ({"status_code": "A", "n": 7},)),
    MainframeCase("reference-format", "columns 1-6 and 73-80 ignored, indicator column 7 (* comment, "
                  "- continuation), DOS end-of-file byte",
                  _line("SEQ001", " ", "01  R.", "IDENT001")
                  + _line("SEQ002", "*", "    05  OLD  PIC X(9).")
                  + _line("SEQ003", " ", "    05  LONG-NA")
                  + _line("SEQ004", "-", "        ME  PIC 9(2).", "9(8)")
                  + "\x1a",
                  "F4F2", ({"long_name": 42},)),
    MainframeCase("segments", "a segment-id field selects the REDEFINES view per record; seg_id0/seg_id1 "
                  "carry parent and child ids",
                  _cpy("01 R.", "   05 SEG PIC X.", "   05 COMPANY.", "      10 CNAME PIC X(2).",
                       "   05 PERSON REDEFINES COMPANY.", "      10 AGE PIC 9(2)."),
                  "C3C1C2 D7F4F2",
                  ({"cname": "AB", "age": None, "seg_id0": "export.dat:1", "seg_id1": None},
                   {"cname": None, "age": 42, "seg_id0": "export.dat:1", "seg_id1": "export.dat:2"}),
                  {"segments": {"field": "seg", "views": {"C": "company", "P": "person"},
                                "parents": {"P": "C"}}}),
)  # fmt: skip

FORMATS = (
    MainframeCase("fixed", "fixed-length records of the copybook's length (F, FB)",
                  _cpy("01 R.", "   05 N PIC 9(2)."), "F0F1 F0F2", ({"n": 1}, {"n": 2})),
    MainframeCase("fixed-record-length", "fixed records longer than the copybook (record_length)",
                  _cpy("01 R.", "   05 N PIC 9(2)."), "30310D0A 30320D0A", ({"n": 1}, {"n": 2}),
                  {"encoding": "ascii", "record_length": 4}),
    MainframeCase("rdw", "variable records after IBM RDWs (big-endian, length counts the RDW)",
                  _cpy("01 R.", "   05 T PIC X(3)."), "00050000C1 00070000C1C2C3", ({"t": "A"}, {"t": "ABC"}),
                  {"record_format": "rdw", "on_short_record": "keep"}),
    MainframeCase("rdw-little-endian", "RDWs little-endian, length without the RDW (rdw_endianness, "
                  "rdw_includes_header; rdw_adjustment adds to every length)",
                  _cpy("01 R.", "   05 T PIC X(3)."), "03000000C1C2C3 03000000C4C5C6",
                  ({"t": "ABC"}, {"t": "DEF"}),
                  {"record_format": "rdw", "rdw_endianness": "little", "rdw_includes_header": False}),
    MainframeCase("vb", "VB: blocks after a BDW, each of RDW records",
                  _cpy("01 R.", "   05 T PIC X(2)."),
                  "00100000 00060000C1C2 00060000C3C4 000A0000 00060000C5C6",
                  ({"t": "AB"}, {"t": "CD"}, {"t": "EF"}), {"record_format": "vb"}),
    MainframeCase("text-lf", "text records ended by LF, short lines read as padded with spaces",
                  _cpy("01 R.", "   05 T PIC X(3).", "   05 N PIC 9."), "41424331 0A 58 0A",
                  ({"t": "ABC", "n": 1}, {"t": "X", "n": None}),
                  {"record_format": "text", "encoding": "ascii"}),
    MainframeCase("text-crlf", "text records ended by CR LF",
                  _cpy("01 R.", "   05 T PIC X(3)."), "4142430D0A 44450D0A", ({"t": "ABC"}, {"t": "DE"}),
                  {"record_format": "text", "encoding": "ascii"}),
    MainframeCase("header-footer",
                  "file header and footer bytes skipped (file_header_bytes, file_footer_bytes)",
                  _cpy("01 R.", "   05 N PIC 9(2)."), "C8C4D9 F0F1 F0F2 E3D9D3", ({"n": 1}, {"n": 2}),
                  {"file_header_bytes": 3, "file_footer_bytes": 3}),
)  # fmt: skip

CASES = CLAUSES + FORMATS


def check_mainframe_case(
    case: MainframeCase, directory: Path, make_source: Callable[[dict[str, Any]], Source]
) -> None:
    """Write the case's copybook and export into `directory`, read every row with the
    source `make_source(settings)` builds, and compare; AssertionError naming the case."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "layout.cpy").write_text(case.copybook, encoding="utf-8")
    (directory / "export.dat").write_bytes(case.bytes)
    settings = {
        "path": str(directory / "export.dat"),
        "copybook": str(directory / "layout.cpy"),
        **case.settings,
    }
    source = make_source(settings)
    try:
        rows = [row for batch in source.read(None, batch_size=2) for row in batch.data.to_pylist()]
    finally:
        source.close()
    assert len(rows) == len(case.expected), f"{case.name}: {len(rows)} rows, expected {len(case.expected)}"
    for number, (row, expected) in enumerate(zip(rows, case.expected, strict=True), 1):
        errors = {k: v for k, v in row.items() if k.startswith("_govbus_source_error") and v is not None}
        assert not errors, f"{case.name}: row {number} was rejected: {errors}"
        got = {name: row.get(name) for name in expected}
        assert got == dict(expected), f"{case.name}: row {number} is {got}, expected {dict(expected)}"
