"""Shaping a file's stream of tables into source batches.

`rebatch` turns tables of any size into tables of exactly `batch_size` rows (the last may
be smaller) without copying (slices and chunk lists); `skip_records` drops a resumed
file's first records. Both keep the record order, which a drop-folder cursor counts on.
"""

from __future__ import annotations

from collections.abc import Iterator

import pyarrow as pa


def rebatch(tables: Iterator[pa.Table], batch_size: int) -> Iterator[pa.Table]:
    """Tables of exactly `batch_size` rows (the last may be smaller), from any sizes.

    Tables whose schemas cannot be unified (JSON Lines columns that change type) are
    never combined: the pending rows are flushed first.
    """
    pending: list[pa.Table] = []
    count = 0
    schema: pa.Schema | None = None
    for table in tables:
        if not table.num_rows:
            continue
        unified = _unified(schema, table.schema)
        if unified is None:
            yield _concat(pending)
            pending, count, unified = [], 0, table.schema
        pending.append(table)
        count += table.num_rows
        schema = unified
        while count >= batch_size:
            whole = _concat(pending)
            yield whole.slice(0, batch_size)
            rest = whole.slice(batch_size)
            pending, count = ([rest] if rest.num_rows else []), rest.num_rows
            schema = rest.schema if rest.num_rows else None
    if count:
        yield _concat(pending)


def _unified(first: pa.Schema | None, second: pa.Schema) -> pa.Schema | None:
    """The schema both unify to, or None if they cannot (`first` None: `second`)."""
    if first is None or first.equals(second):
        return second
    try:
        return pa.unify_schemas([first, second], promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return None


def _concat(tables: list[pa.Table]) -> pa.Table:
    if len(tables) == 1:
        return tables[0]
    if all(table.schema.equals(tables[0].schema) for table in tables):
        return pa.concat_tables(tables)
    return pa.concat_tables(tables, promote_options="permissive")


def skip_records(tables: Iterator[pa.Table], skip: int) -> Iterator[pa.Table]:
    """`tables` without their first `skip` rows (for formats that cannot seek)."""
    for table in tables:
        if skip >= table.num_rows:
            skip -= table.num_rows
            continue
        yield table.slice(skip) if skip else table
        skip = 0
