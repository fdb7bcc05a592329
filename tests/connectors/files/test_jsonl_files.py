"""JSON Lines drop files: JSON types, bad lines as error rows with their line, the rest flowing."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from connectors import SOURCE_ERROR, SOURCE_POSITION, SOURCE_RAW, DropFolderSource, JsonLinesFormat

OLD = time.time() - 3600


def read(folder: Path, batch_size: int = 10_000) -> list[pa.Table]:
    source = DropFolderSource(JsonLinesFormat(), folder, settle_seconds=0)
    return [batch.data for batch in source.read(None, batch_size=batch_size)]


def put(folder: Path, name: str, content: bytes) -> None:
    (folder / name).write_bytes(content)
    os.utime(folder / name, (OLD, OLD))


def split(tables: list[pa.Table]) -> tuple[list[dict], list[tuple[str, str, str]]]:
    good, bad = [], []
    for table in tables:
        ok = pc.is_null(table[SOURCE_ERROR])
        good += table.filter(ok).drop_columns([SOURCE_ERROR, SOURCE_POSITION, SOURCE_RAW]).to_pylist()
        errors = table.filter(pc.invert(ok))
        bad += zip(*(errors[c].to_pylist() for c in (SOURCE_ERROR, SOURCE_POSITION, SOURCE_RAW)), strict=True)
    return good, bad


def test_values_keep_their_json_types_and_date_like_text_stays_text(tmp_path: Path) -> None:
    put(
        tmp_path,
        "a.jsonl",
        b'{"id": 1, "when": "2024-05-01", "amount": "12.50", "tags": ["a"], "ok": true}\n'
        b'{"id": 2, "when": "2024-05-02 08:00:00", "amount": null, "tags": [], "ok": false}\n',
    )
    good, bad = split(read(tmp_path))
    assert bad == []
    assert good == [
        {"id": 1, "when": "2024-05-01", "amount": "12.50", "tags": ["a"], "ok": True},
        {"id": 2, "when": "2024-05-02 08:00:00", "amount": None, "tags": [], "ok": False},
    ]


def test_bad_lines_become_error_rows_with_their_line_and_the_rest_flows(tmp_path: Path) -> None:
    content = (
        b'{"id": 1}\n'  # 1
        b'{"id": 2, oops}\n'  # 2: not JSON
        b"\n"  # 3: blank
        b"[1, 2]\n"  # 4: not an object
        b'{"id": 3}\n'  # 5
        b'{"id": "caf\xe9"}\n'  # 6: not UTF-8
        b'{"id": 4}'  # 7, no final newline
    )
    put(tmp_path, "events.jsonl", content)
    good, bad = split(read(tmp_path))
    assert [row["id"] for row in good] == [1, 3, 4]
    assert bad == [
        ("events.jsonl line 2: not valid JSON", "events.jsonl:2", '{"id": 2, oops}'),
        ("events.jsonl line 4: not a JSON object", "events.jsonl:4", "[1, 2]"),
        ("events.jsonl line 6: bytes not valid in utf-8", "events.jsonl:6", '{"id": "caf\\xe9"}'),
    ]


def test_a_bad_line_deep_in_a_large_file_is_found_by_its_line(tmp_path: Path) -> None:
    lines = [f'{{"id": {i}, "name": "n{i}"}}' for i in range(60_000)]  # ~2 MB: several chunks
    lines[45_678] = '{"id": 45678, "name": "unterminated}'
    put(tmp_path, "big.jsonl", ("\n".join(lines) + "\n").encode())
    tables = read(tmp_path, batch_size=8_000)
    assert all(table.num_rows <= 8_000 for table in tables)
    good, bad = split(tables)
    assert bad == [("big.jsonl line 45679: not valid JSON", "big.jsonl:45679", lines[45_678])]
    assert [row["id"] for row in good] == [i for i in range(60_000) if i != 45_678]


def test_columns_changing_type_between_chunks_do_not_fail_the_file(tmp_path: Path) -> None:
    first = [f'{{"id": {i}, "code": {i}}}' for i in range(40_000)]
    second = [f'{{"id": {i}, "code": "C{i}"}}' for i in range(40_000, 80_000)]
    put(tmp_path, "a.jsonl", ("\n".join(first + second) + "\n").encode())
    good, bad = split(read(tmp_path, batch_size=100_000))
    assert bad == []
    assert len(good) == 80_000 and good[0]["code"] == 0 and good[-1]["code"] == "C79999"
