"""SqlSink's Arrow-native path (ADBC: SQLite bind, PostgreSQL binary COPY) against the DBAPI path.

Every test runs on each database; MariaDB has no ADBC path and checks that it keeps
the DBAPI one. The rows are the hard ones of `test_sql_sink_paths` (quotes, COPY's end
marker, empty versus null, extreme dates and decimals, zero bytes).
"""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pytest
import sqlalchemy as sa

from connectors import SqlSink
from connectors.sql.adbc_writer import adbc_uri
from connectors.sql.sink import BATCH_MARKERS
from govbus.errors import BadInput, TransientError
from tests.connectors.sql.test_sql_sink_paths import ROWS, SCHEMA, count, normalized, read_back

ARROW_NATIVE = {"sqlite", "postgresql"}


def dialect_of(url: str) -> str:
    return sa.make_url(url).get_backend_name()


def markers(url: str, table: str) -> list[tuple[str, int]]:
    engine = sa.create_engine(url)
    try:
        if not sa.inspect(engine).has_table(BATCH_MARKERS):
            return []
        with engine.connect() as conn:
            rows = conn.execute(
                sa.text(
                    f"SELECT batch_id, row_count FROM {BATCH_MARKERS} WHERE table_name = :t ORDER BY batch_id"
                ),
                {"t": table},
            ).all()
        return [tuple(row) for row in rows]
    finally:
        engine.dispose()


def execute(url: str, *statements: str) -> None:
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            for statement in statements:
                conn.execute(sa.text(statement))
    finally:
        engine.dispose()


