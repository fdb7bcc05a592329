"""Reading one Parquet file in cursor order, a few row groups at a time (issue 18).

`ParquetSource` must yield the rows strictly after a compound cursor in the order of its
ordering fields (`connectors.cursors`), as if the whole file had been sorted. Holding
the whole file to sort it made memory grow with the file; instead the read is planned:

1. `plan` reads only the ordering columns, one row group at a time, and notes for each
   group the rows after the cursor, their smallest and largest ordering value and
   whether they are already strictly ascending. A group whose first ordering field's
   statistics say every value lies before the cursor is skipped unread (integers,
   timestamps and dates only: their statistics are exact).
2. Groups whose ordering ranges overlap are joined into one *run* (intervals sorted by
   their low end, merged while they touch: equal ends overlap, so a tie across groups is
   sorted and refused like any other). Runs do not overlap, so emitting them in order of
   their low ends is the global order.
3. The source reads each run: a run of one ascending group is passed on as read; a small
   run is concatenated and sorted in memory; a large one (a file shuffled across its
   groups) is sorted group by group into temporary files and `merge`d, a chunk of each
   file at a time.

What a caller must know: memory is bounded by a row group (or, for a large overlapping
run, by a chunk per row group), not the file. Only the groups that hold rows after the
cursor are read in full, so values are checked (`bounds.value_problems`) in those
groups only; the ordering columns of every group not skipped by its statistics are
checked for nulls.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

__all__ = ["GroupSpan", "Run", "after_mask", "merge", "plan", "rebatch", "strictly_ascending"]

# Types whose Parquet min/max statistics are exact, so a group can be skipped on them.
_PRUNABLE = (pa.types.is_integer, pa.types.is_timestamp, pa.types.is_date)


@dataclass(frozen=True)
class GroupSpan:
    """One row group's rows after the cursor: where they are and the range they span."""

    index: int  # the row group's number in the file
    first_record: int  # the 1-based record number of the group's first row in the file
    rows: int  # rows after the cursor
    low: tuple[Any, ...]  # the smallest ordering value among them (Python values)
    high: tuple[Any, ...]  # the largest
    ascending: bool  # already strictly ascending in file order


@dataclass(frozen=True)
class Run:
    """Row groups whose ranges overlap: read and, unless one ascending group, sorted together."""

    groups: tuple[GroupSpan, ...]

    @property
    def rows(self) -> int:
        """Rows after the cursor in the run's groups."""
        return sum(group.rows for group in self.groups)

    @property
    def needs_sort(self) -> bool:
        """Whether the run must be sorted (anything but a single already ascending group)."""
        return len(self.groups) > 1 or not self.groups[0].ascending


def plan(
    source: pq.ParquetFile,
    order: Sequence[str],
    position: list[Any] | None,
    on_nulls: Callable[[str], None],
) -> list[Run]:
    """The runs to read, in output order (see the module doc). `on_nulls(field)` must
    raise: it is called when an ordering field of a group read holds a null."""
    metadata = source.metadata
    columns = [metadata.schema.column(i) for i in range(metadata.num_columns)]
    leaf = {c.path: i for i, c in enumerate(columns) if c.path == c.name}  # top-level leaves only
    first_type = source.schema_arrow.field(order[0]).type
    spans: list[GroupSpan] = []
    record = 1
    for index in range(metadata.num_row_groups):
        group_rows = metadata.row_group(index).num_rows
        first_record, record = record, record + group_rows
        if not group_rows or _before(metadata.row_group(index), leaf.get(order[0]), first_type, position):
            continue
        keys = source.read_row_group(index, columns=list(order))
        for name in order:
            if keys[name].null_count:
                on_nulls(name)
        if position is not None:
            keys = keys.filter(after_mask(keys, order, position))
        if not keys.num_rows:
            continue
        ascending = strictly_ascending(keys, order)
        if not ascending:
            keys = keys.take(pc.sort_indices(keys, sort_keys=[(name, "ascending") for name in order]))
        low, high = _row(keys, order, 0), _row(keys, order, keys.num_rows - 1)
        spans.append(GroupSpan(index, first_record, keys.num_rows, low, high, ascending))
    return _runs(spans)


def after_mask(table: pa.Table, fields: Sequence[str], position: list[Any]) -> pa.ChunkedArray:
    """(f1, f2, …) > (v1, v2, …) on whole columns: f1 > v1 OR (f1 = v1 AND f2 > v2) OR …"""
    mask = equal_prefix = None
    for name, value in zip(fields, position, strict=True):
        column = table[name]
        scalar = pa.scalar(value, type=column.type)
        term = pc.greater(column, scalar)
        if equal_prefix is not None:
            term = pc.and_(equal_prefix, term)
        mask = term if mask is None else pc.or_(mask, term)
        equal = pc.equal(column, scalar)
        equal_prefix = equal if equal_prefix is None else pc.and_(equal_prefix, equal)
    return mask


