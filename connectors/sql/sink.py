"""SqlSink: writes batches into a SQLite, PostgreSQL or MariaDB/MySQL table, exactly once.

Two modes (setting `mode`):
* `upsert` (default): insert or update by key — `ON CONFLICT (key) DO UPDATE` (SQLite,
  PostgreSQL) or `ON DUPLICATE KEY UPDATE` (MariaDB/MySQL). Writing a batch again leaves
  the table as the first write did, which makes a retried delivery exactly-once.
* `append`: insert only, for tables that only grow. Exactly-once comes from a marker row
  (table, batch id) in `govbus_sink_batches`, next to the table, written in the same
  transaction: a batch already marked is skipped. Key fields are optional; with keys the
  created table gets them as primary key, so a key delivered twice under two batch ids
  is refused instead of duplicated. To deliver a batch id again, delete its marker.

Erasure: `purge(column, values)` deletes a subject's rows (by the subject or pseudonym
column), `purge_all()` every row; the exchange calls them for purge instructions.

Each `write` is one transaction and goes around SQLAlchemy's per-row parameter
processing: columns are encoded once with Arrow (`wire`), the statement text is built
once per sink, and rows reach the database in bounded chunks —
* SQLite (a database file): ADBC binds the Arrow batch to the prepared `INSERT` in C
  (`adbc_writer`);
* PostgreSQL: ADBC's binary COPY from Arrow — straight into the table in append mode,
  into a temporary staging table followed by one `INSERT … SELECT … ON CONFLICT` in
  upsert mode. A table with a column type binary COPY cannot match (a UUID, JSON …)
  gets COPY of Arrow-written CSV instead, the same way;
* MariaDB/MySQL, and an in-memory SQLite database: `executemany` of row tuples (pymysql
  turns an `INSERT … VALUES` executemany into multi-row INSERT statements).

The table is created on first write if absent, from the Arrow schema (see
`sql_types.sql_type_for`), with the key fields as its primary key. An existing table must
have every schema field as a column and, for upserts, a primary or unique key on exactly
the key fields: without one an upsert would silently duplicate rows.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa
from sqlalchemy import exc as sa_exc

from connectors.base import DeliveryManifest, SinkReceipt
from connectors.sql import manifest_table
from connectors.sql.adbc_writer import AdbcWriter, arrow_writer
from connectors.sql.column_types import MYSQL_DIALECTS, sql_type_for
from connectors.sql.engine import (
    check_identifier,
    check_identifiers,
    db_error,
    dbapi_error,
    open_engine,
    reflect_table,
    require_columns,
    split_table_name,
)
from connectors.sql.wire import csv_chunks, row_chunks, wire_table
from govbus.errors import BadConfiguration, BadInput

MODES = ("upsert", "append")
BATCH_MARKERS = "govbus_sink_batches"
_DIALECTS = frozenset({"sqlite", "postgresql"}) | MYSQL_DIALECTS
_STAGING = "govbus_staging"
_MAX_BATCH_ID = 255


class SqlSink:
    """Writes batches carrying `schema`'s fields into `table`, by `mode` (upsert or append).

    `key_fields` identify a row; upsert needs at least one. Nothing connects before the
    first `write`. `executemany_rows` and `copy_rows` bound how many rows are encoded or
    handed to the driver at once (memory), not the transaction: a batch is always
    committed whole. `arrow_native = False` keeps the DBAPI paths (executemany, CSV COPY)
    everywhere — what the Arrow-native path is compared with in tests and benchmarks.
    """

    executemany_rows = 20_000
    copy_rows = 50_000
    arrow_native = True

    def __init__(
        self,
        url: str,
        table: str,
        *,
        key_fields: Sequence[str],
        schema: pa.Schema,
        mode: str = "upsert",
    ) -> None:
        split_table_name(table)
        if mode not in MODES:
            raise BadConfiguration("must be upsert or append", where="mode", hint="mode: upsert | append")
        if not isinstance(schema, pa.Schema):
            raise BadConfiguration("must be a pyarrow Schema", where="schema")
        for i, name in enumerate(schema.names):
            check_identifier(name, f"schema[{i}]")
        self._keys = check_identifiers(key_fields, "key_fields")
        if not self._keys and mode == "upsert":
            raise BadConfiguration(
                "must name at least one column", where="key_fields", hint="or write with mode: append"
            )
        for i, key in enumerate(self._keys):
            if key not in schema.names:
                raise BadConfiguration(f"key {key} is not a schema field", where=f"key_fields[{i}]")
        self._schema = schema
        self._mode = mode
        self._table_name = table
        self._engine, redacted = open_engine(url)
        self._location = f"{redacted}#{table}"
        self._dialect = self._engine.dialect.name
        if self._dialect not in _DIALECTS:
            raise BadConfiguration(
                "SqlSink writes into SQLite, PostgreSQL and MariaDB/MySQL only",
                where="url",
                hint="use one of those databases, or a file sink",
            )
        for field in schema:  # refuse unsupported types now, not at the first write
            sql_type_for(field, self._dialect, is_key=field.name in self._keys)
        self._sql: dict[str, str] | None = None
        self._adbc: AdbcWriter | None = None

    def write(self, batch_id: str, data: pa.Table) -> SinkReceipt:
        """Write `data` in one transaction; a repeated batch changes nothing more."""
        if not isinstance(batch_id, str) or not batch_id or len(batch_id) > _MAX_BATCH_ID:
            raise BadInput(f"must be a non-empty string of ≤ {_MAX_BATCH_ID} characters", where="batch_id")
        data = self._conform(data)
        if data.num_rows:
            sql = self._statements()
            if self._adbc is not None:
                chunk = self.executemany_rows if self._dialect == "sqlite" else self.copy_rows
                self._adbc.write(batch_id, self._table_name, data, sql, chunk)
                return SinkReceipt(batch_id=batch_id, rows=data.num_rows, location=self._location)
            wire = wire_table(data, self._dialect)
            dbapi = self._engine.dialect.loaded_dbapi
            try:
                with self._engine.begin() as conn:
                    cursor = conn.connection.cursor()
                    try:
                        if "claim" not in sql or self._claim(cursor, sql["claim"], batch_id, data.num_rows):
                            self._load(cursor, sql, wire)
                    finally:
                        cursor.close()
            except sa_exc.SQLAlchemyError as exc:
                raise db_error(exc, self._location) from None
            except dbapi.Error as exc:
                raise dbapi_error(exc, dbapi, self._location) from None
        return SinkReceipt(batch_id=batch_id, rows=data.num_rows, location=self._location)

    def write_manifest(self, manifest: DeliveryManifest) -> str:
        """Keep the batch's signed manifest in `govbus_delivery_manifests` beside the table
        (`connectors.sql.manifest_table`), replacing an earlier one of the same batch id."""
        return manifest_table.write_manifest(self._engine, self._table_name, self._location, manifest)

    def close(self) -> None:
        """Close the connection pool (and the Arrow-native path's connection)."""
        if self._adbc is not None:
            self._adbc.close()
        self._engine.dispose()

    def purge(self, column: str, values: Sequence[object]) -> int:
        """Delete every row whose `column` is one of `values`, in one transaction; return how many.

        What erasure needs: `column` is the subject field or the pseudonym column the
        recipient received. Values are cast to the column's type in the sink's schema
        first (the text "123" matches an integer id). Deleting again deletes nothing more;
        a table not created yet holds nothing (0). In append mode the batch markers stay,
        so a retried batch is not appended again.
        """
        if column not in self._schema.names:
            raise BadInput(f"column {column} is not a field of the sink's schema", where=self._location)
        if not values:
            return 0
        try:
            typed = pa.array(list(values)).cast(self._schema.field(column).type).to_pylist()
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
            raise BadInput(
                f"a value to purge does not fit column {column}'s type", where=self._location
            ) from None
        return self._delete(lambda table: sa.delete(table).where(table.c[column].in_(typed)))

    def purge_all(self) -> int:
        """Delete every row of the table in one transaction (its legal basis ended); return how many."""
        return self._delete(sa.delete)

    def _delete(self, statement: Callable[[sa.Table], sa.Delete]) -> int:
        schema_name, name = split_table_name(self._table_name)
        try:
            if not sa.inspect(self._engine).has_table(name, schema=schema_name):
                return 0
            table = reflect_table(self._engine, self._table_name, self._location)
            with self._engine.begin() as conn:
                return conn.execute(statement(table)).rowcount
        except sa_exc.SQLAlchemyError as exc:
            raise db_error(exc, self._location) from None

    def _claim(self, cursor: Any, sql: str, batch_id: str, rows: int) -> bool:
        """Mark the batch as written (append mode); False if an earlier write marked it.

        The marker insert waits for a concurrent writer of the same batch to finish, so
        two workers never both append it.
        """
        cursor.execute(sql, (self._table_name, batch_id, rows))
        return cursor.rowcount == 1

    def _load(self, cursor: Any, sql: dict[str, str], wire: pa.Table) -> None:
        if self._dialect != "postgresql":
            for rows in row_chunks(wire, self.executemany_rows):
                cursor.executemany(sql["insert"], rows)
            return
        if "stage" in sql:
            cursor.execute(sql["stage"])
        with cursor.copy(sql["copy"]) as copy:
            for text in csv_chunks(wire, self.copy_rows):
                copy.write(memoryview(text))
        if "merge" in sql:
            cursor.execute(sql["merge"])

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
        if self._keys and _distinct_keys(data, self._keys) != data.num_rows:
            raise BadInput(
                "the batch holds two rows with the same key",
                where=self._location,
                hint="deduplicate the batch by key before writing",
            )
        return data

    def _statements(self) -> dict[str, str]:
        """The SQL text of this sink's writes, built once (identifiers quoted by the dialect).

        Keys: `insert` (executemany), or `copy` plus, for upserts, `stage` and `merge`
        (PostgreSQL); `claim` (the batch marker) in append mode.
        """
        if self._sql is None:
            table = self._ensure_table()
            quote = self._engine.dialect.identifier_preparer
            target = quote.format_table(table)
            names = self._schema.names
            columns = ", ".join(quote.quote(name) for name in names)
            sql: dict[str, str] = {}
            marks = ", ".join(["?" if self._dialect == "sqlite" else "%s"] * len(names))
            upsert = self._upsert_clause(quote) if self._mode == "upsert" else ""
            if self._dialect != "postgresql":
                sql["insert"] = f"INSERT INTO {target} ({columns}) VALUES ({marks}){upsert}"
            elif self._mode == "append":
                sql["copy"] = f"COPY {target} ({columns}) FROM STDIN (FORMAT csv)"
            else:
                staging = quote.quote(_STAGING)
                sql["stage"] = (
                    f"CREATE TEMPORARY TABLE {staging} ON COMMIT DROP AS "
                    f"SELECT {columns} FROM {target} WITH NO DATA"
                )
                sql["copy"] = f"COPY {staging} ({columns}) FROM STDIN (FORMAT csv)"
                sql["merge"] = f"INSERT INTO {target} ({columns}) SELECT {columns} FROM {staging}{upsert}"
            if self._mode == "append":
                sql["claim"] = self._claim_statement(table.schema)
            if self.arrow_native:  # see adbc_writer: SQLite files and PostgreSQL
                self._adbc = arrow_writer(self._engine.url, table, self._schema, self._location)
            if self._adbc is not None and "claim" in sql:
                sql["claim"] = self._adbc.claim_statement(sql["claim"])
            self._sql = sql
        return self._sql

    def _upsert_clause(self, quote: Any) -> str:
        updated = [quote.quote(name) for name in self._schema.names if name not in self._keys]
        if self._dialect in MYSQL_DIALECTS:
            # ON DUPLICATE KEY UPDATE needs one assignment; a key-only table reassigns its key.
            assigned = updated or [quote.quote(self._keys[0])]
            return " ON DUPLICATE KEY UPDATE " + ", ".join(f"{c} = VALUES({c})" for c in assigned)
        conflict = ", ".join(quote.quote(key) for key in self._keys)
        if not updated:
            return f" ON CONFLICT ({conflict}) DO NOTHING"
        return f" ON CONFLICT ({conflict}) DO UPDATE SET " + ", ".join(f"{c} = excluded.{c}" for c in updated)

    def _claim_statement(self, schema_name: str | None) -> str:
        markers = _markers_table(schema_name)
        target = self._engine.dialect.identifier_preparer.format_table(markers)
        columns = "table_name, batch_id, row_count"
        if self._dialect in MYSQL_DIALECTS:
            return f"INSERT IGNORE INTO {target} ({columns}) VALUES (%s, %s, %s)"
        marks = "?, ?, ?" if self._dialect == "sqlite" else "%s, %s, %s"
        return f"INSERT INTO {target} ({columns}) VALUES ({marks}) ON CONFLICT DO NOTHING"

    def _ensure_table(self) -> sa.Table:
        """Create the table (and the batch markers) if absent, then reflect and check it."""
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
        needed = [wanted] + ([_markers_table(schema_name)] if self._mode == "append" else [])
        for table in needed:
            self._create(table)
        table = reflect_table(self._engine, self._table_name, self._location)
        require_columns(table, self._schema.names, "schema")
        if self._mode == "upsert" and set(self._keys) not in _unique_column_sets(table):
            raise BadConfiguration(
                "the table has no primary or unique key on exactly the key fields",
                where=self._location,
                hint="add that key to the table, or let the sink create a new table",
            )
        return table

    def _create(self, table: sa.Table) -> None:
        try:
            with self._engine.begin() as conn:
                table.create(conn, checkfirst=True)
        except sa_exc.SQLAlchemyError as exc:
            # Another worker may have created it meanwhile; otherwise the error stands.
            try:
                exists = sa.inspect(self._engine).has_table(table.name, schema=table.schema)
            except sa_exc.SQLAlchemyError:
                exists = False
            if not exists:
                raise db_error(exc, self._location) from None


def _markers_table(schema_name: str | None) -> sa.Table:
    """`govbus_sink_batches`: which batch ids append mode has written into which table."""
    return sa.Table(
        BATCH_MARKERS,
        sa.MetaData(),
        sa.Column("table_name", sa.String(255), primary_key=True),
        sa.Column("batch_id", sa.String(_MAX_BATCH_ID), primary_key=True),
        sa.Column("row_count", sa.BigInteger(), nullable=False),
        schema=schema_name,
    )


def _distinct_keys(data: pa.Table, keys: Sequence[str]) -> int:
    """How many distinct keys `data` holds (a hash of one column is cheaper than a group-by)."""
    if len(keys) == 1 and not pa.types.is_dictionary(data[keys[0]].type):
        return len(pc.unique(data[keys[0]]))
    return data.group_by(list(keys)).aggregate([]).num_rows


def _unique_column_sets(table: sa.Table) -> list[set[str]]:
    sets = [set(table.primary_key.columns.keys())]
    sets += [set(c.columns.keys()) for c in table.constraints if isinstance(c, sa.UniqueConstraint)]
    sets += [set(index.columns.keys()) for index in table.indexes if index.unique]
    return sets


def check_sink_target(
    url: object, mode: object, schema: pa.Schema | None, key_fields: Sequence[str] = ()
) -> None:
    """What `SqlSink` checks when it is built, without creating an engine (for `govbus
    check`): the mode, the URL's database kind, every column name a plain identifier of a
    type the database takes, the keys among them."""
    if mode not in MODES:
        raise BadConfiguration("must be upsert or append", where="mode", hint="mode: upsert | append")
    try:
        dialect = sa.make_url(url).get_backend_name()  # type: ignore[arg-type]
    except (sa_exc.ArgumentError, ValueError, TypeError, AttributeError):
        raise BadConfiguration("is not a valid SQLAlchemy URL", where="url") from None
    dialect = "mysql" if dialect == "mariadb" else dialect
    if dialect not in _DIALECTS:
        raise BadConfiguration(
            "SqlSink writes into SQLite, PostgreSQL and MariaDB/MySQL only",
            where="url",
            hint="use one of those databases, or a file sink",
        )
    keys = check_identifiers(key_fields, "key_fields")
    if not keys and mode == "upsert":
        raise BadConfiguration(
            "must name at least one column", where="key_fields", hint="or write with mode: append"
        )
    for i, field in enumerate(schema or ()):
        check_identifier(field.name, f"schema[{i}]")
        sql_type_for(field, dialect, is_key=field.name in keys)