@pytest.fixture
def other_table(db_url: str, table_name: str) -> Iterator[str]:
    """A second fresh table (the DBAPI path's), dropped with this test's markers."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    yield name
    execute(db_url, f"DROP TABLE IF EXISTS {name}")
    engine = sa.create_engine(db_url)
    try:
        if sa.inspect(engine).has_table(BATCH_MARKERS):
            with engine.begin() as conn:
                conn.execute(
                    sa.text(f"DELETE FROM {BATCH_MARKERS} WHERE table_name IN (:a, :b)"),
                    {"a": name, "b": table_name},
                )
    finally:
        engine.dispose()


def write(url: str, table: str, mode: str, *, native: bool, batches: list[tuple[str, pa.Table]]) -> bool:
    """Write `batches` through one sink; return whether it took the Arrow-native path."""
    sink = SqlSink(url, table, key_fields=["seq"], schema=SCHEMA, mode=mode)
    sink.arrow_native = native
    sink.executemany_rows = sink.copy_rows = 4  # several driver chunks per batch
    try:
        for batch_id, data in batches:
            sink.write(batch_id, data)
        return sink._adbc is not None
    finally:
        sink.close()


@pytest.mark.parametrize("mode", ["upsert", "append"])
def test_the_arrow_path_writes_the_input_rows_and_the_same_table_as_the_dbapi_path(
    db_url: str, table_name: str, other_table: str, mode: str
) -> None:
    data = pa.Table.from_pylist(ROWS, schema=SCHEMA)
    native = write(db_url, table_name, mode, native=True, batches=[("b-1", data)])
    assert native == (dialect_of(db_url) in ARROW_NATIVE)
    assert not write(db_url, other_table, mode, native=False, batches=[("b-1", data)])
    arrow_rows, dbapi_rows = read_back(db_url, table_name), read_back(db_url, other_table)
    assert normalized(arrow_rows) == normalized(ROWS)  # every value of the Arrow input, typed
    assert arrow_rows == dbapi_rows  # identical to what the DBAPI path stores, value for value


def test_upserting_the_same_batch_twice_leaves_the_table_as_once(db_url: str, table_name: str) -> None:
    first = pa.Table.from_pylist(ROWS, schema=SCHEMA)
    changed = pa.Table.from_pylist([dict(row, note="changed") for row in ROWS[:5]], schema=SCHEMA)
    write(db_url, table_name, "upsert", native=True, batches=[("b-1", first)])
    once = read_back(db_url, table_name)
    write(db_url, table_name, "upsert", native=True, batches=[("b-1", first), ("b-1", first)])
    assert read_back(db_url, table_name) == once
    write(db_url, table_name, "upsert", native=True, batches=[("b-2", changed)])
    after = read_back(db_url, table_name)
    assert [row["note"] for row in after[:5]] == ["changed"] * 5 and after[5:] == once[5:]


def test_appending_a_batch_id_twice_appends_it_once(db_url: str, table_name: str, other_table: str) -> None:
    data = pa.Table.from_pylist(ROWS, schema=SCHEMA)
    write(
        db_url,
        table_name,
        "append",
        native=True,
        batches=[("b-1", data.slice(0, 10)), ("b-1", data.slice(0, 10))],
    )
    write(
        db_url,
        table_name,
        "append",
        native=True,
        batches=[("b-1", data.slice(0, 10)), ("b-2", data.slice(10))],
    )
    assert count(db_url, table_name) == 23
    assert markers(db_url, table_name) == [("b-1", 10), ("b-2", 13)]


def test_a_failure_mid_append_leaves_neither_rows_nor_marker(
    db_url: str, table_name: str, other_table: str
) -> None:
    """The marker is written first, then rows in chunks of 2: the 6th row breaks NOT NULL."""
    execute(db_url, f"CREATE TABLE {table_name} (seq BIGINT PRIMARY KEY, note TEXT NOT NULL)")
    schema = pa.schema([("seq", pa.int64()), ("note", pa.string())])
    sink = SqlSink(db_url, table_name, key_fields=["seq"], schema=schema, mode="append")
    sink.executemany_rows = sink.copy_rows = 2
    rows = [{"seq": i, "note": f"secret-{i}"} for i in range(5)] + [{"seq": 5, "note": None}]
    try:
        with pytest.raises(BadInput) as error:
            sink.write("b-1", pa.Table.from_pylist(rows, schema=schema))
        assert (sink._adbc is not None) == (dialect_of(db_url) in ARROW_NATIVE)
        assert "secret" not in str(error.value) and error.value.__cause__ is None
        assert count(db_url, table_name) == 0 and markers(db_url, table_name) == []
        # Nothing half-done blocks a retry of the corrected batch on the same sink.
        sink.write("b-1", pa.Table.from_pylist([*rows[:5], {"seq": 5, "note": "ok"}], schema=schema))
    finally:
        sink.close()
    assert count(db_url, table_name) == 6 and markers(db_url, table_name) == [("b-1", 6)]


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_postgres_casts_to_the_table_s_own_column_types(db_url: str, table_name: str) -> None:
    """Binary COPY needs exact types: an INTEGER column takes int64 values that fit, a
    TIMESTAMP (without zone) column the UTC wall-clock time, and a value out of range is
    refused naming its column."""
    execute(db_url, f"CREATE TABLE {table_name} (seq INTEGER PRIMARY KEY, at TIMESTAMP, ratio REAL)")
    schema = pa.schema(
        [("seq", pa.int64()), ("at", pa.timestamp("us", tz="Europe/Oslo")), ("ratio", pa.float64())]
    )
    moment = dt.datetime(2024, 6, 1, 14, 0, 0, 5, tzinfo=dt.UTC)
    sink = SqlSink(db_url, table_name, key_fields=["seq"], schema=schema)
    try:
        sink.write("b-1", pa.table({"seq": [1], "at": [moment], "ratio": [0.5]}, schema=schema))
        assert sink._adbc is not None and sink._adbc.types == [pa.int32(), pa.timestamp("us"), pa.float32()]
        with pytest.raises(BadInput) as error:
            sink.write("b-2", pa.table({"seq": [2**40], "at": [None], "ratio": [None]}, schema=schema))
        assert error.value.where == "seq"
    finally:
        sink.close()
    engine = sa.create_engine(db_url)
    with engine.connect() as conn:
        stored = conn.execute(sa.text(f"SELECT seq, at, ratio FROM {table_name}")).one()
    engine.dispose()
    assert tuple(stored) == (1, moment.replace(tzinfo=None), 0.5)


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_postgres_keeps_csv_copy_for_a_column_binary_copy_cannot_match(db_url: str, table_name: str) -> None:
    execute(db_url, f"CREATE TABLE {table_name} (seq BIGINT PRIMARY KEY, id UUID, doc JSONB)")
    schema = pa.schema([("seq", pa.int64()), ("id", pa.string()), ("doc", pa.string())])
    sink = SqlSink(db_url, table_name, key_fields=["seq"], schema=schema)
    try:
        sink.write(
            "b-1", pa.table({"seq": [1], "id": [str(uuid.UUID(int=7))], "doc": ['{"a": 1}']}, schema=schema)
        )
        assert sink._adbc is None  # the server converts the text, as before
    finally:
        sink.close()
    assert count(db_url, table_name) == 1


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_postgres_reconnects_after_the_connection_is_lost(db_url: str, table_name: str) -> None:
    schema = pa.schema([("seq", pa.int64())])
    sink = SqlSink(db_url, table_name, key_fields=["seq"], schema=schema)
    try:
        sink.write("b-1", pa.table({"seq": [1]}, schema=schema))
        with sink._adbc._connection().cursor() as cursor:  # type: ignore[union-attr]
            cursor.execute("SELECT pg_backend_pid()")
            (pid,) = cursor.fetchone()
        sink._adbc._connection().commit()  # type: ignore[union-attr]
        execute(db_url, f"SELECT pg_terminate_backend({int(pid)})")
        with pytest.raises(TransientError):
            sink.write("b-2", pa.table({"seq": [2]}, schema=schema))
        sink.write("b-2", pa.table({"seq": [2]}, schema=schema))  # a retry opens a new connection
    finally:
        sink.close()
    assert count(db_url, table_name) == 2


def test_adbc_uri_keeps_the_configured_database() -> None:
    def uri(url: str) -> Any:
        parsed = sa.make_url(url)
        return adbc_uri(parsed, parsed.get_backend_name())

    assert uri("sqlite:////data/benefits.db") == "/data/benefits.db"
    assert uri("sqlite:///relative/benefits.db") == "relative/benefits.db"
    assert uri("sqlite://") is None and uri("sqlite:///:memory:") is None  # not shareable: DBAPI path
    assert (
        uri("postgresql+psycopg://bus:s%40cret@db.example:6543/benefits?sslmode=require")
        == "postgresql://bus:s%40cret@db.example:6543/benefits?sslmode=require"
    )
    assert uri("mysql+pymysql://root@127.0.0.1/test") is None


@pytest.mark.parametrize("mode", ["upsert", "append"])
def test_a_value_refused_in_a_later_chunk_leaves_nothing_written(
    db_url: str, table_name: str, mode: str
) -> None:
    """Chunks are converted one ahead of the driver (WirePieces): a date past the year 9999
    in the third chunk is refused naming its column after two chunks went to the driver,
    and the transaction takes them back with the marker."""
    schema = pa.schema([("seq", pa.int64()), ("day", pa.date32())])
    days = [19_000 + i for i in range(7)]
    bad = pa.table({"seq": list(range(7)), "day": pa.array([*days[:5], 6_600_000, *days[6:]], pa.date32())})
    sink = SqlSink(db_url, table_name, key_fields=["seq"], schema=schema, mode=mode)
    sink.executemany_rows = sink.copy_rows = 2
    try:
        with pytest.raises(BadInput) as error:
            sink.write("b-1", bad)
        assert error.value.where == "day"
        assert (sink._adbc is not None) == (dialect_of(db_url) in ARROW_NATIVE)
        assert count(db_url, table_name) == 0 and markers(db_url, table_name) == []
        sink.write("b-1", pa.table({"seq": list(range(7)), "day": pa.array(days, pa.date32())}))
    finally:
        sink.close()
    assert count(db_url, table_name) == 7
    assert not [t for t in threading.enumerate() if t.name.startswith("govbus-sql-wire")]