def strictly_ascending(table: pa.Table, order: Sequence[str]) -> bool:
    """Whether each row is strictly after the one before it on `order` (vectorized)."""
    if table.num_rows < 2:
        return True
    later = equal_prefix = None
    for name in order:
        column = table[name]
        before, after = column.slice(0, table.num_rows - 1), column.slice(1)
        term = pc.less(before, after)
        if equal_prefix is not None:
            term = pc.and_(equal_prefix, term)
        later = term if later is None else pc.or_(later, term)
        equal = pc.equal(before, after)
        equal_prefix = equal if equal_prefix is None else pc.and_(equal_prefix, equal)
    return bool(pc.all(later).as_py())


def rebatch(tables: Iterator[pa.Table], batch_size: int) -> Iterator[tuple[pa.Table, bool]]:
    """`tables` cut into batches of exactly `batch_size` rows (the last one fewer), each
    with whether it is the last: a batch is held until the next one exists, so a source can
    tell its final batch (a full refresh ends its cursor there) as a whole-file slice would."""
    pending: list[pa.Table] = []
    count = 0
    held: pa.Table | None = None
    for table in tables:
        if not table.num_rows:
            continue
        pending.append(table)
        count += table.num_rows
        while count >= batch_size:
            combined = pa.concat_tables(pending)
            if held is not None:
                yield held, False
            held = combined.slice(0, batch_size)
            rest = combined.slice(batch_size)
            pending, count = ([rest] if rest.num_rows else []), rest.num_rows
    if count:
        if held is not None:
            yield held, False
        held = pa.concat_tables(pending)
    if held is not None:
        yield held, True


def merge(paths: Sequence[str], order: Sequence[str], chunk_rows: int) -> Iterator[pa.Table]:
    """The rows of the Parquet files `paths`, each sorted on `order`, merged in that order:
    pieces of at most about `chunk_rows` rows per file, one chunk per file in memory.

    Each round takes, from every file's current chunk, the rows up to the smallest of the
    chunks' last values (all rows up to it are in the current chunks, as each file is
    sorted), sorts that piece and yields it; the chunk that ended it is read on.
    """
    readers = [pq.ParquetFile(path).iter_batches(batch_size=chunk_rows) for path in paths]
    heads: list[pa.Table | None] = [_next_chunk(reader) for reader in readers]
    while True:
        live = [i for i, head in enumerate(heads) if head is not None]
        if not live:
            return
        bound = min(_row(heads[i], order, heads[i].num_rows - 1) for i in live)  # type: ignore[union-attr]
        taken = []
        for i in live:
            head = heads[i]
            assert head is not None
            if _row(head, order, 0) > bound:
                continue  # the whole chunk comes later
            later = int(pc.sum(after_mask(head, order, list(bound))).as_py() or 0)
            upto = head.num_rows - later  # a sorted chunk: the rows up to the bound lead
            taken.append(head.slice(0, upto))
            heads[i] = head.slice(upto) if later else _next_chunk(readers[i])
        yield pa.concat_tables(taken).sort_by([(name, "ascending") for name in order])


def _next_chunk(reader: Iterator[pa.RecordBatch]) -> pa.Table | None:
    for batch in reader:
        if batch.num_rows:
            return pa.Table.from_batches([batch])
    return None


def _before(group: pq.RowGroupMetaData, leaf: int | None, arrow_type: pa.DataType, position: Any) -> bool:
    """Whether the group's statistics prove every first-field value is before the cursor."""
    if position is None or leaf is None or not any(test(arrow_type) for test in _PRUNABLE):
        return False
    stats = group.column(leaf).statistics
    if stats is None or not stats.has_min_max or not stats.has_null_count or stats.null_count:
        return False
    try:
        high = pa.scalar(stats.max, type=arrow_type)
        return bool(pc.less(high, pa.scalar(position[0], type=arrow_type)).as_py())
    except (pa.ArrowException, TypeError, ValueError, OverflowError):
        return False  # statistics we cannot compare: read the group


def _row(table: pa.Table, order: Sequence[str], i: int) -> tuple[Any, ...]:
    return tuple(table[name][i].as_py() for name in order)


def _runs(spans: list[GroupSpan]) -> list[Run]:
    """Join groups whose [low, high] ranges overlap or touch; runs in order of their low ends."""
    runs: list[Run] = []
    members: list[GroupSpan] = []
    high: tuple[Any, ...] | None = None
    for span in sorted(spans, key=lambda s: (s.low, s.index)):
        if members and high is not None and span.low <= high:
            members.append(span)
            high = max(high, span.high)
            continue
        if members:
            runs.append(Run(tuple(members)))
        members, high = [span], span.high
    if members:
        runs.append(Run(tuple(members)))
    return runs
