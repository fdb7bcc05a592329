"""The kit's checks, as plain functions of a harness: each raises AssertionError saying what
went wrong, for which row or column, and what the `Source`/`Sink` contract expected.

`ConnectorConformance` runs them as tests; they are public so a kit user can call one
on its own (e.g. for a connector variant the class does not cover).
"""

from __future__ import annotations

import itertools
import json
from collections import Counter
from collections.abc import Iterator, Sequence
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from connectors.base import Cursor, Source, SourceBatch
from connectors.source_errors import SOURCE_ERROR, SOURCE_ERROR_COLUMNS, SOURCE_POSITION
from connectors.testing.harness import ConnectorHarness
from connectors.testing.sample import CURSOR, GROUP, KEY, sample_rows
from connectors.testing.type_cases import TypeCase

BATCH_SIZES = (1, 5, 64)
"""Batch sizes of the row checks: one row, a size that cuts every cursor group (of
`sample.GROUP` = 7 rows), and more than all rows."""


def check_type_round_trip(harness: ConnectorHarness, case: TypeCase) -> None:
    """Rows of `case` seeded (by default: written by the sink) and read back by the source
    come back exactly: same keys, every value equal, every column of the Arrow type
    written or of the type `harness.read_types` declares for it (checked lossless)."""
    written = case.table
    harness.seed(written, key_fields=[KEY], cursor_field=None)
    where = f"type case {case.name!r}"
    tables = [
        harness.conform(without_error_columns(table), case.avro)
        for table in harness.stored(schema=written.schema, key_fields=[KEY])
    ]
    assert tables, f"{where}: nothing was read back"
    try:
        read = pa.concat_tables(tables)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise AssertionError(f"{where}: the batches read back differ in their columns: {exc}") from None
    assert sorted(read.column_names) == sorted(written.column_names), (
        f"{where}: read back columns {read.column_names}, wrote {written.column_names}"
    )
    assert _keys(read) == sorted(_keys(written)), f"{where}: read back the keys {_keys(read)}"
    read, written = read.sort_by(KEY), written.sort_by(KEY)
    for name in case.columns:
        wrote, got = written[name].combine_chunks(), read[name].combine_chunks()
        expected_type = harness.read_types.get(wrote.type, wrote.type)
        assert got.type == expected_type, (
            f"{where}: column {name} (written as {wrote.type}) came back as {got.type}; expected "
            f"{expected_type} (declare a lossless mapping in read_types if the connector has one)"
        )
        expected = wrote.cast(expected_type) if expected_type != wrote.type else wrote
        if expected_type != wrote.type:
            back = expected.cast(wrote.type)
            assert _same(back, wrote), f"{where}: the declared read type {expected_type} loses values"
        for row, (want, have) in enumerate(zip(_values(expected), _values(got), strict=True)):
            assert _same_value(want, have), (
                f"{where}: column {name}, key {written[KEY][row]}: wrote {want!r}, read back {have!r}"
            )


def check_every_row_once(harness: ConnectorHarness) -> None:
    """A read from the start, in batches of each of `BATCH_SIZES`, yields every row exactly
    once in batches of at most the batch size — rows sharing a cursor value across batch
    boundaries included — and a read from its last cursor yields nothing."""
    cursor_field = CURSOR if harness.reads_by_cursor_field else None
    expected = _seed_in_parts(harness, 0, 40, cursor_field)
    for batch_size in BATCH_SIZES:
        source = harness.make_source(key_fields=[KEY], cursor_field=cursor_field)
        try:
            keys, cursors = read_keys(source, None, batch_size)
            _assert_once(keys, expected, f"a read in batches of {batch_size}")
            again, _ = read_keys(source, cursors[-1], batch_size)
            assert not again, f"a read from the last cursor yielded {len(again)} rows (nothing was added)"
        finally:
            source.close()


