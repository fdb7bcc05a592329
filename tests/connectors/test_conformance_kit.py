"""The conformance kit itself: it passes a correct connector and catches broken ones.

`Store` is an in-memory system; `StoreSource` reads it like SqlSource (one keyset query
per batch, by cursor field and key, or by key alone) and `StoreSink` writes it like a
file sink (a batch id written again replaces its rows). Each mutant breaks one contract
the way real connectors do, and the check for that contract must fail on it.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator, Sequence
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pytest

import schemas
from connectors import Cursor, SinkReceipt, SourceBatch
from connectors.testing import (
    KEY,
    TYPE_CASES,
    ConnectorHarness,
    TypeCase,
    check_bounded_memory,
    check_every_row_once,
    check_idempotent_write,
    check_new_rows_only,
    check_resume,
    check_type_round_trip,
)
from connectors.testing.memory import _PeakMeter


class Store:
    """Rows by batch id, as a folder of batch files would hold them."""

    def __init__(self) -> None:
        self.batches: dict[str, pa.Table] = {}

    def table(self) -> pa.Table:
        return pa.concat_tables(self.batches.values())


class StoreSink:
    def __init__(self, store: Store) -> None:
        self.store = store

    def write(self, batch_id: str, data: pa.Table) -> SinkReceipt:
        self.store.batches[batch_id] = data
        return SinkReceipt(batch_id, data.num_rows, "memory")

    def close(self) -> None:
        pass


class StoreSource:
    """Keyset pagination over the store by (cursor field, key) or by key."""

    def __init__(self, store: Store, cursor_field: str | None) -> None:
        self.store = store
        self.order = [cursor_field, KEY] if cursor_field else [KEY]

    def read(self, cursor: Cursor | None, *, batch_size: int = 50_000) -> Iterator[SourceBatch]:
        position = None if cursor is None else cursor["after"]
        while True:
            table = self.store.table().sort_by([(name, "ascending") for name in self.order])
            if position is not None:
                table = table.filter(self.after(table, position))
            if not table.num_rows:
                return
            batch = table.slice(0, batch_size)
            position = self.position(batch)
            yield SourceBatch(batch, {"after": position})

    def position(self, batch: pa.Table) -> list[Any]:
        last = batch.slice(batch.num_rows - 1, 1).to_pylist()[0]
        return [_json(last[name]) for name in self.order]

    def after(self, table: pa.Table, position: list[Any]) -> pa.ChunkedArray:
        """(c1, c2) > (v1, v2) on whole columns."""
        values = [
            pa.scalar(_value(v, table[n].type), table[n].type)
            for n, v in zip(self.order, position, strict=True)
        ]
        mask = pc.greater(table[self.order[0]], values[0])
        if len(self.order) == 2:
            tie = pc.and_(pc.equal(table[self.order[0]], values[0]), pc.greater(table[KEY], values[1]))
            mask = pc.or_(mask, tie)
        return mask

    def close(self) -> None:
        pass


def _json(value: Any) -> Any:
    return value.isoformat() if isinstance(value, dt.datetime) else value


def _value(value: Any, arrow_type: pa.DataType) -> Any:
    return dt.datetime.fromisoformat(value) if pa.types.is_timestamp(arrow_type) else value


class StoreHarness(ConnectorHarness):
    source_class: type[StoreSource] = StoreSource
    sink_class: type[StoreSink] = StoreSink

    def __init__(self) -> None:
        self.store = Store()

    def make_source(self, *, key_fields: Sequence[str], cursor_field: str | None) -> StoreSource:
        return self.source_class(self.store, cursor_field)

    def make_sink(self, *, schema: pa.Schema, key_fields: Sequence[str]) -> StoreSink:
        return self.sink_class(self.store)


# -- the mutants -----------------------------------------------------------------------


class CursorOnlySource(StoreSource):
    """Resumes with `updated_at > last` alone: rows sharing the boundary value are lost."""

    def after(self, table: pa.Table, position: list[Any]) -> pa.ChunkedArray:
        column = self.order[0]
        return pc.greater(
            table[column], pa.scalar(_value(position[0], table[column].type), table[column].type)
        )


class RepeatingSource(StoreSource):
    """Its cursor points one row early: every batch boundary repeats a row."""

    def position(self, batch: pa.Table) -> list[Any]:
        return super().position(batch.slice(0, max(1, batch.num_rows - 1)))


class OversizedSource(StoreSource):
    def read(self, cursor: Cursor | None, *, batch_size: int = 50_000) -> Iterator[SourceBatch]:
        return super().read(cursor, batch_size=batch_size + 1)


class AppendingSink(StoreSink):
    """Writes every call as new rows: a retried batch is delivered twice."""

    def write(self, batch_id: str, data: pa.Table) -> SinkReceipt:
        super().write(f"{batch_id}-{uuid.uuid4().hex}", data)
        return SinkReceipt(batch_id, data.num_rows, "memory")


class FloatSink(StoreSink):
    """Stores decimals as floats, as a careless JSON or spreadsheet export would."""

    def write(self, batch_id: str, data: pa.Table) -> SinkReceipt:
        schema = pa.schema(
            [f.with_type(pa.float64()) if pa.types.is_decimal(f.type) else f for f in data.schema]
        )
        return super().write(batch_id, data.cast(schema))


def harness_with(**classes: type) -> StoreHarness:
    harness = StoreHarness()
    for name, value in classes.items():
        setattr(harness, name, value)
    return harness


# -- the kit passes the correct connector ----------------------------------------------


@pytest.mark.parametrize("case", TYPE_CASES, ids=[case.name for case in TYPE_CASES])
def test_every_type_case_round_trips_through_an_exact_connector(case: TypeCase) -> None:
    check_type_round_trip(StoreHarness(), case)


def test_the_row_checks_pass_a_connector_that_keeps_the_contract() -> None:
    check_every_row_once(StoreHarness())
    check_new_rows_only(StoreHarness())
    check_resume(StoreHarness(), by_cursor_field=True)
    check_resume(StoreHarness(), by_cursor_field=False)
    check_idempotent_write(StoreHarness())


# -- and fails the broken ones ---------------------------------------------------------


def test_losing_rows_that_share_a_cursor_value_at_a_batch_boundary_fails() -> None:
    with pytest.raises(
        AssertionError, match=r"a read in batches of 1: 0 row\(s\) repeated \[\], \d+ missing"
    ):
        check_every_row_once(harness_with(source_class=CursorOnlySource))
    with pytest.raises(AssertionError, match="missing"):
        check_resume(harness_with(source_class=CursorOnlySource), by_cursor_field=True)


def test_repeating_a_row_at_a_batch_boundary_fails() -> None:
    with pytest.raises(AssertionError, match=r"repeated \['k"):
        check_every_row_once(harness_with(source_class=RepeatingSource))
    with pytest.raises(
        AssertionError, match=r"stopped after 0 of \d+ batches and resumed: \d+ row\(s\) repeated"
    ):
        check_resume(harness_with(source_class=RepeatingSource), by_cursor_field=False)


def test_a_batch_larger_than_asked_fails() -> None:
    with pytest.raises(AssertionError, match=r"a batch of 2 rows \(batch_size 1\)"):
        check_every_row_once(harness_with(source_class=OversizedSource))


def test_a_sink_that_writes_a_retried_batch_again_fails() -> None:
    with pytest.raises(AssertionError, match=r"21 row\(s\) repeated"):
        check_idempotent_write(harness_with(sink_class=AppendingSink))


def test_a_sink_that_changes_a_type_fails_and_a_lossy_declaration_is_refused() -> None:
    [decimal] = [case for case in TYPE_CASES if case.name == "decimal-38"]
    with pytest.raises(AssertionError, match=r"came back as double; expected decimal128\(38, 10\)"):
        check_type_round_trip(harness_with(sink_class=FloatSink), decimal)
    declared = harness_with(sink_class=FloatSink)
    declared.read_types = {pa.decimal128(38, 10): pa.float64()}
    with pytest.raises(AssertionError, match="the declared read type double loses values"):
        check_type_round_trip(declared, decimal)


def test_the_type_cases_are_the_avro_mapping_of_the_schemas_part() -> None:
    """The kit repeats GovBus's Avro → Arrow mapping; it must not drift from schemas'."""
    for case in TYPE_CASES:
        mapped = schemas.avro_to_arrow(case.avro)
        for field in case.table.schema:
            assert mapped.field(field.name).type == field.type, (case.name, field.name)
            assert mapped.field(field.name).nullable == field.nullable, (case.name, field.name)


def test_the_null_case_is_the_avro_mapping_of_the_schemas_part() -> None:
    [case] = [case for case in TYPE_CASES if case.name == "null"]
    field = schemas.avro_to_arrow(case.avro).field("null")
    assert field.type == pa.null() and field.nullable


# -- the memory check ------------------------------------------------------------------


def test_the_peak_meter_sees_a_short_lived_allocation() -> None:
    with _PeakMeter() as meter:
        block = b"x" * (200 << 20)
        del block
    assert meter.growth >= 190 << 20


class SlicingSource:
    """Streams the store's batches in slices, file by file (cursor: batches done)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def read(self, cursor: Cursor | None, *, batch_size: int = 50_000) -> Iterator[SourceBatch]:
        for index, table in enumerate(self.store.batches.values()):
            if cursor is None or index >= cursor["done"]:
                for start in range(0, table.num_rows, batch_size):
                    yield SourceBatch(table.slice(start, batch_size), {"done": index + 1})

    def close(self) -> None:
        pass


class GatheringSource(SlicingSource):
    """Copies every row into one table before yielding the first batch."""

    def read(self, cursor: Cursor | None, *, batch_size: int = 50_000) -> Iterator[SourceBatch]:
        everything = self.store.table().combine_chunks()
        for start in range(0, everything.num_rows, batch_size):
            yield SourceBatch(everything.slice(start, batch_size), {"done": len(self.store.batches)})


class FolderStoreHarness(StoreHarness):
    reads_by_cursor_field = False

    def make_source(self, *, key_fields: Sequence[str], cursor_field: str | None) -> SlicingSource:
        return self.source_class(self.store)  # type: ignore[arg-type, return-value]


@pytest.mark.slow
def test_the_memory_check_tells_a_streaming_source_from_one_that_gathers() -> None:
    report = check_bounded_memory(harness_with_folder(SlicingSource), 100_000)
    assert report.data_mib >= 2 * report.bound_mib and report.growth_mib < report.bound_mib
    with pytest.raises(AssertionError, match="The source must stream"):
        check_bounded_memory(harness_with_folder(GatheringSource), 100_000)


def harness_with_folder(source_class: type) -> FolderStoreHarness:
    harness = FolderStoreHarness()
    harness.source_class = source_class
    return harness
