"""SqlSink: idempotent upserts by key into a SQLite, PostgreSQL or MariaDB/MySQL table.

`write` is one transaction: `INSERT … ON CONFLICT (key) DO UPDATE` (SQLite, PostgreSQL)
or `INSERT … ON DUPLICATE KEY UPDATE` (MariaDB/MySQL). Writing a batch again leaves the
table as the first write did, which is what makes a retried delivery exactly-once.

Rows reach the driver as an executemany of dicts (`Table.to_pylist()` at the driver
boundary). The planned fast path on PostgreSQL is COPY into a temporary table (or ADBC)
followed by one `INSERT … SELECT … ON CONFLICT`.

The table is created on first write if absent, from the Arrow schema (see
`sql_types.sql_type_for`), with the key fields as its primary key. An existing table must
have every schema field as a column and a primary or unique key on exactly the key
fields: without one an upsert would silently duplicate rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects import mysql, postgresql, sqlite

from connectors.base import SinkReceipt
from connectors.sql_engine import (
    check_identifier,
    check_identifiers,
    db_error,
    open_engine,
    reflect_table,
    require_columns,
    split_table_name,
)
from connectors.sql_types import MYSQL_DIALECTS, sql_type_for, to_driver_table
from govbus.errors import BadConfiguration, BadInput

_DIALECTS = frozenset({"sqlite", "postgresql"}) | MYSQL_DIALECTS


class SqlSink:
    """Upserts batches by `key_fields` into `table`; batches must carry `schema`'s fields."""

    def __init__(self, url: str, table: str, *, key_fields: Sequence[str], schema: pa.Schema) -> None:
        split_table_name(table)
        if not isinstance(schema, pa.Schema):
            raise BadConfiguration("must be a pyarrow Schema", where="schema")
        for i, name in enumerate(schema.names):
            check_identifier(name, f"schema[{i}]")
        self._keys = check_identifiers(key_fields, "key_fields")
        if not self._keys:
            raise BadConfiguration("must name at least one column", where="key_fields")
        for i, key in enumerate(self._keys):
            if key not in schema.names:
                raise BadConfiguration(f"key {key} is not a schema field", where=f"key_fields[{i}]")
        self._schema = schema
        self._table_name = table
        self._engine, redacted = open_engine(url)
        self._location = f"{redacted}#{table}"
        self._dialect = self._engine.dialect.name
        if self._dialect not in _DIALECTS:
            raise BadConfiguration(
                "SqlSink upserts into SQLite, PostgreSQL and MariaDB/MySQL only",
                where="url",
                hint="use one of those databases, or a file sink",
            )
        for field in schema:  # refuse unsupported types now, not at the first write
            sql_type_for(field, self._dialect, is_key=field.name in self._keys)
        self._statement: Any = None

    def write(self, batch_id: str, data: pa.Table) -> SinkReceipt:
        """Upsert `data` in one transaction; a repeated batch changes nothing more."""
        if not isinstance(batch_id, str) or not batch_id:
            raise BadInput("must be a non-empty string", where="batch_id")
        data = self._conform(data)
        if data.num_rows:
            statement = self._upsert_statement()
            rows = to_driver_table(data, self._dialect).to_pylist()
            try:
                with self._engine.begin() as conn:
                    conn.execute(statement, rows)
            except sa_exc.SQLAlchemyError as exc:
                raise db_error(exc, self._location) from None
        return SinkReceipt(batch_id=batch_id, rows=data.num_rows, location=self._location)

    def close(self) -> None:
        """Close the connection pool."""
        self._engine.dispose()

    def _conform(self, data: pa.Table) -> pa.Table:
        """Check the batch has exactly the schema's fields, fits it, and has usable keys."""
        if not isinstance(data, pa.Table):
            raise BadInput("must be a pyarrow Table", where="data")
        if sorted(data.column_names) != sorted(self._schema.names):
            raise BadInput(
                "the batch's columns differ from the sink's schema",
                where=self._location,
                hint="deliver exactly the fields of the schema the sink was made with",
            )
        try:
            data = data.select(self._schema.names).cast(self._schema)
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, ValueError):
            raise BadInput(
                "the batch's column types do not fit the sink's schema", where=self._location
            ) from None
        for key in self._keys:
            if data[key].null_count:
                raise BadInput("a key field is null", where=f"{self._table_name}.{key}")
        if data.group_by(list(self._keys)).aggregate([]).num_rows != data.num_rows:
            raise BadInput(
                "the batch holds two rows with the same key",
                where=self._location,
                hint="deduplicate the batch by key before writing",
            )
        return data

    def _upsert_statement(self) -> Any:
        if self._statement is None:
            table = self._ensure_table()
            updated = [name for name in self._schema.names if name not in self._keys]
            if self._dialect in MYSQL_DIALECTS:
                stmt = mysql.insert(table)
                # ON DUPLICATE KEY UPDATE needs one assignment; a key-only table reassigns its key.
                assigned = updated or [self._keys[0]]
                statement = stmt.on_duplicate_key_update({n: stmt.inserted[n] for n in assigned})
            else:
                stmt = (sqlite.insert if self._dialect == "sqlite" else postgresql.insert)(table)
                conflict = [table.c[key] for key in self._keys]
                if updated:
                    statement = stmt.on_conflict_do_update(
                        index_elements=conflict, set_={n: stmt.excluded[n] for n in updated}
                    )
                else:
                    statement = stmt.on_conflict_do_nothing(index_elements=conflict)
            self._statement = statement
        return self._statement

    def _ensure_table(self) -> sa.Table:
        """Create the table if absent, then reflect it and check it can take upserts."""
        schema_name, name = split_table_name(self._table_name)
        wanted = sa.Table(
            name,
            sa.MetaData(),
            *(
                sa.Column(
                    field.name,
                    sql_type_for(field, self._dialect, is_key=field.name in self._keys),
                    primary_key=field.name in self._keys,
                    autoincrement=False,
                )
                for field in self._schema
            ),
            schema=schema_name,
        )
        try:
            with self._engine.begin() as conn:
                wanted.create(conn, checkfirst=True)
        except sa_exc.SQLAlchemyError as exc:
            # Another worker may have created it meanwhile; otherwise the error stands.
            try:
                exists = sa.inspect(self._engine).has_table(name, schema=schema_name)
            except sa_exc.SQLAlchemyError:
                exists = False
            if not exists:
                raise db_error(exc, self._location) from None
        table = reflect_table(self._engine, self._table_name, self._location)
        require_columns(table, self._schema.names, "schema")
        unique_sets = [set(table.primary_key.columns.keys())]
        unique_sets += [
            set(constraint.columns.keys())
            for constraint in table.constraints
            if isinstance(constraint, sa.UniqueConstraint)
        ]
        unique_sets += [set(index.columns.keys()) for index in table.indexes if index.unique]
        if set(self._keys) not in unique_sets:
            raise BadConfiguration(
                "the table has no primary or unique key on exactly the key fields",
                where=self._location,
                hint="add that key to the table, or let the sink create a new table",
            )
        return table