def check_new_rows_only(harness: ConnectorHarness) -> None:
    """Rows added after a complete read are exactly what a read from its last cursor yields.

    The added rows carry later cursor values (in groups again); each read uses a new
    source, as the next run of the bus would."""
    cursor_field = CURSOR if harness.reads_by_cursor_field else None
    first = _seed_in_parts(harness, 0, 26, cursor_field)
    last = _complete_read(harness, None, first, cursor_field, "the first read")
    start = -(-26 // GROUP) * GROUP  # the next group: later cursor values
    added = _seed_in_parts(harness, start, 19, cursor_field)
    last = _complete_read(harness, last, added, cursor_field, "a read after rows were added")
    _complete_read(harness, last, [], cursor_field, "a read after that, with nothing added")


def check_resume(harness: ConnectorHarness, *, by_cursor_field: bool) -> None:
    """A read interrupted after any number k of batches resumes exactly: a new source
    reading from batch k's cursor (after a JSON round trip) yields exactly the rows the
    first k batches did not — no row lost, none repeated.

    `by_cursor_field=False` reads without a cursor field: a full refresh for sources that
    read by one (there the cursor of the last batch starts the next refresh, so k stops
    one short of the end), the only mode of the others."""
    cursor_field = CURSOR if by_cursor_field else None
    full_refresh = harness.reads_by_cursor_field and not by_cursor_field
    expected = _seed_in_parts(harness, 0, 23, cursor_field)
    batch_size = 5
    source = harness.make_source(key_fields=[KEY], cursor_field=cursor_field)
    try:
        batches = list(_batches(source, None, batch_size))
    finally:
        source.close()
    count = len(batches)
    assert count >= 2, f"23 rows in batches of {batch_size} came as {count} batch(es)"
    for k in range(count if full_refresh else count + 1):
        interrupted = harness.make_source(key_fields=[KEY], cursor_field=cursor_field)
        try:
            taken, cursor = _read_some(interrupted, k, batch_size)
        finally:
            interrupted.close()
        resumed = harness.make_source(key_fields=[KEY], cursor_field=cursor_field)
        try:
            rest, _ = read_keys(resumed, cursor, batch_size)
        finally:
            resumed.close()
        _assert_once(taken + rest, expected, f"a read stopped after {k} of {count} batches and resumed")


def check_idempotent_write(harness: ConnectorHarness) -> None:
    """Writing a batch id again — by the same sink, or by a new one as after a crash — has
    no further effect: the location holds each row once."""
    first, second = sample_rows(0, 12), sample_rows(12, 9)
    sink = harness.make_sink(schema=first.schema, key_fields=[KEY])
    try:
        for batch_id, table in (("batch-a", first), ("batch-b", second), ("batch-a", first)):
            receipt = sink.write(batch_id, table)
            assert (receipt.batch_id, receipt.rows) == (batch_id, table.num_rows), (
                f"the receipt of {batch_id} says batch {receipt.batch_id!r}, {receipt.rows} rows"
            )
    finally:
        sink.close()
    again = harness.make_sink(schema=first.schema, key_fields=[KEY])
    try:
        again.write("batch-b", second)
    finally:
        again.close()
    stored = harness.stored(schema=first.schema, key_fields=[KEY])
    keys = [key for table in stored for key in _keys(without_error_columns(table))]
    expected = _keys(first) + _keys(second)
    _assert_once(keys, expected, "after batch-a, batch-b, batch-a again and batch-b again")


# -- reading helpers -------------------------------------------------------------------


def read_keys(source: Source, cursor: Cursor | None, batch_size: int) -> tuple[list[str], list[Cursor]]:
    """Every key a read from `cursor` yields, and each batch's cursor (JSON round-tripped)."""
    keys: list[str] = []
    cursors: list[Cursor] = []
    for batch in _batches(source, cursor, batch_size):
        keys += _keys(batch.data)
        cursors.append(batch.cursor)
    return keys, cursors


def without_error_columns(table: pa.Table) -> pa.Table:
    """`table` without the error columns of `connectors.source_errors`, which must all be
    null: a source that could not read a row the kit wrote is failing the check."""
    present = [name for name in SOURCE_ERROR_COLUMNS if name in table.column_names]
    if SOURCE_ERROR in present and table[SOURCE_ERROR].null_count != table.num_rows:
        bad = table.filter(pc.is_valid(table[SOURCE_ERROR])).slice(0, 3)
        reasons = bad[SOURCE_ERROR].to_pylist()
        positions = bad[SOURCE_POSITION].to_pylist() if SOURCE_POSITION in present else []
        raise AssertionError(f"the source could not read rows it was given: {reasons} at {positions}")
    return table.drop_columns(present)


def _batches(source: Source, cursor: Cursor | None, batch_size: int) -> Iterator[SourceBatch]:
    """The source's batches, checked for size, with cursors round-tripped through JSON."""
    for batch in source.read(_json(cursor), batch_size=batch_size):
        rows = batch.data.num_rows
        assert 0 < rows <= batch_size, f"a batch of {rows} rows (batch_size {batch_size})"
        yield SourceBatch(batch.data, _json(batch.cursor))


def _read_some(source: Source, count: int, batch_size: int) -> tuple[list[str], Cursor | None]:
    """The keys of the first `count` batches and the cursor after them; the read is then
    abandoned mid-way, as a crash would."""
    keys: list[str] = []
    cursor: Cursor | None = None
    if count == 0:
        return keys, cursor
    reading = _batches(source, None, batch_size)
    try:
        for batch in reading:
            keys += _keys(batch.data)
            cursor = batch.cursor
            count -= 1
            if count == 0:
                break
    finally:
        reading.close()
    assert count == 0, "the read yielded fewer batches than before"
    return keys, cursor


def _complete_read(
    harness: ConnectorHarness, cursor: Cursor | None, expected: list[str], cursor_field: str | None, what: str
) -> Cursor | None:
    source = harness.make_source(key_fields=[KEY], cursor_field=cursor_field)
    try:
        keys, cursors = read_keys(source, cursor, 5)
    finally:
        source.close()
    _assert_once(keys, expected, what)
    return cursors[-1] if cursors else cursor


def _seed_in_parts(harness: ConnectorHarness, start: int, count: int, cursor_field: str | None) -> list[str]:
    """Seed rows start … start+count-1 in three uneven parts (three files, three inserts);
    return their keys."""
    cuts = [start, start + count // 4, start + count // 4 + count // 2, start + count]
    keys: list[str] = []
    for low, high in itertools.pairwise(cuts):
        table = sample_rows(low, high - low)
        harness.seed(table, key_fields=[KEY], cursor_field=cursor_field)
        keys += _keys(table)
    return keys


def _assert_once(keys: Sequence[str], expected: Sequence[str], what: str) -> None:
    counts = Counter(keys)
    repeated = sorted(key for key, n in counts.items() if n > 1)
    missing = sorted(set(expected) - set(counts))
    unexpected = sorted(set(counts) - set(expected))
    assert not (repeated or missing or unexpected), (
        f"{what}: {len(repeated)} row(s) repeated {repeated[:5]}, {len(missing)} missing {missing[:5]}, "
        f"{len(unexpected)} not expected {unexpected[:5]}"
    )


def _keys(table: pa.Table) -> list[str]:
    assert KEY in table.column_names, f"the rows have no key column {KEY!r}: {table.column_names}"
    return [str(key) for key in table[KEY].to_pylist()]


def _json(cursor: Cursor | None) -> Any:
    """What the bus does with a cursor between runs: store it as JSON, load it back."""
    return None if cursor is None else json.loads(json.dumps(cursor))


# -- comparing values ------------------------------------------------------------------


def _values(array: pa.Array) -> list[Any]:
    """Python values to compare; dictionaries decoded; timestamps and times as integers of
    their unit (Python has no nanoseconds; the type is compared apart)."""
    if pa.types.is_dictionary(array.type):
        array = array.dictionary_decode()
    if pa.types.is_timestamp(array.type) or pa.types.is_time(array.type):
        width = pa.int32() if pa.types.is_time32(array.type) else pa.int64()
        array = array.view(width)
    return array.to_pylist()


def _same_value(want: Any, have: Any) -> bool:
    if isinstance(want, float) and isinstance(have, float) and want != want:
        return have != have  # NaN
    return type(want) is type(have) and want == have


def _same(left: pa.Array, right: pa.Array) -> bool:
    return all(_same_value(a, b) for a, b in zip(_values(left), _values(right), strict=True))
