"""ParquetSource reads row group by row group (issue 18) with the whole-file read's results.

The reference below is the read as it was before: the whole file, filtered after the
cursor, sorted on the ordering fields and sliced. Every file shape — written in cursor
order, each row group shuffled, row groups overlapping, the whole file shuffled, ties on
the cursor field across row groups — must give the same batches and cursors, from the
start and resumed from every cursor the read hands out. Memory is checked through what
the source has read (an instrumented file) and Arrow's allocated bytes at each batch,
never wall-clock time.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from connectors import ParquetSource
from connectors.cursors import FULL, INCREMENTAL, encode_last_row, make_cursor, parse_cursor
from connectors.files.row_groups import after_mask
from govbus.errors import BadInput

START = dt.datetime(2026, 1, 5, 6, 0, tzinfo=dt.UTC)


def returns(rows: int, *, per_instant: int = 7) -> pa.Table:
    """Rows in cursor order: `per_instant` returns share each timestamp (ties on the cursor)."""
    n = np.arange(rows)
    return pa.table(
        {
            "return_id": pa.array([f"R{i:06d}" for i in range(rows)]),
            "updated_at": pa.array(
                np.datetime64("2026-01-05T06:00:00", "us") + (n // per_instant).astype("timedelta64[s]")
            ).cast(pa.timestamp("us", tz="UTC")),
            "amount": pa.array(n * 3 % 1000, pa.int64()),
            "note": pa.array([f"return {i} " + "x" * (i % 17) for i in range(rows)]),
        }
    )


def write(path: Path, table: pa.Table, group_rows: int) -> Path:
    pq.write_table(table, path, row_group_size=group_rows)
    return path


def whole_file_batches(
    path: Path, order: Sequence[str], mode: str, cursor: Any, batch_size: int
) -> list[tuple[pa.Table, Any]]:
    """The read before issue 18: whole file, filter, sort, slice."""
    table = pq.read_table(path)
    types = [table.schema.field(name).type for name in order]
    position = parse_cursor(cursor, mode=mode, fields=order, types=types)
    if position is not None:
        table = table.filter(after_mask(table, order, position))
    table = table.sort_by([(name, "ascending") for name in order])
    out = []
    for start in range(0, table.num_rows, batch_size):
        data = table.slice(start, batch_size)
        last = start + batch_size >= table.num_rows
        after = None if last and mode == FULL else encode_last_row(data, order)
        out.append((data, make_cursor(mode, order, after)))
    return out


def assert_same_as_whole_file(
    path: Path, source: ParquetSource, mode: str, order: Sequence[str], size: int
) -> None:
    """From the start and resumed from every cursor handed out: same rows, same cursors."""
    expected = whole_file_batches(path, order, mode, None, size)
    assert expected, "the file must hold rows"
    cursors: list[Any] = [None] + [cursor for _, cursor in expected[:-1]]
    for cursor in cursors:
        want = whole_file_batches(path, order, mode, cursor, size)
        got = [(b.data, b.cursor) for b in source.read(cursor, batch_size=size)]
        assert [c for _, c in got] == [c for _, c in want]
        assert [d.num_rows for d, _ in got] == [d.num_rows for d, _ in want]
        for (data, _), (reference, _) in zip(got, want, strict=True):
            assert data.equals(reference)


def shuffled_within_groups(table: pa.Table, group_rows: int, seed: int = 3) -> pa.Table:
    rng = np.random.default_rng(seed)
    order = np.concatenate(
        [
            rng.permutation(np.arange(s, min(s + group_rows, table.num_rows)))
            for s in range(0, table.num_rows, group_rows)
        ]
    )
    return table.take(pa.array(order))


SHAPES = {
    "in cursor order": lambda t, g: t,
    "each row group shuffled": shuffled_within_groups,
    "row groups out of order": lambda t, g: pa.concat_tables(
        [t.slice(s, g) for s in reversed(range(0, t.num_rows, g))]
    ),
    "neighbouring row groups overlapping": lambda t, g: t.take(
        pa.array(
            np.argsort(
                np.arange(t.num_rows) + np.random.default_rng(5).integers(0, g * 2, t.num_rows), kind="stable"
            )
        )
    ),
    "whole file shuffled": lambda t, g: t.take(pa.array(np.random.default_rng(9).permutation(t.num_rows))),
}


@pytest.mark.parametrize("shape", sorted(SHAPES))
@pytest.mark.parametrize("batch_size", [5, 40, 1000])
def test_incremental_read_matches_the_whole_file_read(tmp_path: Path, shape: str, batch_size: int) -> None:
    group_rows = 30  # not a multiple of the 7 ties per instant: ties straddle row groups
    path = write(tmp_path / "r.parquet", SHAPES[shape](returns(400), group_rows), group_rows)
    assert pq.ParquetFile(path).metadata.num_row_groups > 10
    source = ParquetSource(path, cursor_fields=("updated_at",), key_fields=("return_id",))
    assert_same_as_whole_file(path, source, INCREMENTAL, ("updated_at", "return_id"), batch_size)


@pytest.mark.parametrize("shape", ["in cursor order", "whole file shuffled"])
@pytest.mark.parametrize("batch_size", [7, 50])  # 50 divides 400: the last batch is full
def test_full_refresh_matches_the_whole_file_read(tmp_path: Path, shape: str, batch_size: int) -> None:
    path = write(tmp_path / "r.parquet", SHAPES[shape](returns(400), 30), 30)
    source = ParquetSource(path, cursor_fields=None, key_fields=("return_id",))
    assert_same_as_whole_file(path, source, FULL, ("return_id",), batch_size)
    batches = list(source.read(None, batch_size=batch_size))
    assert batches[-1].cursor["after"] is None


def test_a_cursor_between_ties_resumes_within_the_instant(tmp_path: Path) -> None:
    path = write(tmp_path / "r.parquet", returns(70), 10)
    source = ParquetSource(path, cursor_fields=("updated_at",), key_fields=("return_id",))
    # Rows 14..20 share one instant and row 20 is in the third row group: resume after row 16.
    cursor = make_cursor(
        INCREMENTAL, ["updated_at", "return_id"], [(START + dt.timedelta(seconds=2)).isoformat(), "R000016"]
    )
    rows = pa.concat_tables(b.data for b in source.read(cursor, batch_size=100))
    assert rows["return_id"].to_pylist() == [f"R{i:06d}" for i in range(17, 70)]


@pytest.mark.parametrize("shape", ["in cursor order", "row groups out of order"])
def test_a_key_repeated_across_row_groups_is_refused(tmp_path: Path, shape: str) -> None:
    table = returns(60)
    table = pa.concat_tables([table, table.slice(25, 1)])  # row 25 again, in the last row group
    path = write(tmp_path / "r.parquet", SHAPES[shape](table, 20), 20)
    source = ParquetSource(path, cursor_fields=("updated_at",), key_fields=("return_id",))
    with pytest.raises(BadInput, match="two rows share the same cursor and key values"):
        list(source.read(None, batch_size=10))


def test_a_null_in_a_late_row_group_is_refused(tmp_path: Path) -> None:
    table = returns(60)
    ids = table["return_id"].to_pylist()
    ids[55] = None
    table = table.set_column(0, "return_id", pa.array(ids, pa.string()))
    source = ParquetSource(
        write(tmp_path / "r.parquet", table, 20), cursor_fields=("updated_at",), key_fields=("return_id",)
    )
    with pytest.raises(BadInput, match="cursor or key field holds nulls"):
        list(source.read(None, batch_size=10))


def test_a_bad_value_names_its_record_in_the_file(tmp_path: Path) -> None:
    table = returns(60)
    notes = table["note"].to_pylist()
    notes[47] = "y" * 200
    table = table.set_column(3, "note", pa.array(notes))
    from connectors.files.bounds import Limits

    source = ParquetSource(
        write(tmp_path / "r.parquet", table, 20),
        cursor_fields=("updated_at",),
        key_fields=("return_id",),
        limits=Limits(max_field_bytes=100),
    )
    with pytest.raises(BadInput, match="record 48"):
        list(source.read(None, batch_size=10))


class CountingSource(ParquetSource):
    """Notes every row group read: which one and with which columns."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.reads: list[tuple[int, tuple[str, ...] | None]] = []

    @contextmanager
    def _open(self) -> Iterator[pq.ParquetFile]:
        with super()._open() as file:
            reads = self.reads

            class Counting:
                def __getattr__(self, name: str) -> Any:
                    return getattr(file, name)

                def read_row_group(self, index: int, columns: list[str] | None = None) -> pa.Table:
                    reads.append((index, None if columns is None else tuple(columns)))
                    return file.read_row_group(index, columns=columns)

            yield Counting()  # type: ignore[misc]


