"""Avro and Parquet drop files: exact types, and a broken file fails the read naming it."""

from __future__ import annotations

import datetime as dt
import io
import os
import time
from decimal import Decimal
from pathlib import Path

import fastavro
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from connectors import (
    SOURCE_ERROR,
    SOURCE_POSITION,
    SOURCE_RAW,
    AvroFormat,
    AvroSink,
    DropFolderSource,
    ParquetFormat,
    make_source,
)
from govbus.errors import BadInput

OLD = time.time() - 3600
UTC = dt.UTC
SCHEMA = {
    "type": "record",
    "name": "Payment",
    "namespace": "gov.tax",
    "fields": [
        {"name": "id", "type": "string"},
        {"name": "amount", "type": {"type": "bytes", "logicalType": "decimal", "precision": 38, "scale": 10}},
        {"name": "due", "type": ["null", {"type": "int", "logicalType": "date"}]},
        {"name": "at", "type": {"type": "long", "logicalType": "timestamp-micros"}},
        {"name": "at_ns", "type": {"type": "long", "logicalType": "timestamp-nanos"}},
        {"name": "local", "type": {"type": "long", "logicalType": "local-timestamp-millis"}},
        {"name": "slot", "type": {"type": "long", "logicalType": "time-micros"}},
        {"name": "ref", "type": {"type": "string", "logicalType": "uuid"}},
        {"name": "status", "type": {"type": "enum", "name": "Status", "symbols": ["OPEN", "PAID"]}},
        {
            "name": "home",
            "type": {
                "type": "record",
                "name": "Address",
                "fields": [{"name": "city", "type": "string"}, {"name": "zip", "type": ["null", "string"]}],
            },
        },
        {"name": "work", "type": ["null", "Address"]},
        {
            "name": "parts",
            "type": {
                "type": "array",
                "items": {"type": "bytes", "logicalType": "decimal", "precision": 9, "scale": 2},
            },
        },
        {"name": "labels", "type": {"type": "map", "values": "long"}},
        {"name": "hash", "type": {"type": "fixed", "name": "Hash", "size": 4}},
    ],
}
RECORD = {
    "id": "P1",
    "amount": Decimal("12345678901234567890.0123456789"),
    "due": None,
    "at": 1714550400000001,
    "at_ns": 1714550400000000001,
    "local": 1714550400123,
    "slot": 30600000001,
    "ref": "0b4c9a3e-7d7f-4d2c-9a55-5a8d3e0c6c11",
    "status": "PAID",
    "home": {"city": "Wien", "zip": None},
    "work": {"city": "Graz", "zip": "8010"},
    "parts": [Decimal("1.25"), Decimal("-0.01")],
    "labels": {"a": 1},
    "hash": b"\x00\x01\x02\x03",
}


def put(folder: Path, name: str, content: bytes) -> Path:
    (folder / name).write_bytes(content)
    os.utime(folder / name, (OLD, OLD))
    return folder / name


def avro_bytes(records: list[dict], codec: str = "deflate", block: int = 16_000) -> bytes:
    out = io.BytesIO()
    fastavro.writer(out, fastavro.parse_schema(SCHEMA), records, codec=codec, sync_interval=block)
    return out.getvalue()


def read(folder: Path, file_format: object, batch_size: int = 10_000) -> pa.Table:
    source = DropFolderSource(file_format, folder, settle_seconds=0)  # type: ignore[arg-type]
    tables = [batch.data for batch in source.read(None, batch_size=batch_size)]
    return pa.concat_tables(tables).drop_columns([SOURCE_ERROR, SOURCE_POSITION, SOURCE_RAW])


def test_avro_logical_types_arrive_exact(tmp_path: Path) -> None:
    put(tmp_path, "p.avro", avro_bytes([RECORD]))
    table = read(tmp_path, AvroFormat())
    types = {field.name: field.type for field in table.schema}
    assert types["amount"] == pa.decimal128(38, 10)
    assert types["at"] == pa.timestamp("us", "UTC") and types["at_ns"] == pa.timestamp("ns", "UTC")
    assert types["local"] == pa.timestamp("ms") and types["slot"] == pa.time64("us")
    assert types["work"] == types["home"]
    row = table.to_pylist()[0]
    assert row["amount"] == RECORD["amount"]
    assert row["at"] == dt.datetime(2024, 5, 1, 8, 0, 0, 1, tzinfo=UTC)
    assert table["at_ns"].cast(pa.int64()).to_pylist() == [1714550400000000001]
    assert row["local"] == dt.datetime(2024, 5, 1, 8, 0, 0, 123_000)
    assert row["slot"] == dt.time(8, 30, 0, 1)
    assert (row["ref"], row["status"], row["due"]) == (RECORD["ref"], "PAID", None)
    assert row["home"] == {"city": "Wien", "zip": None} and row["work"] == {"city": "Graz", "zip": "8010"}
    assert row["parts"] == [Decimal("1.25"), Decimal("-0.01")] and row["labels"] == [("a", 1)]
    assert row["hash"] == b"\x00\x01\x02\x03"


