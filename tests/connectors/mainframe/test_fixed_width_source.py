"""FixedWidthSource and FixedWidthFormat on real files: batches, cursors, RDWs, bad records."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from connectors import FixedWidthFormat, FixedWidthSource, Source, make_source
from connectors.files.drop_folder import DropFolderSource
from connectors.mainframe.record_framing import frame_rdw
from govbus.errors import BadConfiguration, BadInput, TransientError
from tests.connectors.mainframe.test_fixed_width_encoding import packed, text, zoned

COPYBOOK = """\
       01  RESIDENT.
           05  RES-ID          PIC X(6).
           05  BIRTH-YEAR      PIC 9(4).
           05  INCOME          PIC S9(7)V99 COMP-3.
           05  CITY            PIC X(8).
"""
WIDTH = 23
ERROR, POSITION = "_govbus_source_error", "_govbus_source_position"


def resident(i: int, city: str = "OSLO", encoding: str = "cp037") -> bytes:
    return text(f"R{i:05d}", 6, encoding) + zoned(1950 + i % 50, 4, signed=False, encoding=encoding) + (
        packed(i * 101 - 5000, 9)
    ) + text(city, 8, encoding)  # fmt: skip


def rdw(record: bytes) -> bytes:
    return (len(record) + 4).to_bytes(2, "big") + b"\0\0" + record


@pytest.fixture
def copybook(tmp_path: Path) -> Path:
    path = tmp_path / "resident.cpy"
    path.write_text(COPYBOOK)
    return path


def read_all(source: Source, cursor: dict | None = None, batch_size: int = 4) -> list[dict[str, Any]]:
    rows = []
    for batch in source.read(cursor, batch_size=batch_size):
        assert 0 < batch.data.num_rows <= batch_size
        rows += batch.data.to_pylist()
    return rows


def test_fixed_records_resume_exactly_from_every_batch(
    tmp_path: Path, copybook: Path, assert_resumes_exactly: Callable[..., dict]
) -> None:
    path = tmp_path / "residents.dat"
    path.write_bytes(b"".join(resident(i) for i in range(11)))
    source = FixedWidthSource(path, copybook=copybook, key_fields=["res_id"])
    last = assert_resumes_exactly(source, [f"R{i:05d}" for i in range(11)], 4, lambda row: row["res_id"])
    assert last["records_done"] == 11 and last["offset"] == 11 * WIDTH and last["file"] == "residents.dat"
    assert list(source.read(last, batch_size=4)) == []  # the same file again: nothing new
    row = read_all(source)[3]
    assert row["birth_year"] == 1953 and row["income"] == Decimal("-46.97") and row["city"] == "OSLO"
    assert row[ERROR] is None


def test_a_new_export_under_the_same_name_is_read_from_the_start(tmp_path: Path, copybook: Path) -> None:
    path = tmp_path / "residents.dat"
    path.write_bytes(b"".join(resident(i) for i in range(5)))
    source = FixedWidthSource(path, copybook=copybook)
    last = json.loads(json.dumps(list(source.read(None, batch_size=10))[-1].cursor))
    path.write_bytes(b"".join(resident(i) for i in range(100, 103)))
    assert [r["res_id"] for r in read_all(source, last)] == ["R00100", "R00101", "R00102"]


def test_a_truncated_last_record_is_one_rejected_row(tmp_path: Path, copybook: Path) -> None:
    path = tmp_path / "cut.dat"
    path.write_bytes(b"".join(resident(i) for i in range(4)) + resident(4)[:10])
    rows = read_all(FixedWidthSource(path, copybook=copybook), batch_size=4)
    assert [r["res_id"] for r in rows] == ["R00000", "R00001", "R00002", "R00003", None]
    assert rows[4][ERROR] == f"cut.dat byte {4 * WIDTH} (record 5): truncated record, 10 of {WIDTH} bytes"
    assert rows[4][POSITION] == f"cut.dat@{4 * WIDTH}"
    assert all(r[ERROR] is None for r in rows[:4])


def test_a_bad_record_does_not_stop_the_batch(tmp_path: Path, copybook: Path) -> None:
    records = [bytearray(resident(i)) for i in range(6)]
    records[2][12] = 0xFA  # income's third byte: a bad packed digit
    path = tmp_path / "bad.dat"
    path.write_bytes(b"".join(records))
    rows = read_all(FixedWidthSource(path, copybook=copybook), batch_size=10)
    reason = f"bad.dat byte {2 * WIDTH + 12} (record 3, field income at resident.cpy:4): bad packed digit"
    assert [r[ERROR] for r in rows] == [None, None, reason, None, None, None]
    assert rows[3]["res_id"] == "R00003"


def test_rdw_records_of_varying_length(tmp_path: Path, copybook: Path) -> None:
    lengths = [WIDTH] * 150 + [WIDTH + 3] * 2 + [WIDTH] + [WIDTH - 8] + [WIDTH + 1] * 90
    records = [
        resident(i) + b"\x40" * (n - WIDTH) if n >= WIDTH else resident(i)[:n] for i, n in enumerate(lengths)
    ]
    path = tmp_path / "var.dat"
    path.write_bytes(b"".join(rdw(r) for r in records))
    source = FixedWidthSource(path, copybook=copybook, record_format="rdw")
    rows = read_all(source, batch_size=64)
    assert [r["res_id"] for r in rows] == [f"R{i:05d}" if n >= WIDTH else None for i, n in enumerate(lengths)]
    short = lengths.index(WIDTH - 8)
    position = sum(n + 4 for n in lengths[:short])
    assert rows[short][
        ERROR
    ] == f"var.dat byte {position + 4 + 15} (record {short + 1}, field city at resident.cpy:5): " + (
        "the record ends inside the field"
    )
    assert rows[short][POSITION] == f"var.dat@{position}"
    middle = next(iter(source.read(None, batch_size=64))).cursor
    assert [r["res_id"] for r in read_all(source, middle, 64)] == [r["res_id"] for r in rows[64:]]


def test_a_broken_rdw_makes_the_rest_one_rejected_record(tmp_path: Path, copybook: Path) -> None:
    good = b"".join(rdw(resident(i)) for i in range(3))
    path = tmp_path / "broken.dat"
    path.write_bytes(good + b"\x00\x1b\x01\x00" + resident(3) + rdw(resident(4)))
    source = FixedWidthSource(path, copybook=copybook, record_format="rdw")
    batches = list(source.read(None, batch_size=10))
    rows = [r for b in batches for r in b.data.to_pylist()]
    assert [r[ERROR] for r in rows[:3]] == [None] * 3 and len(rows) == 4
    assert rows[3][ERROR] == (
        f"broken.dat byte {len(good)} (record 4): bad RDW (a zero length, a length in both halves, "
        "or shorter than the RDW)"
    )
    assert rows[3]["_govbus_source_raw"].startswith("\\x00\\x1b\\x01\\x00R00003")  # from the bad RDW on
    assert list(source.read(batches[-1].cursor, batch_size=10)) == []
    path.write_bytes(good + rdw(resident(3))[:-5])
    rows = read_all(source, batch_size=10)
    assert (
        rows[3][ERROR]
        == f"broken.dat byte {len(good)} (record 4): truncated record: it needs 27 bytes, 22 remain"
    )


def test_frame_rdw_agrees_with_a_plain_walk() -> None:
    rng = random.Random(5)
    lengths = [rng.choice([30, 30, 30, 12, 99]) for _ in range(3000)] + [30] * 2000
    chunk = np.frombuffer(b"".join(rdw(bytes(n - 4)) for n in lengths), dtype=np.uint8)
    framed = frame_rdw(chunk, 10_000, at_eof=True)
    assert framed.lengths.tolist() == [n - 4 for n in lengths]
    assert framed.starts.tolist() == np.concatenate(([0], np.cumsum(lengths)[:-1])).tolist()
    assert framed.consumed == len(chunk) and framed.problem is None
    limited = frame_rdw(chunk, 4321, at_eof=True)
    assert len(limited.starts) == 4321 and limited.consumed == sum(lengths[:4321])


def test_record_length_covers_trailing_bytes_and_ascii(tmp_path: Path, copybook: Path) -> None:
    path = tmp_path / "ascii.dat"
    path.write_bytes(b"".join(resident(i, "BERGEN", "ascii") + b"\r\n" for i in range(3)))
    source = FixedWidthSource(path, copybook=copybook, encoding="ascii", record_length=WIDTH + 2)
    assert [(r["res_id"], r["city"]) for r in read_all(source)] == [(f"R{i:05d}", "BERGEN") for i in range(3)]
    with pytest.raises(BadConfiguration) as error:
        FixedWidthSource(path, copybook=copybook, record_length=WIDTH - 1)
    assert error.value.where == "record_length"


def test_a_file_that_changes_while_read_is_a_transient_error(tmp_path: Path, copybook: Path) -> None:
    path = tmp_path / "growing.dat"
    path.write_bytes(b"".join(resident(i) for i in range(8)))
    batches = FixedWidthSource(path, copybook=copybook).read(None, batch_size=2)
    next(batches)
    with open(path, "ab") as handle:
        handle.write(resident(8))
    with pytest.raises(TransientError, match="changed while it was read"):
        next(batches)


def test_settings_errors_name_the_setting(tmp_path: Path, copybook: Path) -> None:
    path = tmp_path / "r.dat"
    path.write_bytes(resident(1))
    with pytest.raises(BadConfiguration) as error:
        FixedWidthSource(path, copybook=copybook, key_fields=["nope"])
    assert error.value.where == "key_fields[0]"
    with pytest.raises(BadConfiguration) as error:
        FixedWidthSource(path, copybook=copybook, encoding="utf-8")
    assert error.value.where == "encoding"
    with pytest.raises(BadConfiguration, match="does not exist"):
        list(FixedWidthSource(tmp_path / "missing.dat", copybook=copybook).read(None))
    with pytest.raises(BadInput) as error:
        list(FixedWidthSource(path, copybook=copybook).read({"file": "r.dat"}))
    assert error.value.where == "cursor"


def test_registry_builds_a_file_source(tmp_path: Path, copybook: Path) -> None:
    path = tmp_path / "r.dat"
    path.write_bytes(b"".join(resident(i, "ÅLESUND", "cp500") for i in range(3)))
    settings = {"connector": "fixed_width", "path": str(path), "copybook": str(copybook), "encoding": "cp500"}
    source = make_source(settings, key_fields=["res_id"], cursor_field=None)
    assert [r["city"] for r in read_all(source)] == ["ÅLESUND"] * 3
    with pytest.raises(BadConfiguration) as error:
        make_source(settings, key_fields=["res_id"], cursor_field="updated_at")
    assert error.value.where == "cursor_field"
    with pytest.raises(BadConfiguration) as error:
        make_source({**settings, "delimiter": ","}, key_fields=[], cursor_field=None)
    assert error.value.where == "delimiter"
    with pytest.raises(BadConfiguration) as error:
        make_source({**settings, "record_format": "vbs"}, key_fields=[], cursor_field=None)
    assert error.value.where == "record_format"


def test_registry_builds_a_drop_folder_of_exports(tmp_path: Path, copybook: Path) -> None:
    drop = tmp_path / "drop"
    drop.mkdir()
    (drop / "night-1.dat").write_bytes(b"".join(rdw(resident(i)) for i in range(3)))
    (drop / "night-2.dat").write_bytes(b"".join(rdw(resident(i)) for i in range(3, 5)) + b"\x00\x01")
    settings = {"connector": "fixed_width", "directory": str(drop), "copybook": str(copybook),
                "record_format": "rdw", "archive_directory": "done", "settle_seconds": 0}  # fmt: skip
    source = make_source(settings, key_fields=["res_id"], cursor_field=None)
    assert isinstance(source, DropFolderSource)
    batches = list(source.read(None, batch_size=2))
    rows = [r for b in batches for r in b.data.to_pylist()]
    assert [r["res_id"] for r in rows] == ["R00000", "R00001", "R00002", "R00003", "R00004", None]
    assert rows[-1][ERROR] == "night-2.dat byte 54 (record 3): a 2-byte fragment is too short for an RDW"
    assert list(source.read(batches[-1].cursor, batch_size=2)) == []
    source.after_commit(batches[-1].cursor)
    assert sorted(p.name for p in (drop / "done").iterdir()) == ["night-1.dat", "night-2.dat"]


def test_format_skips_records_and_names_unreadable_files(tmp_path: Path, copybook: Path) -> None:
    path = tmp_path / "v.dat"
    path.write_bytes(b"".join(rdw(resident(i) + b"\x40" * (i % 3)) for i in range(10)))
    file_format = FixedWidthFormat(copybook, record_format="rdw", chunk_records=3)
    tables = list(file_format.records(path, "v.dat", 4))
    assert [t.num_rows for t in tables] == [3, 3]
    assert [r["res_id"] for t in tables for r in t.to_pylist()] == [f"R{i:05d}" for i in range(4, 10)]
    fixed = tmp_path / "f.dat"
    fixed.write_bytes(b"".join(resident(i) for i in range(5)) + b"\xc1")
    rows = [r for t in FixedWidthFormat(copybook).records(fixed, "f.dat", 3) for r in t.to_pylist()]
    assert [r["res_id"] for r in rows] == ["R00003", "R00004", None]
    assert rows[2][ERROR] == f"f.dat byte {5 * WIDTH} (record 6): truncated record, 1 of {WIDTH} bytes"
    with pytest.raises(BadInput) as error:
        list(file_format.records(tmp_path / "gone.dat", "gone.dat", 0))
    assert error.value.where == "gone.dat"