def test_a_file_in_cursor_order_is_held_one_row_group_at_a_time(tmp_path: Path) -> None:
    group_rows, groups = 2_000, 40
    path = write(tmp_path / "r.parquet", returns(group_rows * groups), group_rows)
    group_bytes = pq.read_table(path).slice(0, group_rows).nbytes
    source = CountingSource(path, cursor_fields=("updated_at",), key_fields=("return_id",))
    live = []
    rows = 0
    before = pa.total_allocated_bytes()
    for batch in source.read(None, batch_size=500):
        live.append(pa.total_allocated_bytes())
        rows += batch.data.num_rows
        del batch
    assert rows == group_rows * groups
    # At every batch the source holds a row group or two, the batch and the reader's
    # buffers: a few row groups' worth, where the file is forty.
    assert max(live) - before < 5 * group_bytes, (max(live) - before, group_bytes)
    whole = [index for index, columns in source.reads if columns is None]
    assert whole == list(range(groups)), "each row group is read whole once, in order"
    ordering = [columns for _, columns in source.reads if columns is not None]
    assert set(ordering) == {("updated_at", "return_id")}, "the plan reads the ordering columns only"


def test_row_groups_before_the_cursor_are_not_read(tmp_path: Path) -> None:
    path = write(tmp_path / "r.parquet", returns(700), 70)  # 10 row groups, 10 instants each
    source = CountingSource(path, cursor_fields=("updated_at",), key_fields=("return_id",))
    cursor = make_cursor(
        INCREMENTAL, ["updated_at", "return_id"], [(START + dt.timedelta(seconds=75)).isoformat(), "R000529"]
    )
    rows = pa.concat_tables(b.data for b in source.read(cursor, batch_size=1000))
    assert rows["return_id"].to_pylist()[0] == "R000530"
    assert {index for index, _ in source.reads} == {7, 8, 9}, "groups 0-6 end before the cursor"


