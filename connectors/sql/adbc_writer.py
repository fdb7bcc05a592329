"""SqlSink's Arrow-native path: whole Arrow batches to SQLite and PostgreSQL through ADBC.

Why: binding rows from Python (`executemany` of tuples) or rendering CSV text costs more
than the database's own work. ADBC's C drivers take the Arrow columns as they are:

* SQLite (`adbc-driver-sqlite`): the sink's `INSERT … ON CONFLICT` statement is prepared
  once and bound to the Arrow batch in C (`executemany` with an Arrow reader);
* PostgreSQL (`adbc-driver-postgresql`): `adbc_ingest` streams the batch as
  `COPY … FROM STDIN (FORMAT binary)` — straight into the table in append mode, into a
  temporary staging table followed by one `INSERT … SELECT … ON CONFLICT` in upsert mode.
  Binary COPY needs each column's exact type, so the batch is cast to the Arrow type of
  each column of the table (`postgres_arrow_types`); a table with a column type outside
  that map is written by the CSV COPY path instead (`AdbcWriter` is then not used).

Each batch is converted for the driver a chunk ahead of it, on a second thread
(`WirePieces`): the drivers write without the GIL, so the conversion of one chunk runs
beside the write of the one before.

Exactly-once is the sink's, unchanged: one ADBC transaction holds the batch marker (append
mode: `INSERT … ON CONFLICT DO NOTHING RETURNING 1`, empty when an earlier write marked the
batch) and every row; a failure rolls back both. The writer keeps one ADBC connection
(opened on first use, serialized by a lock, dropped after a connection-level failure so the
next write reconnects) and maps the user's SQLAlchemy URL to the driver's URI
(`adbc_uri`); an in-memory SQLite database cannot be shared with a second connection, so
it keeps the executemany path.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from functools import partial
from typing import Any

import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.sql import sqltypes

from connectors.sql.engine import dbapi_error
from connectors.sql.wire import typed_table, wire_table
from govbus.errors import TransientError

_STAGING = "govbus_staging"


def arrow_writer(url: sa.URL, table: sa.Table, schema: pa.Schema, location: str) -> AdbcWriter | None:
    """The writer for the sink's table, or None where the DBAPI path stays (see the module)."""
    dialect = url.get_backend_name()
    uri = adbc_uri(url, dialect)
    if uri is None:
        return None
    types = postgres_arrow_types(table, schema) if dialect == "postgresql" else None
    if dialect == "postgresql" and types is None:
        return None
    return AdbcWriter(uri, dialect, location, (table.schema, table.name), types)


def adbc_uri(url: sa.URL, dialect: str) -> str | None:
    """The ADBC driver's URI for the sink's SQLAlchemy URL, or None to keep the DBAPI path.

    SQLite: the database file's path (None for an in-memory database or a URL with
    query options the driver would not honour). PostgreSQL: the libpq URI — the same
    user, password, host, port, database and query options (sslmode …) without the
    `+driver` part.
    """
    if dialect == "sqlite":
        if url.database in (None, "", ":memory:") or url.query or url.database.startswith("file:"):
            return None
        return url.database
    if dialect == "postgresql":
        return url.set(drivername="postgresql").render_as_string(hide_password=False)
    return None


def postgres_arrow_types(table: sa.Table, schema: pa.Schema) -> list[pa.DataType] | None:
    """The Arrow type binary COPY must send for each schema field into `table`'s columns.

    None when a column's type is not one ADBC writes exactly, or when the field's kind
    differs from the column's (the server would have to convert: left to the CSV path).
    """
    types = []
    for field in schema:
        column_type = table.c[field.name].type
        arrow_type = field.type.value_type if pa.types.is_dictionary(field.type) else field.type
        wanted = _postgres_arrow_type(column_type, arrow_type)
        if wanted is None:
            return None
        types.append(wanted)
    return types


