"""Staged files are Arrow IPC (ADR 0009); Parquet ones staged before still read, count and
rewrite in their own format."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.feather as feather
import pyarrow.parquet as pq
import pytest

from exchange.run import staged_files
from exchange.run.staging import StagingArea

SCHEMA = pa.schema(
    [
        pa.field("id", pa.string(), nullable=False, metadata={"avro.type": "string"}),
        pa.field("amount", pa.decimal128(14, 2), metadata={"avro.type": "decimal(14,2)"}),
        pa.field("_subject_ref", pa.binary(32)),
    ]
)


def _table(rows: int = 5) -> pa.Table:
    return pa.table(
        {
            "id": [f"r{i}" for i in range(rows)],
            "amount": [Decimal(f"{i}.25") if i % 3 else None for i in range(rows)],
            "_subject_ref": [bytes([i]) * 32 for i in range(rows)],
        },
        schema=SCHEMA,
    )


@pytest.mark.parametrize("compression", [None, "zstd", "lz4"])
def test_an_arrow_file_keeps_rows_types_and_field_metadata(tmp_path: Path, compression: str | None) -> None:
    path = str(tmp_path / "x.arrow")
    staged_files.write_staged(path, path, _table(), compression)
    assert feather.read_table(path).equals(_table())  # any Arrow IPC reader reads it
    read = staged_files.read_staged(path, path)
    assert read.equals(_table())
    assert read.schema.equals(SCHEMA, check_metadata=True)
    assert staged_files.read_staged(path, path, ["amount"]).column_names == ["amount"]
    assert staged_files.count_rows(path, path) == 5
    with open(path, "rb") as handle:  # a remote store's file object
        assert staged_files.count_rows(handle, path) == 5


def test_the_name_says_the_format(tmp_path: Path) -> None:
    old = str(tmp_path / "x.parquet")
    staged_files.write_staged(old, old, _table(), None)
    assert pq.read_table(old).equals(_table())
    assert staged_files.read_staged(old, old).equals(_table())
    assert staged_files.count_rows(old, old) == 5
    assert staged_files.suffix_of("a/seg-00001.arrow") == ".arrow"
    assert staged_files.suffix_of("a/seg-00001.parquet") == ".parquet"


def test_segments_are_arrow_files_and_parquet_ones_from_before_still_read(tmp_path: Path) -> None:
    area = StagingArea("", tmp_path / "staging")
    area.write_segment("s1", 0, _table(3))
    assert (tmp_path / "staging" / "s1" / "seg-00000.arrow").is_file()
    assert area.segment_name("s1", 0) == "s1/seg-00000.arrow"
    # A segment staged before ADR 0009: a Parquet file under the old name.
    (tmp_path / "staging" / "s1").mkdir(exist_ok=True)
    pq.write_table(_table(4), tmp_path / "staging" / "s1" / "seg-00001.parquet")
    assert area.segment_name("s1", 1) == "s1/seg-00001.parquet"
    assert area.read_segment("s1", 1).equals(_table(4))
    assert area.num_rows(area.segment_name("s1", 1)) == 4
    assert area.num_rows(area.segment_name("s1", 0)) == 3
    # Not staged at all: the name a new segment gets, and reading it fails plainly.
    assert area.segment_name("s1", 2) == "s1/seg-00002.arrow"
    with pytest.raises(FileNotFoundError):
        area.read_segment("s1", 2)


def test_a_rewrite_keeps_the_files_format(tmp_path: Path) -> None:
    area = StagingArea("", tmp_path / "staging")
    area.write_table("s1/a.parquet", _table(4))
    area.write_table("s1/b.arrow", _table(4))
    assert pq.read_table(tmp_path / "staging" / "s1" / "a.parquet").num_rows == 4
    assert feather.read_table(tmp_path / "staging" / "s1" / "b.arrow").num_rows == 4


def test_a_remote_store_gets_compressed_files_a_local_disk_plain_ones(tmp_path: Path) -> None:
    local = StagingArea("", tmp_path / "staging")
    remote = StagingArea(f"file://{tmp_path / 'shared'}", tmp_path / "unused")
    assert local.compression is None and remote.compression == "zstd"
    big = pa.table({"id": pa.array(["same text, again and again"] * 20_000)})
    local.write_segment("s", 0, big)
    remote.write_segment("s", 0, big)
    plain = (tmp_path / "staging" / "s" / "seg-00000.arrow").stat().st_size
    packed = (tmp_path / "shared" / "s" / "seg-00000.arrow").stat().st_size
    assert packed * 5 < plain
    assert remote.read_segment("s", 0).equals(big)
    assert remote.num_rows(remote.segment_name("s", 0)) == 20_000