class MergingSource(ParquetSource):
    """Sorts every overlapping run through temporary files (as a large one is), never in memory."""

    sort_in_memory_rows = 0


@pytest.mark.parametrize("shape", sorted(set(SHAPES) - {"in cursor order"}))
@pytest.mark.parametrize("batch_size", [37, 50])  # 50 divides 400: a full last batch
def test_the_external_merge_matches_the_whole_file_read(
    tmp_path: Path, shape: str, batch_size: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("connectors.files.parquet.MERGE_CHUNK_ROWS", 7)  # many merge rounds
    path = write(tmp_path / "r.parquet", SHAPES[shape](returns(400), 30), 30)
    incremental = MergingSource(path, cursor_fields=("updated_at",), key_fields=("return_id",))
    assert_same_as_whole_file(path, incremental, INCREMENTAL, ("updated_at", "return_id"), batch_size)
    full = MergingSource(path, cursor_fields=None, key_fields=("return_id",))
    assert_same_as_whole_file(path, full, FULL, ("return_id",), batch_size)


def test_the_external_merge_refuses_a_key_repeated_across_row_groups(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("connectors.files.parquet.MERGE_CHUNK_ROWS", 4)
    table = returns(60)
    table = pa.concat_tables([table, table.slice(25, 1)])
    path = write(tmp_path / "r.parquet", SHAPES["whole file shuffled"](table, 20), 20)
    source = MergingSource(path, cursor_fields=("updated_at",), key_fields=("return_id",))
    with pytest.raises(BadInput, match="two rows share the same cursor and key values"):
        list(source.read(None, batch_size=10))