def _postgres_arrow_type(column_type: Any, arrow_type: pa.DataType) -> pa.DataType | None:
    kinds = (
        (pa.types.is_boolean, sqltypes.Boolean, lambda: pa.bool_()),
        (pa.types.is_integer, sqltypes.SmallInteger, lambda: pa.int16()),
        (pa.types.is_integer, sqltypes.BigInteger, lambda: pa.int64()),
        (pa.types.is_integer, sqltypes.Integer, lambda: pa.int32()),
        (pa.types.is_floating, postgresql.REAL, lambda: pa.float32()),
        (pa.types.is_floating, sqltypes.Double, lambda: pa.float64()),
        (pa.types.is_decimal, sqltypes.Numeric, lambda: arrow_type),
        (pa.types.is_timestamp, sqltypes.DateTime, lambda: _timestamp(column_type)),
        (pa.types.is_date, sqltypes.Date, lambda: pa.date32()),
        (_is_text, sqltypes.String, lambda: pa.string()),
        (_is_bytes, sqltypes._Binary, lambda: pa.binary()),
    )
    for is_kind, sql_class, arrow in kinds:
        if isinstance(column_type, sql_class):
            inexact = sql_class is sqltypes.Numeric and isinstance(column_type, sqltypes.Float)
            if inexact or not is_kind(arrow_type):
                return None
            return arrow()
    return None


def _timestamp(column_type: Any) -> pa.DataType:
    return pa.timestamp("us", tz="UTC") if column_type.timezone else pa.timestamp("us")


def _is_text(arrow_type: pa.DataType) -> bool:
    return pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type)


def _is_bytes(arrow_type: pa.DataType) -> bool:
    return pa.types.is_binary(arrow_type) or pa.types.is_large_binary(arrow_type)


class AdbcWriter:
    """One ADBC connection writing a sink's batches, each batch in one transaction.

    `sql` is the sink's statement text (`SqlSink._statements`): `insert` (SQLite, `?`
    marks), `claim` (append mode, made by `claim_statement`), and for PostgreSQL `stage`
    + `merge` (upsert). `chunk_rows` bounds each Arrow batch handed to the driver.
    """

    def __init__(
        self,
        uri: str,
        dialect: str,
        location: str,
        table: tuple[str | None, str],
        types: list[pa.DataType] | None = None,
    ) -> None:
        self.types = types  # PostgreSQL: the Arrow type binary COPY sends for each column
        self._uri = uri
        self._dialect = dialect
        self._location = location
        self._schema_name, self._table = table
        self._conn: Any = None
        self._lock = threading.Lock()

    def claim_statement(self, claim: str) -> str:
        """The sink's marker insert for this driver: `$n` marks on PostgreSQL, and a row
        returned when the insert happened (ADBC reports no row count)."""
        return (claim + " RETURNING 1").replace("%s, %s, %s", "$1, $2, $3")

    def write(
        self, batch_id: str, table_name: str, data: pa.Table, sql: dict[str, str], chunk_rows: int
    ) -> None:
        """Write the conformed batch `data` and, in append mode, its marker, in one transaction."""
        import adbc_driver_manager.dbapi as adbc_dbapi

        types = self.types
        if types is None:
            convert = partial(wire_table, dialect="sqlite")
        else:
            convert = partial(typed_table, types=types)
        with self._lock, WirePieces(data, chunk_rows, convert) as pieces:
            try:
                conn = self._connection()
                try:
                    if "claim" not in sql or self._claim(
                        conn, sql["claim"], table_name, batch_id, data.num_rows
                    ):
                        self._load(conn, pieces.reader(), sql)
                        pieces.raise_failure()
                    conn.commit()
                except BaseException:
                    self._rollback()
                    raise
            except adbc_dbapi.Error as exc:
                if isinstance(exc, adbc_dbapi.OperationalError | adbc_dbapi.InterfaceError):
                    self.close()  # the connection may be broken: the next write opens a new one
                raise dbapi_error(exc, adbc_dbapi, self._location) from None

    def close(self) -> None:
        """Close the connection (a later write opens a new one)."""
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):  # closing a broken connection may fail; nothing to keep
                conn.close()

    def _connection(self) -> Any:
        if self._conn is None:
            if self._dialect == "sqlite":
                import adbc_driver_sqlite.dbapi as driver
            else:
                import adbc_driver_postgresql.dbapi as driver  # type: ignore[no-redef]
            try:
                self._conn = driver.connect(self._uri)
            except Exception as exc:  # the driver's error text may hold the URI's password
                raise TransientError(
                    f"the database is unreachable ({type(exc).__name__})",
                    where=self._location,
                    hint="retry later; check the server is up and the URL's host, port and credentials",
                ) from None
            with self._conn.cursor() as cursor:
                if self._dialect == "sqlite":  # wait for another writer, as the sqlite3 module does
                    cursor.execute("PRAGMA busy_timeout = 5000")
            self._conn.commit()
        return self._conn

    def _rollback(self) -> None:
        if self._conn is not None:
            try:
                self._conn.rollback()
            except Exception:  # a broken connection: drop it; the error that matters is raised
                self.close()

    def _claim(self, conn: Any, sql: str, table_name: str, batch_id: str, rows: int) -> bool:
        """Mark the batch (append mode); False if an earlier write marked it.

        The insert waits for a concurrent writer of the same batch to finish, so two
        workers never both append it.
        """
        with conn.cursor() as cursor:
            cursor.execute(sql, (table_name, batch_id, rows))
            return bool(cursor.fetchall())

    def _load(self, conn: Any, reader: pa.RecordBatchReader, sql: dict[str, str]) -> None:
        if self._dialect == "sqlite":
            with conn.cursor() as cursor:
                cursor.executemany(sql["insert"], reader)
            return
        if "merge" not in sql:
            with conn.cursor() as cursor:
                cursor.adbc_ingest(self._table, reader, mode="append", db_schema_name=self._schema_name)
            return
        with conn.cursor() as cursor:
            cursor.execute(sql["stage"])
        with conn.cursor() as cursor:
            cursor.adbc_ingest(_STAGING, reader, mode="append", temporary=True)
        with conn.cursor() as cursor:
            cursor.execute(sql["merge"])


