"""Multi-segment files: the segment id selects the REDEFINES view of each record; parent
and child ids become columns; a contract may keep some segments only."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from connectors import FixedWidthFormat, make_source
from govbus.errors import BadConfiguration
from tests.connectors.mainframe.test_fixed_width_encoding import packed, text, zoned
from tests.connectors.mainframe.test_mainframe_bytes import rdw

ERROR = "_govbus_source_error"
COPYBOOK = """\
       01  COMPANY-DETAILS.
           05  SEGMENT-ID        PIC X(1).
           05  COMPANY-ID        PIC X(5).
           05  STATIC-DETAILS.
               10  COMPANY-NAME  PIC X(10).
               10  TAXPAYER      PIC 9(6) COMP-3.
           05  CONTACTS REDEFINES STATIC-DETAILS.
               10  PHONE-NUMBER  PIC X(10).
               10  CONTACT-AGE   PIC 9(3).
"""
SEGMENTS = {"field": "segment_id", "views": {"C": "STATIC-DETAILS", "P": "contacts"}, "parents": {"P": "C"}}


def company(cid: str, name: str, taxpayer: int) -> bytes:
    return text("C", 1) + text(cid, 5) + text(name, 10) + packed(taxpayer, 6, signed=False)


def person(cid: str, phone: str, age: int) -> bytes:
    return text("P", 1) + text(cid, 5) + text(phone, 10) + zoned(age, 3, signed=False) + b"\xff"  # junk byte


RECORDS = [
    company("C0001", "ACME", 123456), person("C0001", "555-0101", 34), person("C0001", "555-0102", 51),
    company("C0002", "GLOBEX", 7), person("C0002", "555-0201", 28),
    text("X", 1) + text("?????", 5) + bytes(14),
    company("C0003", "INITECH", 99),
]  # fmt: skip


def read(tmp_path: Path, segments: dict[str, Any], batch_size: int = 3, **settings: Any) -> pa.Table:
    (tmp_path / "c.cpy").write_text(COPYBOOK)
    (tmp_path / "companies.dat").write_bytes(b"".join(rdw(r) for r in RECORDS))
    made = make_source(
        {"connector": "fixed_width", "path": str(tmp_path / "companies.dat"),
         "copybook": str(tmp_path / "c.cpy"),
         "record_format": "rdw", "segments": segments, **settings},
        key_fields=[], cursor_field=None,
    )  # fmt: skip
    return pa.concat_tables(b.data for b in made.read(None, batch_size=batch_size))


def test_each_record_decodes_its_own_view_and_gets_its_ancestors(tmp_path: Path) -> None:
    table = read(tmp_path, SEGMENTS | {"unknown": "keep"})
    rows = table.to_pylist()
    assert [r[ERROR] for r in rows] == [None] * 7  # junk in the other view never rejects
    assert [(r["company_name"], r["taxpayer"], r["phone_number"], r["contact_age"]) for r in rows[:2]] == [
        ("ACME", 123456, None, None), (None, None, "555-0101", 34),
    ]  # fmt: skip
    assert table.column("seg_id0").to_pylist() == [
        "companies.dat:1", "companies.dat:1", "companies.dat:1", "companies.dat:4", "companies.dat:4", None,
        "companies.dat:7",
    ]  # fmt: skip
    assert table.column("seg_id1").to_pylist() == [
        None, "companies.dat:2", "companies.dat:3", None, "companies.dat:5", None, None,
    ]  # fmt: skip
    assert rows[5]["company_id"] == "?????" and rows[5]["company_name"] is None
    assert table.schema.names[-5:-3] == ["seg_id0", "seg_id1"]


def test_unknown_segments_are_rejected_by_default_or_skipped(tmp_path: Path) -> None:
    rejected = read(tmp_path, SEGMENTS).column(ERROR).to_pylist()
    assert rejected[5] == (
        "companies.dat byte 124 (record 6, field segment_id at c.cpy:2): segment id not in the segment map"
    )
    assert read(tmp_path, SEGMENTS | {"unknown": "skip"}).num_rows == 6


def test_keep_splits_a_hierarchical_export_into_datasets(tmp_path: Path) -> None:
    people = read(tmp_path, SEGMENTS | {"keep": ["P"], "unknown": "skip"}, batch_size=2)
    assert people.column("phone_number").to_pylist() == ["555-0101", "555-0102", "555-0201"]
    assert people.column("seg_id0").to_pylist() == ["companies.dat:1", "companies.dat:1", "companies.dat:4"]
    whose = read(tmp_path, SEGMENTS | {"keep": ["P"]})  # a rejected record of no known segment stays
    assert whose.column(ERROR).null_count == 3 and whose.num_rows == 4
    companies = read(tmp_path, SEGMENTS | {"keep": ["C"], "unknown": "skip"})
    assert companies.column("company_name").to_pylist() == ["ACME", "GLOBEX", "INITECH"]


def test_parents_survive_a_resumed_read(tmp_path: Path) -> None:
    (tmp_path / "c.cpy").write_text(COPYBOOK)
    (tmp_path / "companies.dat").write_bytes(b"".join(rdw(r) for r in RECORDS[:5]))
    made = make_source(
        {"connector": "fixed_width", "path": str(tmp_path / "companies.dat"),
         "copybook": str(tmp_path / "c.cpy"),
         "record_format": "rdw", "segments": SEGMENTS},
        key_fields=[], cursor_field=None,
    )  # fmt: skip
    first = next(iter(made.read(None, batch_size=2)))
    assert first.cursor["segment_ids"] == ["companies.dat:1", "companies.dat:2"]
    rest = pa.concat_tables(b.data for b in made.read(first.cursor, batch_size=2))
    assert rest.column("seg_id0").to_pylist() == ["companies.dat:1", "companies.dat:4", "companies.dat:4"]


def test_a_drop_folder_skips_delivered_rows_of_a_filtered_file(tmp_path: Path) -> None:
    (tmp_path / "c.cpy").write_text(COPYBOOK)
    (tmp_path / "companies.dat").write_bytes(b"".join(rdw(r) for r in RECORDS))
    segments = SEGMENTS | {"keep": ["P"], "unknown": "skip"}
    file_format = FixedWidthFormat(
        tmp_path / "c.cpy", record_format="rdw", segments=segments, chunk_records=2
    )
    tables = list(file_format.records(tmp_path / "companies.dat", "companies.dat", 1))
    assert [r["phone_number"] for t in tables for r in t.to_pylist()] == ["555-0102", "555-0201"]


@pytest.mark.parametrize(
    ("segments", "where"),
    [
        ({"field": "nope", "views": {"C": "contacts"}}, "segments.field"),
        ({"field": "segment_id", "views": {"C": "elsewhere"}}, "segments.views.C"),
        ({"field": "segment_id", "views": {"C": "contacts"}, "parents": {"C": "Q"}}, "segments.parents"),
        ({"field": "segment_id", "views": {"C": "contacts", "P": "contacts"},
          "parents": {"C": "P", "P": "C"}}, "segments.parents"),
        ({"field": "segment_id", "views": {"C": "contacts"}, "unknown": "drop"}, "segments.unknown"),
        ({"field": "segment_id", "views": {"C": "contacts"}, "keep": ["Z"]}, "segments.keep"),
        ({"field": "segment_id", "view": {}}, "segments"),
    ],
)  # fmt: skip
def test_segment_settings_are_checked(tmp_path: Path, segments: dict, where: str) -> None:
    (tmp_path / "c.cpy").write_text(COPYBOOK)
    with pytest.raises(BadConfiguration) as error:
        FixedWidthFormat(tmp_path / "c.cpy", segments=segments)
    assert error.value.where == where
