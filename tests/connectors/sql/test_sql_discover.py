"""discover_table on real SQLite, PostgreSQL and MariaDB tables: every SQL type's drafted
Avro type, nullability and length, and the drafted record reading the table's values
exactly through SqlSource and conform."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from decimal import Decimal
from typing import Any

import fastavro
import pytest
import sqlalchemy as sa

from connectors import SqlSource, discover_table
from govbus.errors import BadConfiguration, GovBusError
from schemas import conform, parse_schema
from tests.conftest import postgres_url

DECIMAL_14_2 = {"type": "bytes", "logicalType": "decimal", "precision": 14, "scale": 2}
DATE = {"type": "int", "logicalType": "date"}
TIME = {"type": "long", "logicalType": "time-micros"}
ZONED = {"type": "long", "logicalType": "timestamp-micros"}
LOCAL = {"type": "long", "logicalType": "local-timestamp-micros"}
UUID = {"type": "string", "logicalType": "uuid"}
STATUS = {"type": "enum", "name": "Status", "symbols": ["ACTIVE", "CLOSED"]}
IDENT = uuid.UUID("123e4567-e89b-12d3-a456-426614174000")

# column: (SQL type per dialect, drafted Avro type per dialect, value, value read back).
# A missing dialect means the database has no such type. `None` as value: not readable.
COLUMNS: dict[str, tuple[dict[str, str], dict[str, Any], Any, Any]] = {
    "small": (
        {"sqlite": "SMALLINT NOT NULL", "postgresql": "SMALLINT NOT NULL", "mariadb": "SMALLINT NOT NULL"},
        {"sqlite": "long", "postgresql": "int", "mariadb": "int"},
        -32768,
        -32768,
    ),
    "whole": (
        {"sqlite": "INTEGER", "postgresql": "INTEGER", "mariadb": "INT"},
        {"sqlite": "long", "postgresql": "int", "mariadb": "int"},
        2**31 - 1,
        2**31 - 1,
    ),
    "big": (
        {"sqlite": "BIGINT", "postgresql": "BIGINT", "mariadb": "BIGINT"},
        {"sqlite": "long", "postgresql": "long", "mariadb": "long"},
        2**62,
        2**62,
    ),
    "unsigned_int": ({"mariadb": "INT UNSIGNED"}, {"mariadb": "long"}, 2**32 - 1, 2**32 - 1),
    "amount": (
        {
            "sqlite": "NUMERIC(14,2) NOT NULL",
            "postgresql": "NUMERIC(14,2) NOT NULL",
            "mariadb": "DECIMAL(14,2) NOT NULL",
        },
        {"sqlite": DECIMAL_14_2, "postgresql": DECIMAL_14_2, "mariadb": DECIMAL_14_2},
        Decimal("123456789012.34"),
        Decimal("123456789012.34"),
    ),
    "unbounded": (
        {"postgresql": "NUMERIC"},
        {"postgresql": "string"},
        Decimal("3.14159265358979323846264338"),
        "3.14159265358979323846264338",
    ),
    "ratio": (
        {"sqlite": "REAL", "postgresql": "REAL", "mariadb": "FLOAT"},
        {"sqlite": "double", "postgresql": "float", "mariadb": "float"},
        0.375,
        0.375,
    ),
    "precise": (
        {"sqlite": "DOUBLE PRECISION", "postgresql": "DOUBLE PRECISION", "mariadb": "DOUBLE"},
        {"sqlite": "double", "postgresql": "double", "mariadb": "double"},
        0.1,
        0.1,
    ),
    "flag": (
        {"sqlite": "BOOLEAN", "postgresql": "BOOLEAN", "mariadb": "TINYINT(1)"},
        {"sqlite": "boolean", "postgresql": "boolean", "mariadb": "boolean"},
        True,
        True,
    ),
    "born": (
        {"sqlite": "DATE", "postgresql": "DATE", "mariadb": "DATE"},
        {"sqlite": DATE, "postgresql": DATE, "mariadb": DATE},
        dt.date(1969, 7, 20),
        dt.date(1969, 7, 20),
    ),
    "at_time": (
        {"sqlite": "TIME", "postgresql": "TIME", "mariadb": "TIME(6)"},
        {"sqlite": TIME, "postgresql": TIME, "mariadb": TIME},
        dt.time(12, 34, 56, 789012),
        dt.time(12, 34, 56, 789012),
    ),
    "zoned": (
        {"postgresql": "TIMESTAMP WITH TIME ZONE"},
        {"postgresql": ZONED},
        dt.datetime(2024, 5, 1, 8, 0, 0, 123456, tzinfo=dt.UTC),
        dt.datetime(2024, 5, 1, 8, 0, 0, 123456, tzinfo=dt.UTC),
    ),
    "local_time": (
        {"sqlite": "DATETIME", "postgresql": "TIMESTAMP", "mariadb": "DATETIME(6)"},
        {"sqlite": LOCAL, "postgresql": LOCAL, "mariadb": LOCAL},
        dt.datetime(2024, 5, 1, 8, 0, 0, 654321),
        dt.datetime(2024, 5, 1, 8, 0, 0, 654321),
    ),
    "code": (
        {"sqlite": "VARCHAR(11)", "postgresql": "VARCHAR(11)", "mariadb": "VARCHAR(11)"},
        {"sqlite": "string", "postgresql": "string", "mariadb": "string"},
        "12345678901",
        "12345678901",
    ),
    "body": (
        {"sqlite": "TEXT", "postgresql": "TEXT", "mariadb": "TEXT"},
        {"sqlite": "string", "postgresql": "string", "mariadb": "string"},
        "Ærø — 日本",
        "Ærø — 日本",
    ),
    "blob_data": (
        {"sqlite": "BLOB", "postgresql": "BYTEA", "mariadb": "BLOB"},
        {"sqlite": "bytes", "postgresql": "bytes", "mariadb": "bytes"},
        b"\x00\xffraw",
        b"\x00\xffraw",
    ),
    "ident": (
        {"postgresql": "UUID", "mariadb": "UUID"},
        {"postgresql": UUID, "mariadb": UUID},
        IDENT,
        str(IDENT),
    ),
    "doc": (
        {"sqlite": "JSON", "postgresql": "JSON", "mariadb": "JSON"},
        {"sqlite": "string", "postgresql": "string", "mariadb": "string"},
        {"a": [1, 2], "b": "x"},
        {"a": [1, 2], "b": "x"},  # compared as parsed JSON
    ),
    "status": (
        {"postgresql": "{table}_status", "mariadb": "ENUM('ACTIVE','CLOSED')"},
        {"postgresql": STATUS, "mariadb": STATUS},
        "CLOSED",
        "CLOSED",
    ),
    "odd": ({"mariadb": "ENUM('a b','c')"}, {"mariadb": "string"}, "a b", "a b"),
    "mystery": (
        {"sqlite": "WEIRD_TYPE", "postgresql": "INTERVAL", "mariadb": "YEAR"},
        {"sqlite": "string", "postgresql": "string", "mariadb": "string"},
        None,
        None,
    ),
}
LENGTHS = {"code": 11}


def _dialect(url: str) -> str:
    name = sa.make_url(url).get_backend_name()
    return "mariadb" if name == "mysql" else name


@pytest.fixture
def every_type(db_url: str, table_name: str) -> tuple[str, dict[str, Any]]:
    """A table with a column of each SQL type the database has, one full row and one of nulls."""
    dialect = _dialect(db_url)
    engine = sa.create_engine(db_url)
    columns = {name: sql[dialect] for name, (sql, *_) in COLUMNS.items() if dialect in sql}
    ddl = ", ".join(f"{name} {sql.format(table=table_name)}" for name, sql in columns.items())
    try:
        with engine.begin() as conn:
            if dialect == "postgresql":
                conn.execute(sa.text(f"CREATE TYPE {table_name}_status AS ENUM ('ACTIVE', 'CLOSED')"))
            conn.execute(sa.text(f"CREATE TABLE {table_name} (id BIGINT PRIMARY KEY, {ddl})"))
            table = sa.Table(table_name, sa.MetaData(), autoload_with=conn)
            full = {name: COLUMNS[name][2] for name in columns if COLUMNS[name][2] is not None}
            if not isinstance(table.c.doc.type, sa.JSON):  # MariaDB's JSON is LONGTEXT + a CHECK
                full["doc"] = json.dumps(full["doc"])
            required = {name: full[name] for name in ("small", "amount")}
            conn.execute(sa.insert(table), {"id": 1, **full})
            conn.execute(sa.insert(table), {"id": 2, **required})
        yield table_name, full
    finally:
        if dialect == "postgresql":
            with engine.begin() as conn:
                conn.execute(sa.text(f"DROP TABLE IF EXISTS {table_name}"))
                conn.execute(sa.text(f"DROP TYPE IF EXISTS {table_name}_status"))
        engine.dispose()


def test_every_sql_type_gets_its_exact_avro_type(db_url: str, every_type: tuple[str, dict[str, Any]]) -> None:
    table, _ = every_type
    dialect = _dialect(db_url)
    draft = discover_table(db_url, table)
    drafted = {c["name"]: c for c in draft["columns"]}
    expected = {name: avro[dialect] for name, (_, avro, *_) in COLUMNS.items() if dialect in avro}
    assert {name: c["avro"] for name, c in drafted.items() if name != "id"} == expected
    assert drafted["id"]["avro"] == "long" and not drafted["id"]["nullable"]
    assert draft["primary_key"] == ["id"]
    nullable = {name for name, c in drafted.items() if c["nullable"]}
    assert nullable == set(expected) - {"small", "amount"}  # NOT NULL and the key are not
    assert {name: c["max_length"] for name, c in drafted.items() if c["max_length"]} == LENGTHS
    mystery = drafted["mystery"]
    assert not mystery["readable"] and any("review" in note for note in mystery["notes"])
    assert all(c["readable"] for name, c in drafted.items() if name != "mystery")
    if dialect == "mariadb":
        assert drafted["odd"]["value_set"] == ["a b", "c"]
        assert any("TINYINT(1)" in note for note in drafted["flag"]["notes"])
    if dialect == "postgresql":
        assert any("NUMERIC without precision" in note for note in drafted["unbounded"]["notes"])
    assert any("local-timestamp-micros" in note for note in drafted["local_time"]["notes"])
    fastavro.parse_schema(draft["record"])  # a valid Avro schema
    record = draft["record"]["fields"]
    assert record[0] == {"name": "id", "type": "long", "doc": "SQL type " + drafted["id"]["sql_type"] + "."}
    assert next(f for f in record if f["name"] == "code")["type"] == ["null", "string"]
    assert next(f for f in record if f["name"] == "code")["default"] is None


def test_the_drafted_record_reads_the_table_exactly(
    db_url: str, every_type: tuple[str, dict[str, Any]]
) -> None:
    table, full = every_type
    draft = discover_table(db_url, table)
    schema = parse_schema({**draft["record"], "namespace": "gov.test"})
    readable = [c["name"] for c in draft["columns"] if c["readable"]]
    source = SqlSource(db_url, table, key_fields=["id"], cursor_fields=None, columns=readable)
    try:
        [batch] = list(source.read(None))
    finally:
        source.close()
    result = conform(batch.data, schema)
    assert result.issues.num_rows == 0
    first, second = result.table.to_pylist()
    for name in full:
        expected = COLUMNS[name][3]
        got = json.loads(first[name]) if name == "doc" else first[name]
        assert got == expected, name
    assert second["small"] == full["small"] and second["amount"] == full["amount"]
    assert all(second[name] is None for name in full if name not in ("small", "amount"))
    assert first["mystery"] is None  # not readable: the nullable field is filled with null


def test_a_missing_table_lists_the_tables_that_exist(db_url: str, table_name: str) -> None:
    engine = sa.create_engine(db_url)
    with engine.begin() as conn:
        conn.execute(sa.text(f"CREATE TABLE {table_name} (id INTEGER PRIMARY KEY)"))
    engine.dispose()
    with pytest.raises(BadConfiguration) as error:
        discover_table(db_url, f"{table_name}_nope")
    assert f"table {table_name}_nope does not exist" in error.value.message
    assert table_name in (error.value.hint or "")


def test_a_password_in_the_url_is_never_shown() -> None:
    base = postgres_url()
    if not base:
        pytest.skip("GOVBUS_TEST_POSTGRES_URL is not set")
    url = sa.make_url(base).set(password="S3cret-pw!").render_as_string(hide_password=False)
    with pytest.raises(BadConfiguration) as error:
        discover_table(url, "no_such_table_anywhere")
    assert "S3cret" not in str(error.value) and "***" in (error.value.where or "")
    unreachable = "postgresql+psycopg://u:S3cret-pw!@127.0.0.1:1/x"
    with pytest.raises(GovBusError) as failed:
        discover_table(unreachable, "t")
    assert "S3cret" not in str(failed.value)


def test_a_bad_url_or_table_name_is_refused_without_echo(tmp_path) -> None:
    with pytest.raises(BadConfiguration) as error:
        discover_table("not a url ://S3cret", "t")
    assert error.value.where == "url" and "S3cret" not in str(error.value)
    with pytest.raises(BadConfiguration) as error:
        discover_table(f"sqlite:///{tmp_path / 'x.db'}", "t; DROP TABLE x")
    assert error.value.where == "table" and "DROP" not in str(error.value)
    with pytest.raises(BadConfiguration, match="the SQLite file does not exist"):
        discover_table(f"sqlite:///{tmp_path / 'typo.db'}", "t")
    assert not (tmp_path / "typo.db").exists()  # not created by looking


def test_column_names_avro_cannot_hold_are_named(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'odd.db'}"
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text('CREATE TABLE people (id INTEGER PRIMARY KEY, "first name" TEXT, "2nd" TEXT)'))
    engine.dispose()
    with pytest.raises(
        BadConfiguration, match=r"'first name', '2nd' are not valid Avro field names"
    ) as error:
        discover_table(url, "people")
    assert "view" in (error.value.hint or "")


def test_unique_keys_and_compound_primary_keys_are_reported(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'keys.db'}"
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE a (x TEXT NOT NULL, y INTEGER NOT NULL, PRIMARY KEY (x, y))"))
        conn.execute(sa.text("CREATE TABLE b (code TEXT NOT NULL UNIQUE, n INTEGER)"))
    engine.dispose()
    assert discover_table(url, "a")["primary_key"] == ["x", "y"]
    draft = discover_table(url, "b")
    assert draft["primary_key"] == [] and draft["unique"] == [["code"]]
