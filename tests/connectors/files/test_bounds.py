"""Every file parser is bounded: nesting, line length, field size, file size, UTF-8, decimals.

Hostile inputs of issue 16: a JSON Lines line nested 100,000 deep, a 5 MB value, text
that is not UTF-8 (in values and in Parquet column names), decimals beyond their
precision, CSV's "Exception ignored … UnicodeDecodeError". Each becomes an error row
naming file and line/record, or a clear `BadInput` naming the file: never a crash.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import fastavro
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from connectors import (
    SOURCE_ERROR,
    SOURCE_POSITION,
    SOURCE_RAW,
    AvroFormat,
    CsvFormat,
    DropFolderSource,
    JsonLinesFormat,
    Limits,
    ParquetFormat,
    ParquetSource,
    make_source,
)
from connectors.files.bounds import value_problems
from govbus.errors import BadConfiguration, BadInput
from tests.conftest import REPO

OLD = time.time() - 3600
FIVE_MB = 5 * 1024 * 1024


def put(folder: Path, name: str | bytes, content: bytes) -> Path:
    path = Path(os.fsdecode(os.path.join(os.fsencode(folder), os.fsencode(name))))
    path.write_bytes(content)
    os.utime(path, (OLD, OLD))
    return path


def read(folder: Path, file_format: object, **options: object) -> tuple[list[dict], list[tuple]]:
    source = DropFolderSource(file_format, folder, settle_seconds=0, **options)  # type: ignore[arg-type]
    good: list[dict] = []
    bad: list[tuple] = []
    for batch in source.read(None, batch_size=10_000):
        table = batch.data
        ok = pc.is_null(table[SOURCE_ERROR])
        good += table.filter(ok).drop_columns([SOURCE_ERROR, SOURCE_POSITION, SOURCE_RAW]).to_pylist()
        errors = table.filter(pc.invert(ok))
        bad += zip(*(errors[c].to_pylist() for c in (SOURCE_ERROR, SOURCE_POSITION, SOURCE_RAW)), strict=True)
    return good, bad


# -- JSON Lines -------------------------------------------------------------------------


def test_a_jsonl_line_nested_100000_deep_is_an_error_row_naming_file_and_line(tmp_path: Path) -> None:
    deep = b'{"a":' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    put(tmp_path, "e.jsonl", b'{"a":1}\n' + deep + b'\n{"a":2}\n')
    good, bad = read(tmp_path, JsonLinesFormat())
    assert good == [{"a": 1}, {"a": 2}]
    assert [(reason, position) for reason, position, _ in bad] == [
        ("e.jsonl line 2: nests deeper than max_depth (64 levels)", "e.jsonl:2")
    ]


def test_nesting_inside_strings_does_not_count(tmp_path: Path) -> None:
    put(tmp_path, "e.jsonl", b'{"a":"' + b"[{" * 500 + b'\\"]"}\n')
    good, bad = read(tmp_path, JsonLinesFormat())
    assert bad == [] and good == [{"a": "[{" * 500 + '"]'}]


def test_a_5_mb_jsonl_value_is_an_error_row_and_the_rest_flows(tmp_path: Path) -> None:
    huge = b'{"id":2,"postal_code":"' + b"9" * FIVE_MB + b'"}'
    put(tmp_path, "e.jsonl", b'{"id":1,"postal_code":"1010"}\n' + huge + b'\n{"id":3,"postal_code":"8010"}\n')
    good, bad = read(tmp_path, JsonLinesFormat())
    assert [row["id"] for row in good] == [1, 3]
    assert bad[0][:2] == (
        "e.jsonl line 2: postal_code: longer than max_field_bytes (1048576 bytes)",
        "e.jsonl:2",
    )
    assert len(bad[0][2]) <= 64 * 1024 + 1  # the raw text is cut


def test_a_jsonl_line_over_max_line_bytes_is_skipped_without_holding_it(tmp_path: Path) -> None:
    put(tmp_path, "e.jsonl", b'{"a":1}\n{"a":"' + b"x" * 3_000_000 + b'"}\n{"a":3}\n')
    good, bad = read(tmp_path, JsonLinesFormat(Limits(max_line_bytes=1_000_000, max_field_bytes=10)))
    assert good == [{"a": 1}, {"a": 3}]
    assert bad[0][:2] == ("e.jsonl line 2: longer than max_line_bytes (1000000 bytes)", "e.jsonl:2")


def test_jsonl_values_that_are_not_utf8_are_error_rows(tmp_path: Path) -> None:
    put(tmp_path, "e.jsonl", b'{"a":"ok"}\n{"a":"Z\xffq"}\n')
    good, bad = read(tmp_path, JsonLinesFormat())
    assert good == [{"a": "ok"}]
    assert bad == [("e.jsonl line 2: bytes not valid in utf-8", "e.jsonl:2", '{"a":"Z\\xffq"}')]


# -- CSV --------------------------------------------------------------------------------


@pytest.mark.filterwarnings("error::pytest.PytestUnraisableExceptionWarning")
def test_csv_with_bad_bytes_in_a_short_row_prints_no_ignored_exception(tmp_path: Path) -> None:
    put(tmp_path, "a.csv", b"a,b\n1,x\n\xc3,\x82\n2,y\n")
    good, bad = read(tmp_path, CsvFormat())
    assert good == [{"a": "1", "b": "x"}, {"a": "2", "b": "y"}]
    assert [position for _, position, _ in bad] == ["a.csv:3"]
    script = (
        "from pathlib import Path; from connectors import CsvFormat\n"
        f"list(CsvFormat().records(Path({str(tmp_path / 'a.csv')!r}), 'a.csv', 0))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, check=True)
    assert "Exception ignored" not in out.stderr and "UnicodeDecodeError" not in out.stderr


def test_a_5_mb_csv_value_is_an_error_row_and_the_rest_flows(tmp_path: Path) -> None:
    put(tmp_path, "a.csv", b"id,postal_code\n1,1010\n2," + b"9" * FIVE_MB + b"\n3,8010\n")
    good, bad = read(tmp_path, CsvFormat())
    assert [row["id"] for row in good] == ["1", "3"]
    assert bad[0][:2] == ("a.csv line 3: postal_code: longer than max_field_bytes (1048576 bytes)", "a.csv:3")


def test_a_csv_line_over_max_line_bytes_fails_the_file_naming_the_line(tmp_path: Path) -> None:
    put(tmp_path, "a.csv", b"id,note\n1,x\n2," + b"y" * 2_000 + b"\n")
    with pytest.raises(BadInput, match=r"a\.csv:3: a line is longer than max_line_bytes \(1000 bytes\)"):
        read(tmp_path, CsvFormat(limits=Limits(max_line_bytes=1_000, max_field_bytes=100)))


def test_a_csv_header_naming_a_column_twice_is_refused(tmp_path: Path) -> None:
    put(tmp_path, "a.csv", b"a,a\n1,2\n")
    with pytest.raises(BadInput, match="names a column twice"):
        read(tmp_path, CsvFormat())


# -- Parquet ----------------------------------------------------------------------------


def _invalid_text(values: list[bytes | None]) -> pa.Array:
    raw = pa.array(values, pa.binary())
    return pa.Array.from_buffers(pa.string(), len(raw), raw.buffers(), raw.null_count)


def _beyond_precision(values: list[str | None], precision: int, scale: int) -> pa.Array:
    wide = pa.array([None if v is None else Decimal(v) for v in values], pa.decimal128(38, scale))
    return pa.Array.from_buffers(pa.decimal128(precision, scale), len(wide), wide.buffers(), wide.null_count)


def test_parquet_text_that_is_not_utf8_and_decimals_beyond_precision_are_error_rows(tmp_path: Path) -> None:
    table = pa.table(
        {
            "name": _invalid_text([b"ok", b"Z\xffq", b"fine", b"ok2"]),
            "amount": _beyond_precision(["1.00", "2.00", "12345678.90", None], 5, 2),
            "tags": pa.array([["a"], [], None, ["b"]]),
        }
    )
    pq.write_table(table, tmp_path / "p.parquet")
    os.utime(tmp_path / "p.parquet", (OLD, OLD))
    good, bad = read(tmp_path, ParquetFormat())
    assert good == [
        {"name": "ok", "amount": Decimal("1.00"), "tags": ["a"]},
        {"name": "ok2", "amount": None, "tags": ["b"]},
    ]
    assert [(reason, position) for reason, position, _ in bad] == [
        ("p.parquet record 2: name: text that is not valid UTF-8", "p.parquet#2"),
        ("p.parquet record 3: amount: more digits than decimal(5, 2) allows", "p.parquet#3"),
    ]
    assert "Z\\\\xffq" in bad[0][2] and '"amount": "' in bad[1][2]  # as the file stores it


def test_a_parquet_column_name_that_is_not_utf8_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "n.parquet"
    pq.write_table(pa.table({"colAAAA": ["x"], "ok": [1]}), path, store_schema=False)
    path.write_bytes(path.read_bytes().replace(b"colAAAA", b"col\xff\xfeAA"))
    os.utime(path, (OLD, OLD))
    with pytest.raises(
        BadInput, match=r"n\.parquet: a column name or the file's metadata is not valid UTF-8"
    ):
        read(tmp_path, ParquetFormat())


def test_a_5_mb_parquet_value_is_an_error_row(tmp_path: Path) -> None:
    pq.write_table(pa.table({"id": [1, 2], "postal_code": ["1010", "9" * FIVE_MB]}), tmp_path / "p.parquet")
    os.utime(tmp_path / "p.parquet", (OLD, OLD))
    good, bad = read(tmp_path, ParquetFormat())
    assert good == [{"id": 1, "postal_code": "1010"}]
    assert bad[0][:2] == (
        "p.parquet record 2: postal_code: longer than max_field_bytes (1048576 bytes)",
        "p.parquet#2",
    )


def test_the_single_file_parquet_source_refuses_bad_text_and_hard_links(tmp_path: Path) -> None:
    path = tmp_path / "one.parquet"
    pq.write_table(pa.table({"id": [1, 2], "name": _invalid_text([b"a", b"\xff"])}), path)
    source = ParquetSource(path, cursor_fields=None, key_fields=["id"])
    with pytest.raises(BadInput, match=r"one\.parquet: record 2: name: text that is not valid UTF-8"):
        list(source.read(None))
    pq.write_table(pa.table({"id": [1]}), path)
    os.link(path, tmp_path / "other-name.parquet")
    with pytest.raises(BadConfiguration, match="hard link"):
        list(source.read(None))


# -- Avro -------------------------------------------------------------------------------

AVRO_SCHEMA = {
    "type": "record",
    "name": "R",
    "fields": [{"name": "id", "type": "long"}, {"name": "note", "type": "string"}],
}


def test_a_5_mb_avro_value_is_an_error_row(tmp_path: Path) -> None:
    with open(tmp_path / "a.avro", "wb") as handle:
        fastavro.writer(handle, AVRO_SCHEMA, [{"id": 1, "note": "x"}, {"id": 2, "note": "y" * FIVE_MB}])
    os.utime(tmp_path / "a.avro", (OLD, OLD))
    good, bad = read(tmp_path, AvroFormat())
    assert good == [{"id": 1, "note": "x"}]
    assert bad[0][:2] == ("a.avro record 2: note: longer than max_field_bytes (1048576 bytes)", "a.avro#2")


def test_avro_text_that_is_not_utf8_fails_the_file_naming_it(tmp_path: Path) -> None:
    with open(tmp_path / "a.avro", "wb") as handle:
        fastavro.writer(handle, AVRO_SCHEMA, [{"id": 1, "note": "QQQQ"}], codec="null")
    path = tmp_path / "a.avro"
    path.write_bytes(path.read_bytes().replace(b"QQQQ", b"Q\xffQQ"))
    os.utime(path, (OLD, OLD))
    with pytest.raises(BadInput, match=r"a\.avro: a text value or a name in the file is not valid UTF-8"):
        read(tmp_path, AvroFormat())


# -- file size, names, links ------------------------------------------------------------


def test_a_file_over_max_file_bytes_is_refused_naming_it(tmp_path: Path) -> None:
    put(tmp_path, "big.jsonl", b'{"a":1}\n' * 100)
    with pytest.raises(BadInput, match=r"big\.jsonl: the file is larger than max_file_bytes \(100 bytes\)"):
        read(tmp_path, JsonLinesFormat(Limits(max_file_bytes=100)))


def test_a_file_name_that_is_not_utf8_is_reported_once_and_not_read(tmp_path: Path) -> None:
    put(tmp_path, b"bad\xffname.csv", b"a\n1\n")
    put(tmp_path, "good.csv", b"a\n2\n")
    source = DropFolderSource(CsvFormat(), tmp_path, settle_seconds=0)
    batches = list(source.read(None))
    rows = [row for batch in batches for row in batch.data.to_pylist()]
    assert [row["a"] for row in rows if row[SOURCE_ERROR] is None] == ["2"]
    errors = [row for row in rows if row[SOURCE_ERROR] is not None]
    assert errors == [
        {
            SOURCE_ERROR: "bad\\xffname.csv: the file name is not valid UTF-8: "
            "the file was not read (rename it)",
            SOURCE_POSITION: "bad\\xffname.csv",
            SOURCE_RAW: None,
            **({"a": None} if "a" in errors[0] else {}),
        }
    ]
    cursor = batches[-1].cursor
    assert list(source.read(cursor)) == []  # reported once: it counts as consumed
    assert "bad\\xffname.csv" in [entry["name"] for entry in cursor["files"]]


def test_a_hard_link_in_a_drop_folder_is_reported_not_read_unless_allowed(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    secret = put(outside, "passwd", b"a\nsecret\n")
    folder = tmp_path / "drop"
    folder.mkdir()
    os.link(secret, folder / "linked.csv")
    good, bad = read(folder, CsvFormat())
    assert good == []
    assert bad == [
        (
            "linked.csv: the file is a hard link (it has other names, maybe outside the drop folder): "
            "not read (copy it in instead, or set allow_hard_links: true)",
            "linked.csv",
            None,
        )
    ]
    good, bad = read(folder, CsvFormat(), allow_hard_links=True)
    assert good == [{"a": "secret"}] and bad == []


def test_limits_are_settings_of_every_file_source(tmp_path: Path) -> None:
    for connector in ("csv", "jsonl", "avro", "parquet"):
        source = make_source(
            {"connector": connector, "directory": str(tmp_path), "max_field_bytes": 10, "max_depth": 3},
            key_fields=(),
            cursor_field=None,
        )
        assert source._format.limits == Limits(max_field_bytes=10, max_depth=3)  # type: ignore[attr-defined]
    with pytest.raises(BadConfiguration, match="max_depth: must be a number from 1 to 1000"):
        make_source(
            {"connector": "jsonl", "directory": "x", "max_depth": 5000}, key_fields=(), cursor_field=None
        )
    with pytest.raises(BadConfiguration, match="unknown setting 'max_line_bytes'"):
        make_source(
            {"connector": "avro", "directory": "x", "max_line_bytes": 9}, key_fields=(), cursor_field=None
        )


@pytest.mark.parametrize("kind", [pa.string(), pa.large_string(), pa.binary(), pa.large_binary()])
def test_too_long_values_are_found_from_offsets_as_from_their_lengths(kind: pa.DataType) -> None:
    values = ["a" * n if n >= 0 else None for n in (0, 3, 4, -1, 5, 2, 7, -1, 4)]
    whole = pa.array(values, kind)
    for array in (whole, whole.slice(2, 5), whole.slice(5)):
        for limit in (1, 3, 4, 7):
            table = pa.table({"v": array})
            expected = pc.fill_null(pc.greater(pc.binary_length(array), limit), False).to_numpy(
                zero_copy_only=False
            )
            problems = value_problems(table, Limits(max_field_bytes=limit))
            assert (problems.codes >= 0).tolist() == expected.tolist()


def test_a_null_slot_spanning_bytes_is_not_too_long() -> None:
    data = pa.py_buffer(b"x" * 52)
    offsets = pa.py_buffer(np.array([0, 2, 50, 52], np.int32).tobytes())
    validity = pa.py_buffer(bytes([0b101]))
    array = pa.Array.from_buffers(pa.string(), 3, [validity, offsets, data], null_count=1)
    problems = value_problems(pa.table({"v": array}), Limits(max_field_bytes=10))
    assert (problems.codes >= 0).tolist() == [False, False, False]
    assert (value_problems(pa.table({"v": array}), Limits(max_field_bytes=1)).codes >= 0).tolist() == [
        True,
        False,
        True,
    ]
