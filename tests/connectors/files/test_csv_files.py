"""CSV drop files: options, text columns, and malformed lines as error rows with their line."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from connectors import (
    SOURCE_ERROR,
    SOURCE_POSITION,
    SOURCE_RAW,
    CsvFormat,
    CsvOptions,
    DropFolderSource,
    make_source,
)
from govbus.errors import BadConfiguration

OLD = time.time() - 3600


def read(folder: Path, options: CsvOptions | None = None, batch_size: int = 10_000) -> pa.Table:
    """Everything the folder's CSV files hold, as one table."""
    source = DropFolderSource(CsvFormat(options), folder, settle_seconds=0)
    tables = [batch.data for batch in source.read(None, batch_size=batch_size)]
    return pa.concat_tables(tables, promote_options="permissive")


def put(folder: Path, name: str, content: bytes) -> None:
    (folder / name).write_bytes(content)
    os.utime(folder / name, (OLD, OLD))


def good(table: pa.Table) -> list[dict[str, Any]]:
    rows = table.filter(pa.compute.is_null(table[SOURCE_ERROR])).drop_columns(
        [SOURCE_ERROR, SOURCE_POSITION, SOURCE_RAW]
    )
    return rows.to_pylist()


def errors(table: pa.Table) -> list[tuple[str, str, str]]:
    bad = table.filter(pa.compute.is_valid(table[SOURCE_ERROR]))
    for name in bad.column_names:
        if name not in (SOURCE_ERROR, SOURCE_POSITION, SOURCE_RAW):
            assert bad[name].null_count == bad.num_rows  # data columns are null on error rows
    return list(zip(*(bad[c].to_pylist() for c in (SOURCE_ERROR, SOURCE_POSITION, SOURCE_RAW)), strict=True))


def test_columns_are_text_as_written_with_nulls_and_empty_strings_apart(tmp_path: Path) -> None:
    put(tmp_path, "a.csv", b'id,amount,note\n007,1.50,""\n008,,x\n')
    table = read(tmp_path)
    assert table.schema.field("id").type == pa.string() and table.schema.field("amount").type == pa.string()
    assert good(table) == [
        {"id": "007", "amount": "1.50", "note": ""},
        {"id": "008", "amount": None, "note": "x"},
    ]


def test_delimiter_quote_header_and_null_markers(tmp_path: Path) -> None:
    put(tmp_path, "a.csv", b"'R1';'a;b';NULL\n'R2';'it''s';-\n")
    options = CsvOptions(
        delimiter=";", quote_char="'", header=False, columns=("id", "text", "x"), null_values=("NULL", "-")
    )
    assert good(read(tmp_path, options)) == [
        {"id": "R1", "text": "a;b", "x": None},
        {"id": "R2", "text": "it's", "x": None},
    ]


def test_encoding_and_multiline_values(tmp_path: Path) -> None:
    put(tmp_path, "a.csv", 'id,city\n1,"Wien\nZentrum"\n2,Malmö\n'.encode("cp1252"))
    table = read(tmp_path, CsvOptions(encoding="cp1252", newlines_in_values=True))
    assert good(table) == [{"id": "1", "city": "Wien\nZentrum"}, {"id": "2", "city": "Malmö"}]


def test_malformed_lines_become_error_rows_with_their_physical_line(tmp_path: Path) -> None:
    content = (
        b"id,name,amount\n"  # line 1
        b"1,ann,1.50\n"  # 2
        b"2,bob\n"  # 3: one field short
        b"\n"  # 4: blank, skipped
        b'3,"multi\nline",2\n'  # 5-6: a line break in a value (not allowed by default)
        b"4,caf\xe9,3\n"  # 7: Latin-1 in a UTF-8 file
        b"5,eve,4,extra\n"  # 8: one field too many
        b"6,joe,5\n"  # 9
    )
    put(tmp_path, "orders-0001.csv", content)
    bad_byte = content.index(b"\xe9")
    table = read(tmp_path)
    assert good(table) == [
        {"id": "1", "name": "ann", "amount": "1.50"},
        {"id": "6", "name": "joe", "amount": "5"},
    ]
    assert errors(table) == [
        ("orders-0001.csv line 3: expected 3 fields, found 2", "orders-0001.csv:3", "2,bob"),
        (
            "orders-0001.csv line 5: a quoted value runs over 2 lines (unclosed quote?)",
            "orders-0001.csv:5",
            "3,multi\nline,2",
        ),
        (
            f"orders-0001.csv line 7: bytes not valid in utf-8 at byte {bad_byte}",
            "orders-0001.csv:7",
            "4,caf\\xe9,3",
        ),
        ("orders-0001.csv line 8: expected 3 fields, found 4", "orders-0001.csv:8", "5,eve,4,extra"),
    ]