def test_avro_resumes_inside_a_file_across_blocks(tmp_path: Path) -> None:
    records = [{**RECORD, "id": f"P{i}"} for i in range(2_000)]
    put(tmp_path, "p.avro", avro_bytes(records, block=2_000))  # many small blocks
    source = DropFolderSource(AvroFormat(), tmp_path, settle_seconds=0)
    batches = list(source.read(None, batch_size=700))
    assert [b.data.num_rows for b in batches] == [700, 700, 600]
    rest = list(source.read(batches[0].cursor, batch_size=1_000))
    assert [r["id"] for b in rest for r in b.data.select(["id"]).to_pylist()] == [
        f"P{i}" for i in range(700, 2_000)
    ]


@pytest.mark.parametrize(
    ("mangle", "message"),
    [
        (lambda data: data[: len(data) - 40], "truncated or corrupt"),
        (lambda data: data[:20], "not an Avro container file"),
        (lambda data: b"id,name\n1,x\n", "not an Avro container file"),
        (lambda data: data[:300] + bytes(64) + data[364:], "truncated or corrupt"),
    ],
)
def test_a_broken_avro_file_fails_the_read_naming_it_and_is_not_archived(
    tmp_path: Path, mangle: object, message: str
) -> None:
    data = avro_bytes([{**RECORD, "id": f"P{i}"} for i in range(50)])
    put(tmp_path, "payments-0007.avro", mangle(data))  # type: ignore[operator]
    source = DropFolderSource(AvroFormat(), tmp_path, settle_seconds=0, archive_directory="archive")
    with pytest.raises(BadInput, match=message) as error:
        list(source.read(None))
    assert error.value.where == "payments-0007.avro"
    assert (tmp_path / "payments-0007.avro").exists() and not (tmp_path / "archive").exists()


def test_an_avro_union_of_several_types_is_refused_by_name(tmp_path: Path) -> None:
    schema = {"type": "record", "name": "R", "fields": [{"name": "v", "type": ["null", "int", "string"]}]}
    out = io.BytesIO()
    fastavro.writer(out, fastavro.parse_schema(schema), [{"v": 1}])
    put(tmp_path, "u.avro", out.getvalue())
    with pytest.raises(BadInput, match="field v: a union of several types") as error:
        list(DropFolderSource(AvroFormat(), tmp_path, settle_seconds=0).read(None))
    assert error.value.where == "u.avro"


def test_avro_sink_files_read_back_identically(tmp_path: Path) -> None:
    data = pa.table(
        {
            "id": pa.array(["a", "b", None]),
            "amount": pa.array([Decimal("1.50"), None, Decimal("-99999999999.99")], pa.decimal128(13, 2)),
            "at": pa.array([1, None, -1], pa.int64()).cast(pa.timestamp("ns", "UTC")),
            "day": pa.array([dt.date(2024, 2, 29), dt.date(1, 1, 1), None]),
            "seconds": pa.array(
                [dt.datetime(2024, 5, 1, 8), None, dt.datetime(1969, 12, 31, 23, 59, 59)], pa.timestamp("s")
            ),
        }
    )
    AvroSink(tmp_path).write("b-1", data)
    os.utime(tmp_path / "b-1.avro", (OLD, OLD))
    back = read(tmp_path, AvroFormat())
    assert back["amount"].equals(data["amount"]) and back["at"].equals(data["at"])
    assert back["day"].equals(data["day"]) and back["id"].equals(data["id"])
    assert back["seconds"].to_pylist() == data["seconds"].to_pylist()  # arrives in ms, same instants


def test_parquet_drop_files_keep_their_types_and_resume_by_row_group(tmp_path: Path) -> None:
    data = pa.table(
        {
            "id": pa.array(range(1_000)),
            "amount": pa.array([Decimal(i) / 100 for i in range(1_000)], pa.decimal128(9, 2)),
        }
    )
    pq.write_table(data, tmp_path / "a.parquet", row_group_size=300)
    os.utime(tmp_path / "a.parquet", (OLD, OLD))
    source = make_source(
        {"connector": "parquet", "directory": str(tmp_path), "settle_seconds": 0},
        key_fields=("id",),
        cursor_field=None,
    )
    assert isinstance(source, DropFolderSource)
    batches = list(source.read(None, batch_size=400))
    assert (
        pa.concat_tables(b.data for b in batches)
        .drop_columns([SOURCE_ERROR, SOURCE_POSITION, SOURCE_RAW])
        .equals(data)
    )
    rest = list(source.read(batches[1].cursor, batch_size=1_000))
    assert rest[0].data["id"].to_pylist() == list(range(800, 1_000))


def test_a_truncated_parquet_file_fails_the_read_naming_it(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    pq.write_table(pa.table({"id": list(range(100))}), buffer)
    put(tmp_path, "cut.parquet", buffer.getvalue()[:-30])
    with pytest.raises(BadInput, match="not a readable Parquet file") as error:
        list(DropFolderSource(ParquetFormat(), tmp_path, settle_seconds=0).read(None))
    assert error.value.where == "cut.parquet"
