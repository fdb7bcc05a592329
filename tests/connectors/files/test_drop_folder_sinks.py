"""File sinks (CSV, JSON Lines, Avro): atomic, idempotent per batch id, exact round trips."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

import schemas
from connectors import (
    SOURCE_ERROR,
    SOURCE_POSITION,
    SOURCE_RAW,
    AvroFormat,
    AvroSink,
    CsvFormat,
    CsvOptions,
    CsvSink,
    DropFolderSource,
    JsonLinesFormat,
    JsonLinesSink,
    make_sink,
)
from govbus.errors import BadConfiguration, BadInput

OLD = time.time() - 3600
AVRO = {
    "type": "record",
    "name": "Return",
    "fields": [
        {"name": "return_id", "type": "string"},
        {"name": "note", "type": ["null", "string"]},
        {
            "name": "gross_income",
            "type": ["null", {"type": "bytes", "logicalType": "decimal", "precision": 20, "scale": 8}],
        },
        {"name": "updated_at", "type": {"type": "long", "logicalType": "timestamp-micros"}},
        {"name": "filed_on", "type": ["null", {"type": "int", "logicalType": "date"}]},
        {"name": "score", "type": ["null", "double"]},
        {"name": "active", "type": ["null", "boolean"]},
    ],
}
SCHEMA = schemas.parse_schema(AVRO)
DATA = pa.Table.from_pylist(
    [
        {
            "return_id": "R1",
            "note": 'says "hi", then\nleaves',
            "gross_income": Decimal("123456789012.12345678"),
            "updated_at": dt.datetime(2024, 5, 1, 8, 0, 0, 250_001, tzinfo=dt.UTC),
            "filed_on": dt.date(2024, 2, 29),
            "score": 0.1,
            "active": True,
        },
        {
            "return_id": "R2",
            "note": "",
            "gross_income": Decimal("0.00000001"),
            "updated_at": dt.datetime(1969, 12, 31, 23, 59, 59, 999_999, tzinfo=dt.UTC),
            "filed_on": None,
            "score": None,
            "active": False,
        },
        {
            "return_id": "R3",
            "note": None,
            "gross_income": None,
            "updated_at": dt.datetime(2030, 1, 1, tzinfo=dt.UTC),
            "filed_on": dt.date(1, 1, 1),
            "score": -1e300,
            "active": None,
        },
    ],
    schema=SCHEMA.arrow,
)
SINKS = {
    "csv": (CsvSink, lambda: CsvFormat(CsvOptions(newlines_in_values=True))),
    "jsonl": (JsonLinesSink, JsonLinesFormat),
    "avro": (AvroSink, AvroFormat),
}


def files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


@pytest.mark.parametrize("kind", sorted(SINKS))
def test_sinks_write_one_file_per_batch_id_with_its_digest(tmp_path: Path, kind: str) -> None:
    sink_class, _ = SINKS[kind]
    receipt = sink_class(tmp_path / "out").write("stage7-0-stats", DATA)
    path = tmp_path / "out" / f"stage7-0-stats.{kind}"
    assert receipt.files == ((path.name, hashlib.sha256(path.read_bytes()).hexdigest()),)
    assert (receipt.rows, receipt.location, receipt.batch_id) == (3, str(path), "stage7-0-stats")


@pytest.mark.parametrize("kind", sorted(SINKS))
def test_rewriting_a_batch_id_replaces_its_file_without_leftovers(tmp_path: Path, kind: str) -> None:
    sink = SINKS[kind][0](tmp_path)
    first = sink.write("b-1", DATA)
    again = sink.write("b-1", DATA)  # a retry: same content, same single file
    assert files(tmp_path) == [f"b-1.{kind}"] and again.files[0][0] == first.files[0][0]
    smaller = sink.write("b-1", DATA.slice(0, 1))
    assert files(tmp_path) == [f"b-1.{kind}"] and smaller.rows == 1
    assert hashlib.sha256((tmp_path / f"b-1.{kind}").read_bytes()).hexdigest() == smaller.files[0][1]


@pytest.mark.parametrize("kind", sorted(SINKS))
def test_a_failed_rename_leaves_no_partial_file(tmp_path: Path, kind: str) -> None:
    blocker = tmp_path / f"b-1.{kind}"
    blocker.mkdir()  # the rename into place fails: a crash at the last step
    (blocker / "keep").write_text("x")
    with pytest.raises(Exception) as error:  # noqa: PT011 - TransientError from the sink
        SINKS[kind][0](tmp_path).write("b-1", DATA)
    assert type(error.value).__name__ == "TransientError"
    assert files(tmp_path) == [f"b-1.{kind}"] and blocker.is_dir()  # no temporary left behind


@pytest.mark.parametrize("kind", sorted(SINKS))
@pytest.mark.parametrize("batch_id", ["../x", ".hidden", "a/b", "/etc/passwd", "", "a\x00b"])
def test_hostile_batch_ids_are_refused(tmp_path: Path, kind: str, batch_id: str) -> None:
    with pytest.raises(BadInput) as error:
        SINKS[kind][0](tmp_path / "inside").write(batch_id, DATA)
    assert error.value.where == "batch_id"
    assert list(tmp_path.rglob("*")) == []


def test_a_symlink_planted_as_the_batch_file_is_replaced_not_followed(tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    outside = tmp_path / "precious.txt"
    outside.write_text("precious")
    (tmp_path / "out" / "b-1.csv").symlink_to(outside)
    CsvSink(tmp_path / "out").write("b-1", DATA)
    assert outside.read_text() == "precious"
    assert not (tmp_path / "out" / "b-1.csv").is_symlink()


@pytest.mark.parametrize("kind", sorted(SINKS))
def test_round_trip_through_sink_source_and_conform_is_exact(tmp_path: Path, kind: str) -> None:
    sink_class, file_format = SINKS[kind]
    sink_class(tmp_path).write("b-1", DATA)
    os.utime(tmp_path / f"b-1.{kind}", (OLD, OLD))
    batches = list(DropFolderSource(file_format(), tmp_path, settle_seconds=0).read(None))
    read = pa.concat_tables(b.data for b in batches)
    assert read[SOURCE_ERROR].null_count == read.num_rows
    result = schemas.conform(read.drop_columns([SOURCE_ERROR, SOURCE_POSITION, SOURCE_RAW]), SCHEMA)
    assert result.issues.num_rows == 0
    assert result.table.to_pylist() == DATA.to_pylist()


def test_text_forms_are_exact_and_readable(tmp_path: Path) -> None:
    CsvSink(tmp_path, delimiter=";").write("b-1", DATA)
    lines = (tmp_path / "b-1.csv").read_text().splitlines()
    assert lines[0] == '"return_id";"note";"gross_income";"updated_at";"filed_on";"score";"active"'
    assert lines[3] == '"R2";"";"0.00000001";"1969-12-31T23:59:59.999999Z";;;false'
    JsonLinesSink(tmp_path).write("b-1", DATA)
    first = (tmp_path / "b-1.jsonl").read_text().splitlines()[0]
    assert first == (
        '{"return_id":"R1","note":"says \\"hi\\", then\\nleaves","gross_income":"123456789012.12345678",'
        '"updated_at":"2024-05-01T08:00:00.250001Z","filed_on":"2024-02-29","score":0.1,"active":true}'
    )


def test_csv_refuses_nested_columns_naming_them(tmp_path: Path) -> None:
    with pytest.raises(BadInput) as error:
        CsvSink(tmp_path).write("b-1", pa.table({"tags": pa.array([["a"]])}))
    assert error.value.where == "tags"
    assert files(tmp_path) == []


def test_file_sinks_are_built_from_settings(tmp_path: Path) -> None:
    def sink(settings: dict[str, Any]) -> Any:
        return make_sink(settings, key_fields=("return_id",), schema=SCHEMA.arrow)

    assert isinstance(sink({"connector": "csv", "directory": str(tmp_path), "delimiter": "\t"}), CsvSink)
    assert isinstance(sink({"connector": "jsonl", "directory": str(tmp_path)}), JsonLinesSink)
    assert isinstance(sink({"connector": "avro", "directory": str(tmp_path), "codec": "null"}), AvroSink)
    with pytest.raises(BadConfiguration) as error:
        sink({"connector": "avro", "directory": str(tmp_path), "codec": "snappy"})
    assert error.value.where == "codec"
    with pytest.raises(BadConfiguration) as error:
        sink({"connector": "jsonl", "path": str(tmp_path)})
    assert error.value.where == "path" and "directory" in (error.value.hint or "")