def test_line_numbers_stay_exact_across_blocks_and_multiline_values(tmp_path: Path) -> None:
    lines = ["id,text"]
    for i in range(40_000):  # ~1.3 MB: more than one 1 MiB parse block
        lines.append(f'{i},"two\nlines"' if i % 1000 == 0 else f"{i},t{i}")
    lines[30_001] = "30000"  # data row 30000 is short a field
    content = ("\n".join(lines) + "\n").encode()
    put(tmp_path, "big.csv", content)
    table = read(tmp_path, CsvOptions(newlines_in_values=True), batch_size=7_000)
    physical = content.split(b"\n").index(b"30000") + 1
    assert errors(table) == [
        (f"big.csv line {physical}: expected 2 fields, found 1", f"big.csv:{physical}", "30000")
    ]
    assert len(good(table)) == 39_999


def test_an_unclosed_quote_swallows_lines_into_one_error_row_and_the_rest_flows(tmp_path: Path) -> None:
    put(tmp_path, "a.csv", b'id,name\n1,"open\n2,b\n3,"c"\n4,d\n')
    table = read(tmp_path)
    assert [row["id"] for row in good(table)] == ["4"]
    [(reason, position, raw)] = errors(table)
    assert position == "a.csv:2" and "unclosed quote" in reason and raw.startswith("1,open\n2,b")


def test_reasons_never_carry_values(tmp_path: Path) -> None:
    put(tmp_path, "a.csv", b"id,secret\n1,hunter2,x\n2,s\xff3cret\n")
    for reason, _, raw in errors(read(tmp_path)):
        assert "hunter2" not in reason and "cret" not in reason
        assert "hunter2" in raw or "cret" in raw  # the raw column keeps the line for quarantine


def test_an_empty_file_and_a_header_only_file_hold_no_rows(tmp_path: Path) -> None:
    put(tmp_path, "a.csv", b"id,name\n")
    put(tmp_path, "b.csv", b"\n")
    assert read(tmp_path).num_rows == 0


@pytest.mark.parametrize(
    ("settings", "where"),
    [
        ({"delimiter": ";;"}, "delimiter"),
        ({"encoding": "utf-16"}, "encoding"),
        ({"encoding": "no-such-codec"}, "encoding"),
        ({"header": False}, "columns"),
        ({"header": "yes"}, "header"),
        ({"columns": ["a"]}, "columns"),
        ({"null_values": "NULL"}, "null_values"),
        ({"quote_char": ","}, "delimiter"),
        ({"settle_seconds": -1}, "settle_seconds"),
        ({"archive_directory": 3}, "archive_directory"),
        ({"sheet": 1}, "sheet"),
    ],
)
def test_settings_errors_name_the_setting(tmp_path: Path, settings: dict[str, Any], where: str) -> None:
    with pytest.raises(BadConfiguration) as error:
        make_source(
            {"connector": "csv", "directory": str(tmp_path), **settings}, key_fields=(), cursor_field=None
        )
    assert error.value.where == where
    assert "hunter" not in str(error.value)


def test_a_bad_byte_far_into_a_utf8_file_loses_and_repeats_nothing(tmp_path: Path) -> None:
    rows = [f"{i},name{i:020d}".encode() for i in range(60_000)]  # ~1.9 MB: bad byte in a later block
    rows[55_000] = b"55000,caf\xe9"
    put(tmp_path, "a.csv", b"id,name\n" + b"\n".join(rows) + b"\n")
    table = read(tmp_path, batch_size=5_000)
    assert [int(row["id"]) for row in good(table)] == [i for i in range(60_000) if i != 55_000]
    [(reason, position, raw)] = errors(table)
    assert position == "a.csv:55002" and raw == "55000,caf\\xe9" and "not valid in utf-8" in reason