class WirePieces:
    """A batch as the driver takes it, each chunk of `chunk_rows` converted (`convert`) one
    chunk ahead of the driver, on a thread of its own.

    Why: the drivers bind and write without the GIL (SQLite's inserts, PostgreSQL's binary
    COPY) and Arrow's casts release it too, so converting the next chunk beside the
    driver's work on the current one takes the conversion (a tenth of a SQLite upsert's
    time: decimals and timestamps to text) off the write's path on a second core.

    What a caller must know: the first chunk is converted when this is made, so its error
    (a timestamp out of range, say) is raised before anything is written. A later chunk's
    error ends `reader()` early, which the driver takes as the end of the data; the caller
    calls `raise_failure()` once the driver returns and rolls the transaction back. Leaving
    the `with` block waits for the conversion under way (at most one).
    """

    def __init__(self, data: pa.Table, chunk_rows: int, convert: Callable[[pa.Table], pa.Table]) -> None:
        rows = max(1, chunk_rows)
        self._slices = [data.slice(start, rows) for start in range(0, max(data.num_rows, 1), rows)]
        self._convert = convert
        self._first: pa.Table | None = convert(self._slices[0])
        self.schema = self._first.schema
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="govbus-sql-wire")
        self._failure: Exception | None = None

    def __enter__(self) -> WirePieces:
        return self

    def __exit__(self, *exc: object) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    def reader(self) -> pa.RecordBatchReader:
        """The converted chunks, in order, for the driver (once)."""
        return pa.RecordBatchReader.from_batches(self.schema, self._batches())

    def raise_failure(self) -> None:
        """Raise the error that ended `reader()` early, if one did."""
        if self._failure is not None:
            raise self._failure

    def _batches(self) -> Iterator[pa.RecordBatch]:
        first, self._first = self._first, None
        assert first is not None, "the reader is read once"
        later = iter(self._slices[1:])
        ahead = self._submit(later)
        yield from first.to_batches()
        while ahead is not None:
            current, ahead = ahead, self._submit(later)
            try:
                table = current.result()
            except Exception as exc:  # raised by raise_failure, once the driver has returned
                self._failure = exc
                return
            yield from (table if table.schema == self.schema else table.cast(self.schema)).to_batches()

    def _submit(self, later: Iterator[pa.Table]) -> Future[pa.Table] | None:
        piece = next(later, None)
        return None if piece is None else self._pool.submit(self._convert, piece)
