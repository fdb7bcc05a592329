"""The conformance kit on the SQL connector: SQLite, PostgreSQL and MariaDB.

`TestSql` runs every check with the default sink mode (upsert by key); append mode (a
batch marker row instead of a key) differs only in how a batch is loaded, so it gets the
idempotency check and the type round trip of a few cases. Each check gets a fresh table:
a file database on SQLite, a new table in a throwaway schema on PostgreSQL
(`postgres_schema`), a uniquely named table on MariaDB; all are dropped afterwards.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path

import pyarrow as pa
import pytest
import sqlalchemy as sa

from connectors import Sink, Source, make_sink, make_source
from connectors.sql.sink import BATCH_MARKERS
from connectors.testing import (
    TYPE_CASES,
    ConnectorConformance,
    ConnectorHarness,
    check_idempotent_write,
    check_type_round_trip,
)
from tests.conftest import mariadb_url, postgres_schema, schema_url

UTC_MICROS = pa.timestamp("us", tz="UTC")
NOT_SCALAR = "SQL columns hold scalars: lists, maps and records have no column type"
_READ_TYPES = {
    pa.int32(): pa.int64(),  # every integer column reads as BIGINT's int64
    pa.float32(): pa.float64(),  # stored as DOUBLE
    pa.timestamp("ms", tz="UTC"): UTC_MICROS,  # timestamps are UTC microseconds
    pa.timestamp("ms"): UTC_MICROS,  # zone-less (local) ones as the same wall time in UTC
    pa.timestamp("us"): UTC_MICROS,
    pa.dictionary(pa.int32(), pa.string()): pa.string(),  # enums as their symbol's text
}
_NOT_SUPPORTED = {
    "null": "SQL has no column type for Avro's null type",
    "fixed": "SqlSink has no column type for fixed-size binary (Avro fixed)",
    "time-millis": "SqlSink has no time-of-day column type",
    "time-micros": "SqlSink has no time-of-day column type",
    "timestamp-nanos": "SQL timestamps hold microseconds; SqlSink refuses finer ones",
    "local-timestamp-nanos": "SQL timestamps hold microseconds; SqlSink refuses finer ones",
    "array": NOT_SCALAR,
    "map": NOT_SCALAR,
    "record": NOT_SCALAR,
}


class SqlHarness(ConnectorHarness):
    """A table `table` (not yet created) in the database at `url`, written in `mode`."""

    def __init__(self, dialect: str, url: str, table: str, mode: str = "upsert") -> None:
        self.url, self.table, self.mode = url, table, mode
        self.read_types = dict(_READ_TYPES)
        self.types_not_supported = dict(_NOT_SUPPORTED)
        if dialect == "sqlite":  # no exact decimal type: the canonical text is stored and read
            for decimal in (pa.decimal128(14, 2), pa.decimal128(38, 10), pa.decimal256(60, 20)):
                self.read_types[decimal] = pa.string()
            self.types_not_supported["double-nan-inf"] = "SQLite stores NaN as NULL"
        if dialect == "mariadb":
            self.types_not_supported["double-nan-inf"] = "MariaDB's DOUBLE has no NaN or infinity"
        self._indexed = False

    def make_source(self, *, key_fields: Sequence[str], cursor_field: str | None) -> Source:
        settings = {"connector": "sql", "url": self.url, "table": self.table}
        return make_source(settings, key_fields=key_fields, cursor_field=cursor_field)

    def make_sink(self, *, schema: pa.Schema, key_fields: Sequence[str]) -> Sink:
        settings = {"connector": "sql", "url": self.url, "table": self.table, "mode": self.mode}
        return make_sink(settings, key_fields=key_fields, schema=schema)

    def seed(self, table: pa.Table, *, key_fields: Sequence[str], cursor_field: str | None) -> None:
        """Insert through the sink; then index the cursor as a production table would be."""
        super().seed(table, key_fields=key_fields, cursor_field=cursor_field)
        if cursor_field is not None and not self._indexed:
            engine = sa.create_engine(self.url)
            try:
                with engine.begin() as conn:
                    columns = ", ".join((cursor_field, *key_fields))
                    conn.execute(sa.text(f"CREATE INDEX ix_{self.table}_cursor ON {self.table} ({columns})"))
            finally:
                engine.dispose()
            self._indexed = True


@pytest.fixture(scope="module")
def postgres_tables() -> Iterator[str]:
    """One throwaway PostgreSQL schema for the module's tables (dropped, with them, after)."""
    with postgres_schema("govbus_conformance") as schema:
        yield schema_url(schema)


@pytest.fixture(scope="module")
def mariadb_tables() -> Iterator[tuple[str, list[str]]]:
    """The MariaDB test database, and the tables the module made there (dropped after)."""
    url = mariadb_url()
    if not url:
        pytest.skip("GOVBUS_TEST_MARIADB_URL is not set")
    made: list[str] = []
    yield url, made
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            for start in range(0, len(made), 100):
                conn.execute(sa.text(f"DROP TABLE IF EXISTS {', '.join(made[start : start + 100])}"))
            if made and sa.inspect(conn).has_table(BATCH_MARKERS):
                marked = sa.bindparam("made", expanding=True)
                conn.execute(
                    sa.text(f"DELETE FROM {BATCH_MARKERS} WHERE table_name IN :made").bindparams(marked),
                    {"made": made},
                )
    finally:
        engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql", "mariadb"])
def sql_location(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, str, str]:
    """(dialect, url, table): a table name no one uses yet, in each database kind."""
    table = f"conf_{uuid.uuid4().hex[:12]}"
    if request.param == "sqlite":
        return "sqlite", f"sqlite:///{tmp_path / 'agency.db'}", table
    if request.param == "postgresql":
        return "postgresql", request.getfixturevalue("postgres_tables"), table
    url, made = request.getfixturevalue("mariadb_tables")
    made.append(table)
    return "mariadb", url, table


class TestSql(ConnectorConformance):
    """The default sink mode, upsert by key, and the source by cursor field or in full."""

    @pytest.fixture
    def harness(self, sql_location: tuple[str, str, str]) -> SqlHarness:
        return SqlHarness(*sql_location)


def test_append_mode_writes_a_batch_id_once(sql_location: tuple[str, str, str]) -> None:
    """Append mode: exactly-once by a batch marker row instead of by key."""
    check_idempotent_write(SqlHarness(*sql_location, mode="append"))


@pytest.mark.parametrize("case", ["optional", "decimal-wide", "timestamp-millis"])
def test_append_mode_keeps_types_exactly(sql_location: tuple[str, str, str], case: str) -> None:
    """Append mode loads differently (PostgreSQL: COPY straight into the table)."""
    [type_case] = [c for c in TYPE_CASES if c.name == case]
    check_type_round_trip(SqlHarness(*sql_location, mode="append"), type_case)
