"""SqlSource: incremental reads from any SQLAlchemy database by keyset pagination.

Each batch is one query, `WHERE (cursor fields) > (last position) ORDER BY cursor
fields LIMIT batch_size + 1`, with the tuple comparison expanded into OR/AND so every
dialect runs it and an index on the cursor fields serves it. The key fields end the
ordering, so rows sharing a timestamp across a batch boundary are neither skipped nor
repeated, and memory is bounded by the batch size. The one extra row fetched tells
whether more follow and proves the ordering is strict at the boundary.

What a caller must know:
* Incremental reads see a change only if the writer moves the cursor column (e.g.
  `updated_at`) forward; a transaction committing an older timestamp after a read
  passed it is not seen. Deletions are not seen.
* Cursor and key columns must be NOT NULL; a null there is refused (BadInput), since
  such a row could never be read incrementally.
* On SQLite, timestamp cursor columns must hold SQLAlchemy's text format
  (`YYYY-MM-DD HH:MM:SS.ffffff`): SQLite compares them as text, and another format
  (e.g. CURRENT_TIMESTAMP's) would compare unequal to the cursor. Others are refused.
* With `cursor_fields=None` every read is a full refresh ordered by key; the cursor of
  its last batch starts the next refresh from the top again.
* A row holding a value (text or bytes) longer than `max_field_bytes` (1 MiB unless the
  settings say otherwise) comes as an error row (`connectors.source_errors`), quarantined
  by the exchange; the other rows flow.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from decimal import Decimal
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy.sql import sqltypes

from connectors.base import Cursor, SourceBatch
from connectors.cursors import (
    FULL,
    INCREMENTAL,
    check_cursor_type,
    encode_last_row,
    make_cursor,
    parse_cursor,
)
from connectors.files.bounds import DEFAULT_FIELD_BYTES, Limits, record_texts, split_rows, value_problems
from connectors.sql.column_types import arrow_type_of, to_arrow_array
from connectors.sql.engine import (
    check_identifiers,
    db_error,
    open_engine,
    reflect_table,
    require_columns,
    split_table_name,
)
from govbus.errors import BadConfiguration, BadInput

_SQLITE_DATETIME = r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{6}$"


class SqlSource:
    """Reads a table of any SQLAlchemy database, incrementally by a compound cursor.

    `cursor_fields` are the ordering columns (e.g. `("updated_at",)`); the key fields
    not already among them are appended, so `("updated_at",)` and
    `("updated_at", "return_id")` order alike for key `return_id`. `key_fields` must
    identify a row. `columns` selects what is read (default: every column); it must
    include the cursor and key fields. Nothing connects before the first `read`.
    """

    def __init__(
        self,
        url: str,
        table: str,
        *,
        key_fields: Sequence[str],
        cursor_fields: Sequence[str] | None = ("updated_at",),
        columns: Sequence[str] | None = None,
        max_field_bytes: int = DEFAULT_FIELD_BYTES,
    ) -> None:
        split_table_name(table)
        self._limits = Limits(max_field_bytes=max_field_bytes)
        keys = check_identifiers(key_fields, "key_fields")
        if not keys:
            raise BadConfiguration("must name at least one column", where="key_fields")
        self._keys = keys
        self._cursor_fields: tuple[str, ...] = ()
        if cursor_fields is None:
            self._mode, self._order = FULL, keys
        else:
            ordering = self._cursor_fields = check_identifiers(cursor_fields, "cursor_fields")
            self._mode = INCREMENTAL
            self._order = ordering + tuple(key for key in keys if key not in ordering)
        self._columns = None if columns is None else check_identifiers(columns, "columns")
        self._table_name = table
        self._engine, redacted = open_engine(url)
        self._where = redacted
        self._location = f"{redacted}#{table}"
        self._table: sa.Table | None = None

    def read(self, cursor: Cursor | None, *, batch_size: int = 50_000) -> Iterator[SourceBatch]:
        """Yield batches of at most `batch_size` rows strictly after `cursor`."""
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise BadInput("must be a positive integer", where="batch_size")
        return self._batches(cursor, batch_size)

    def close(self) -> None:
        """Close the connection pool."""
        self._engine.dispose()

    def _batches(self, cursor: Cursor | None, batch_size: int) -> Iterator[SourceBatch]:
        table = self._reflect()
        selected = [table.c[name] for name in (self._columns or table.c.keys())]
        schema = pa.schema([(column.name, arrow_type_of(column)) for column in selected])
        order = [table.c[name] for name in self._order]
        order_types = [schema.field(name).type for name in self._order]
        for name, arrow_type in zip(self._order, order_types, strict=True):
            check_cursor_type(name, arrow_type)
        position = parse_cursor(cursor, mode=self._mode, fields=self._order, types=order_types)
        raw_checks = self._sqlite_raw_timestamps(order)
        order_index = [schema.get_field_index(name) for name in self._order]
        read = 0  # rows read so far, to number the rows refused for their size
        while True:
            stmt = sa.select(*selected, *raw_checks).order_by(*order)
            if position is not None:
                stmt = stmt.where(_after(order, position))
            rows = self._fetch(stmt.limit(batch_size + 1))
            if not rows:
                return
            more = len(rows) > batch_size
            if more:
                self._check_strict(rows[batch_size - 1], rows[batch_size], order_index)
                rows = rows[:batch_size]
            data = self._to_table(rows, selected, schema, len(raw_checks))
            after = None if self._mode == FULL and not more else encode_last_row(data, self._order)
            next_cursor = make_cursor(self._mode, self._order, after)
            yield SourceBatch(self._bounded(data, read), next_cursor)
            read += data.num_rows
            if not more:
                return
            # Continue exactly as a later read from this cursor would.
            position = parse_cursor(next_cursor, mode=self._mode, fields=self._order, types=order_types)

    def _reflect(self) -> sa.Table:
        if self._table is None:
            table = reflect_table(self._engine, self._table_name, self._where)
            for column in table.columns:
                if isinstance(column.type, sqltypes.Float) and column.type.asdecimal:
                    # MySQL/MariaDB DOUBLE reflects as asdecimal: SQLAlchemy would round the
                    # driver's exact float to 10 decimal places (1/3 → 0.3333333333).
                    column.type.asdecimal = False
            require_columns(table, self._cursor_fields, "cursor_fields")
            require_columns(table, self._keys, "key_fields")
            if self._columns is not None:
                require_columns(table, self._columns, "columns")
                missing = [name for name in self._order if name not in self._columns]
                if missing:
                    raise BadConfiguration(
                        f"must include the cursor and key fields ({', '.join(missing)} missing)",
                        where="columns",
                    )
            self._table = table
        return self._table

    def _sqlite_raw_timestamps(self, order: list[sa.Column[Any]]) -> list[sa.ColumnElement[Any]]:
        """On SQLite, the raw text of timestamp cursor columns, to check its format."""
        if self._engine.dialect.name != "sqlite":
            return []
        return [
            sa.type_coerce(column, sa.String()).label(f"_govbus_raw_{i}")
            for i, column in enumerate(order)
            if isinstance(column.type, sqltypes.DateTime)
        ]

    def _fetch(self, stmt: sa.Select[Any]) -> list[sa.Row[Any]]:
        """Run one batch's query on a pooled connection, released before the batch is yielded.

        No transaction stays open while the caller works on a batch (that would hold
        back vacuum on PostgreSQL and writers on SQLite).
        """
        try:
            with self._engine.connect() as conn:
                return list(conn.execute(stmt).fetchall())
        except sa_exc.SQLAlchemyError as exc:
            raise db_error(exc, self._where) from None
        except (ValueError, TypeError):  # a driver or result processor could not parse a value
            raise BadInput(
                "a stored value cannot be read as its column's declared type",
                where=self._location,
                hint="fix the stored values or the column's declared type",
            ) from None

    def _check_strict(self, last: sa.Row[Any], following: sa.Row[Any], order_index: list[int]) -> None:
        if all(last[i] == following[i] for i in order_index):
            raise BadInput(
                "two rows share the same cursor and key values",
                where=self._location,
                hint="key_fields must identify a row (a primary or unique key)",
            )

    def _bounded(self, data: pa.Table, read: int) -> pa.Table:
        """`data` with the rows holding a value over max_field_bytes as error rows
        (`connectors.source_errors`): "<table> row 17: note: longer than max_field_bytes
        (1048576 bytes)", position "<table>#17" (the 1-based row of this read), the row as
        JSON cut at 64 KiB. The batch's cursor is taken before, from the rows as read."""
        problems = value_problems(data, self._limits)
        if not problems.any:
            return data
        rows = np.flatnonzero(problems.codes >= 0)
        numbers = (rows + read + 1).tolist()
        return split_rows(
            data,
            problems,
            [f"{self._table_name} row {n}" for n in numbers],
            [f"{self._table_name}#{n}" for n in numbers],
            record_texts(data, rows),
        )

    def _to_table(
        self, rows: list[sa.Row[Any]], selected: list[sa.Column[Any]], schema: pa.Schema, raw: int
    ) -> pa.Table:
        """Build the batch column-wise; refuse null ordering values and odd SQLite timestamps."""
        values = list(zip(*rows, strict=True))
        arrays = [
            to_arrow_array(values[i], schema.field(i).type, column.type, f"{self._table_name}.{column.name}")
            for i, column in enumerate(selected)
        ]
        data = pa.Table.from_arrays(arrays, schema=schema)
        for name in self._order:
            if data[name].null_count:
                raise BadInput(
                    "a cursor or key column holds nulls",
                    where=f"{self._table_name}.{name}",
                    hint="cursor and key columns must be NOT NULL",
                )
        for i in range(len(selected), len(selected) + raw):
            texts = pa.array(values[i], pa.string())
            if not pc.all(pc.match_substring_regex(texts, _SQLITE_DATETIME)).as_py():
                raise BadInput(
                    "a timestamp cursor column holds text in another format than SQLAlchemy's",
                    where=self._location,
                    hint="store timestamps as 'YYYY-MM-DD HH:MM:SS.ffffff' in UTC",
                )
        return data


def _after(order: list[sa.Column[Any]], position: list[Any]) -> sa.ColumnElement[bool]:
    """(c1, c2, …) > (v1, v2, …) expanded: c1 > v1 OR (c1 = v1 AND c2 > v2) OR …"""
    values = [_bind(value, column) for value, column in zip(position, order, strict=True)]
    terms = []
    for i, column in enumerate(order):
        equal_prefix = [order[j] == values[j] for j in range(i)]
        terms.append(sa.and_(*equal_prefix, column > values[i]))
    return sa.or_(*terms)


def _bind(value: Any, column: sa.Column[Any]) -> Any:
    """A decoded cursor value as the column's type expects it in a comparison."""
    sql_type = column.type
    if isinstance(sql_type, sqltypes.DateTime) and not sql_type.timezone:
        return value.replace(tzinfo=None)  # naive columns hold UTC wall-clock time
    if isinstance(sql_type, sqltypes.Uuid):
        return uuid.UUID(value)
    if isinstance(sql_type, sqltypes.Numeric) and not isinstance(sql_type, sqltypes.Float):
        return Decimal(value) if isinstance(value, str) else value
    return value
