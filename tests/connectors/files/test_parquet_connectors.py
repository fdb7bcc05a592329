"""ParquetSink (atomic, idempotent, safe batch ids) and ParquetSource (compound cursor)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from connectors import ParquetSink, ParquetSource
from govbus.errors import BadConfiguration, BadInput

T0 = dt.datetime(2024, 5, 1, 8, 0, 0, 250_000, tzinfo=dt.UTC)
SCHEMA = pa.schema(
    [
        ("return_id", pa.string()),
        ("updated_at", pa.timestamp("us", tz="UTC")),
        ("gross_income", pa.decimal128(14, 2)),
    ]
)


def returns(count: int = 25) -> pa.Table:
    """`count` rows, 10 of which share one updated_at, stored out of cursor order."""
    rows = []
    for i in range(count):
        offset = dt.timedelta(hours=1) if 5 <= i < 15 else dt.timedelta(minutes=7 * (24 - i))
        rows.append(
            {
                "return_id": f"R{(i * 7) % 25:03d}",
                "updated_at": T0 + offset,
                "gross_income": Decimal(i) / 4,
            }
        )
    return pa.Table.from_pylist(rows, schema=SCHEMA)


def cursor_order(table: pa.Table) -> list[str]:
    rows = sorted(table.to_pylist(), key=lambda r: (r["updated_at"], r["return_id"]))
    return [row["return_id"] for row in rows]


def return_id(row: dict[str, Any]) -> str:
    return row["return_id"]


def test_sink_writes_one_file_per_batch_id_with_its_digest(tmp_path: Path) -> None:
    sink = ParquetSink(tmp_path / "deliveries")
    data = returns()
    receipt = sink.write("stage7-0-stats", data)
    path = tmp_path / "deliveries" / "stage7-0-stats.parquet"
    assert receipt.files == (("stage7-0-stats.parquet", hashlib.sha256(path.read_bytes()).hexdigest()),)
    assert (receipt.rows, receipt.location) == (25, str(path))
    assert pq.read_table(path).equals(data)


def test_rewriting_a_batch_id_replaces_its_file_and_leaves_no_temporaries(tmp_path: Path) -> None:
    sink = ParquetSink(tmp_path)
    sink.write("b-1", returns())
    smaller = returns(3)
    receipt = sink.write("b-1", smaller)  # a retry with what the exchange staged
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b-1.parquet"]
    assert pq.read_table(tmp_path / "b-1.parquet").equals(smaller)
    assert receipt.rows == 3


def test_a_failed_write_keeps_the_previous_file_whole(tmp_path: Path) -> None:
    sink = ParquetSink(tmp_path)
    sink.write("b-1", returns())
    before = (tmp_path / "b-1.parquet").read_bytes()
    unwritable = pa.table({"span": pa.array([None], pa.month_day_nano_interval())})
    with pytest.raises(BadInput) as error:
        sink.write("b-1", unwritable)
    assert error.value.where == "batch b-1"
    assert (tmp_path / "b-1.parquet").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b-1.parquet"]


@pytest.mark.parametrize("batch_id", ["../x", "..", ".hidden", "a/b", "/etc/passwd", "", "a\x00b"])
def test_hostile_batch_ids_are_refused(tmp_path: Path, batch_id: str) -> None:
    inside = tmp_path / "inside"
    with pytest.raises(BadInput) as error:
        ParquetSink(inside).write(batch_id, returns(1))
    assert error.value.where == "batch_id"
    assert sorted(p.name for p in tmp_path.rglob("*")) == []


def test_a_symlink_planted_as_the_batch_file_is_not_followed(tmp_path: Path) -> None:
    inside, outside = tmp_path / "inside", tmp_path / "outside.parquet"
    inside.mkdir()
    outside.write_bytes(b"precious")
    (inside / "b-1.parquet").symlink_to(outside)
    with pytest.raises(BadInput):
        ParquetSink(inside).write("b-1", returns(1))
    assert outside.read_bytes() == b"precious"


def test_source_resumes_exactly_from_every_cursor(tmp_path: Path, assert_resumes_exactly: Any) -> None:
    path = tmp_path / "returns.parquet"
    data = returns()
    pq.write_table(data, path, row_group_size=6)
    source = ParquetSource(path, cursor_fields=("updated_at",), key_fields=("return_id",))
    last = assert_resumes_exactly(source, cursor_order(data), 4, return_id)
    assert last["after"] == [(T0 + dt.timedelta(hours=2, minutes=48)).isoformat(), "R000"]

    # A new drop: one new row and one changed row are newer than the cursor.
    later = T0 + dt.timedelta(days=1)
    changed = pa.Table.from_pylist(
        [
            {"return_id": "R900", "updated_at": later, "gross_income": Decimal("1.00")},
            {"return_id": "R007", "updated_at": later, "gross_income": Decimal("2.00")},
        ],
        schema=SCHEMA,
    )
    unchanged = data.filter(pa.compute.not_equal(data["return_id"], "R007"))
    pq.write_table(pa.concat_tables([changed, unchanged]), path)
    batches = list(source.read(json.loads(json.dumps(last)), batch_size=4))
    assert [row["return_id"] for b in batches for row in b.data.to_pylist()] == ["R007", "R900"]


def test_source_full_refresh_starts_over_after_its_last_batch(tmp_path: Path) -> None:
    path = tmp_path / "returns.parquet"
    pq.write_table(returns(), path)
    source = ParquetSource(path, cursor_fields=None, key_fields=("return_id",))
    batches = list(source.read(None, batch_size=10))
    assert [b.data.num_rows for b in batches] == [10, 10, 5]
    assert batches[-1].cursor["after"] is None
    assert sum(b.data.num_rows for b in source.read(batches[-1].cursor)) == 25
    rest = list(source.read(json.loads(json.dumps(batches[0].cursor)), batch_size=100))
    assert rest[0].data["return_id"].to_pylist() == sorted(returns()["return_id"].to_pylist())[10:]


def test_source_refuses_null_or_duplicate_ordering_values(tmp_path: Path) -> None:
    path = tmp_path / "returns.parquet"
    data = returns(3)
    pq.write_table(pa.concat_tables([data, data.slice(0, 1)]), path)
    source = ParquetSource(path, cursor_fields=("updated_at",), key_fields=("return_id",))
    with pytest.raises(BadInput, match="share the same cursor and key"):
        list(source.read(None))
    nulls = data.set_column(1, "updated_at", pa.nulls(3, SCHEMA.field("updated_at").type))
    pq.write_table(nulls, path)
    with pytest.raises(BadInput) as error:
        list(source.read(None))
    assert error.value.where == "returns.parquet: updated_at"


def test_source_names_fields_missing_from_the_file(tmp_path: Path) -> None:
    path = tmp_path / "returns.parquet"
    pq.write_table(returns(3), path)
    with pytest.raises(BadConfiguration) as error:
        list(ParquetSource(path, cursor_fields=("changed_at",), key_fields=("return_id",)).read(None))
    assert error.value.where == "cursor_fields[0]"
    with pytest.raises(BadConfiguration) as error:
        list(ParquetSource(path, cursor_fields=None, key_fields=("return_id", "seq")).read(None))
    assert error.value.where == "key_fields[1]"
    with pytest.raises(BadConfiguration) as error:
        list(ParquetSource(tmp_path / "absent.parquet", cursor_fields=None, key_fields=("x",)).read(None))
    assert error.value.where == "path"
