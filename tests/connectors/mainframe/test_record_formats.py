"""Record formats: RDWs in every convention, VB blocks, text lines, file headers and
footers, all through the `fixed_width` connector's settings."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from connectors import FixedWidthSource, Source, make_source
from connectors.mainframe.record_framing import RdwConvention, frame_rdw
from govbus.errors import BadConfiguration
from tests.connectors.mainframe.test_fixed_width_encoding import packed, text, zoned
from tests.connectors.mainframe.test_mainframe_bytes import bdw, rdw

ERROR = "_govbus_source_error"
COPYBOOK = "       01  REC.\n           05  ID     PIC X(4).\n           05  AMOUNT PIC S9(5) COMP-3.\n"


def record(i: int, encoding: str = "cp037") -> bytes:
    return text(f"R{i:03d}", 4, encoding) + packed(i * 7 - 50, 5)


@pytest.fixture
def copybook(tmp_path: Path) -> Path:
    path = tmp_path / "rec.cpy"
    path.write_text(COPYBOOK)
    return path


def source(tmp_path: Path, copybook: Path, data: bytes, **settings: Any) -> Source:
    (tmp_path / "data.dat").write_bytes(data)
    made = {"connector": "fixed_width", "path": str(tmp_path / "data.dat"), "copybook": str(copybook)}
    return make_source(made | settings, key_fields=[], cursor_field=None)


def rows(made: Source, batch_size: int = 7, cursor: dict | None = None) -> list[dict[str, Any]]:
    return [r for b in made.read(cursor, batch_size=batch_size) for r in b.data.to_pylist()]


@pytest.mark.parametrize(
    ("settings", "encode"),
    [
        ({}, {}),
        ({"rdw_endianness": "little"}, {"big": False}),
        ({"rdw_endianness": "little"}, {"big": False, "swap": True}),  # 00 00 LL HH
        ({"rdw_includes_header": False}, {"includes": False}),
        ({"rdw_adjustment": -4}, {}),  # lengths 4 too long (below): the adjustment takes them back
        ({"rdw_includes_header": False, "rdw_endianness": "little"}, {"includes": False, "big": False}),
    ],
)
def test_rdw_conventions(tmp_path: Path, copybook: Path, settings: dict, encode: dict) -> None:
    data = b"".join(rdw(record(i) + b"\x40" * (i % 3), **encode) for i in range(20))
    if settings.get("rdw_adjustment"):
        data = b"".join((len(record(i)) + 8).to_bytes(2, "big") + b"\0\0" + record(i) for i in range(20))
    made = source(tmp_path, copybook, data, record_format="rdw", **settings)
    found = rows(made)
    assert [r["id"] for r in found] == [f"R{i:03d}" for i in range(20)]
    assert all(r[ERROR] is None for r in found)


def test_frame_rdw_takes_a_convention() -> None:
    import numpy as np

    chunk = np.frombuffer(b"".join(rdw(bytes(n), big=False, includes=False) for n in (3, 9, 9, 9)), np.uint8)
    framed = frame_rdw(chunk, 10, True, RdwConvention(big_endian=False, includes_header=False))
    assert framed.lengths.tolist() == [3, 9, 9, 9] and framed.starts.tolist() == [0, 7, 20, 33]


def test_vb_blocks_resume_inside_a_block(tmp_path: Path, copybook: Path) -> None:
    blocks = [b"".join(rdw(record(i)) for i in range(start, start + 5)) for start in range(0, 25, 5)]
    data = b"".join(bdw(b) for b in blocks)
    made = source(tmp_path, copybook, data, record_format="vb")
    batches = list(made.read(None, batch_size=3))
    assert [r["id"] for b in batches for r in b.data.to_pylist()] == [f"R{i:03d}" for i in range(25)]
    cursor = json.loads(json.dumps(batches[0].cursor))
    assert cursor["block_end"] == len(bdw(blocks[0]))  # stopped inside the first block
    assert [r["id"] for r in rows(made, 4, cursor)] == [f"R{i:03d}" for i in range(3, 25)]


def test_a_bad_bdw_makes_the_rest_one_rejected_record(tmp_path: Path, copybook: Path) -> None:
    good = bdw(rdw(record(1)) + rdw(record(2)))
    made = source(tmp_path, copybook, good + b"\x00\x00\x00\x00" + rdw(record(3)), record_format="vb")
    found = rows(made)
    assert [r["id"] for r in found] == ["R001", "R002", None]
    assert found[2][ERROR] == (
        f"data.dat byte {len(good)} (record 3): "
        "bad BDW (a zero length, a length in both halves, or no room for a record)"
    )


@pytest.mark.parametrize("newline", [b"\n", b"\r\n"])
def test_text_lines_are_padded_with_spaces(tmp_path: Path, newline: bytes) -> None:
    copybook = tmp_path / "t.cpy"
    copybook.write_text("       01  T.\n           05  NAME PIC X(6).\n           05  QTY PIC 9(3).\n"
                        "           05  NOTE PIC X(4).\n")  # fmt: skip
    lines = [b"ALICE 012note", b"BOB   003", b"CAROL 100more than the copybook"]
    made = source(tmp_path, copybook, newline.join(lines), record_format="text", encoding="ascii")
    found = rows(made)
    assert [(r["name"], r["qty"], r["note"]) for r in found] == [
        ("ALICE", 12, "note"), ("BOB", 3, ""), ("CAROL", 100, "more"),
    ]  # fmt: skip
    assert all(r[ERROR] is None for r in found)


def test_ebcdic_text_lines_end_at_nl(tmp_path: Path, copybook: Path) -> None:
    copybook.write_text("       01  T.\n           05  NAME PIC X(5).\n")
    data = b"\x15".join(text(name, len(name)) for name in ("ANNA", "BO", "CLARA")) + b"\x15"
    assert [r["name"] for r in rows(source(tmp_path, copybook, data, record_format="text"))] == [
        "ANNA", "BO", "CLARA",
    ]  # fmt: skip


def test_file_header_and_footer_are_skipped(tmp_path: Path, copybook: Path) -> None:
    data = b"HEADER--" + b"".join(record(i) for i in range(6)) + b"TRAILER"
    made = source(tmp_path, copybook, data, file_header_bytes=8, file_footer_bytes=7)
    batches = list(made.read(None, batch_size=4))
    assert [r["id"] for b in batches for r in b.data.to_pylist()] == [f"R{i:03d}" for i in range(6)]
    assert batches[-1].cursor["offset"] == 8 + 6 * 7
    assert list(made.read(batches[-1].cursor, batch_size=4)) == []
    assert [r["id"] for r in rows(made, 4, batches[0].cursor)] == ["R004", "R005"]
    rdws = b"HDR" + b"".join(rdw(record(i)) for i in range(3)) + b"\x00"
    assert [r["id"] for r in rows(source(tmp_path, copybook, rdws, record_format="rdw", file_header_bytes=3,
                                         file_footer_bytes=1))] == ["R000", "R001", "R002"]  # fmt: skip


def test_every_setting_is_checked_and_named(tmp_path: Path, copybook: Path) -> None:
    for setting, value in [
        ("record_format", "vbs"), ("rdw_endianness", "middle"), ("rdw_includes_header", "yes"),
        ("rdw_adjustment", 1.5), ("file_header_bytes", -1), ("on_bad_value", "drop"),
        ("on_blank_number", "nan"), ("on_short_record", "pad"), ("text_trim", "all"),
        ("float_format", "vax"), ("odo_storage", "some"), ("copybook_format", "card"),
        ("field_policies", {"nope": {"on_bad_value": "null"}}), ("field_policies", {"id": {"on_bad": "x"}}),
        ("segments", {"field": "nope"}), ("copybook_library", "lib"),
    ]:  # fmt: skip
        with pytest.raises(BadConfiguration) as error:
            source(tmp_path, copybook, record(1), **{setting: value})
        assert error.value.where.split(".")[0] == setting, setting


def test_keyword_settings_reach_the_format(tmp_path: Path, copybook: Path) -> None:
    (tmp_path / "f.dat").write_bytes(b"".join(record(i, "cp500") for i in range(3)) + record(3)[:5])
    made = FixedWidthSource(tmp_path / "f.dat", copybook=copybook, encoding="cp500", record_format="fixed")
    table = pa.concat_tables(b.data for b in made.read(None))
    assert table.column("amount").to_pylist() == [-50, -43, -36, None]
    assert table.column(ERROR)[3].as_py() == "f.dat byte 21 (record 4): truncated record, 5 of 7 bytes"
    assert zoned(1, 1) == b"\xc1"


def test_a_broken_descriptor_ends_the_file_even_far_from_its_end(tmp_path: Path, copybook: Path) -> None:
    records = [rdw(record(i % 1000)) for i in range(10_000)]
    records[100] = b"\x00\x00\x00\x00" + record(100)  # a zero length: nothing after it can be trusted
    made = source(tmp_path, copybook, b"".join(records), record_format="rdw")
    found = rows(made, batch_size=50)
    assert len(found) == 101 and found[-1][ERROR] == (
        f"data.dat byte {100 * 11} (record 101): bad RDW (a zero length, a length in both halves, "
        "or shorter than the RDW)"
    )
