"""Connector secrets from environment variables and Airflow connections (the
`AIRFLOW_CONN_<ID>` URI and JSON forms, read by Airflow 3's Task SDK), used against a real
HTTP server, PostgreSQL and MariaDB; errors that name what is missing and never a secret."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pyarrow as pa
import pytest
import sqlalchemy as sa

from connectors import ConnectionInfo, airflow_connection, make_sink, make_source, sql_url
from connectors.credentials import connection_sql_url, rest_token
from govbus.errors import BadConfiguration
from tests.conftest import REPO, mariadb_url, postgres_schema, postgres_url, schema_url
from tests.connectors.rest.test_rest_http import FAST, ApiServer, Seen, reply

SECRET = "Sup3r-secret/p@ss:word"


def _conn_id() -> str:
    """A fresh connection id per test (Airflow may cache a connection it has read)."""
    return f"govbus_test_{uuid.uuid4().hex[:8]}"


def _define(monkeypatch: pytest.MonkeyPatch, conn_id: str, value: str | dict) -> None:
    text = value if isinstance(value, str) else json.dumps(value)
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", text)


def _server(url: str | None, variable: str) -> sa.URL:
    if not url:
        pytest.skip(f"{variable} is not set")
    return sa.make_url(url)


def _rows(settings: dict, key: str = "id") -> list[dict]:
    source = make_source(settings, key_fields=[key], cursor_field=None)
    try:
        return [row for batch in source.read(None) for row in batch.data.to_pylist()]
    finally:
        source.close()


def test_a_sql_url_from_an_environment_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'agency.db'}"
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)"))
        conn.execute(sa.text("INSERT INTO t VALUES (1, 'a'), (2, 'b')"))
    engine.dispose()
    monkeypatch.setenv("GOVBUS_TEST_DB_URL", url)
    assert _rows({"connector": "sql", "url_env": "GOVBUS_TEST_DB_URL", "table": "t"}) == [
        {"id": 1, "v": "a"},
        {"id": 2, "v": "b"},
    ]
    monkeypatch.delenv("GOVBUS_TEST_DB_URL")
    with pytest.raises(BadConfiguration) as error:
        make_source(
            {"connector": "sql", "url_env": "GOVBUS_TEST_DB_URL", "table": "t"},
            key_fields=["id"],
            cursor_field=None,
        )
    assert error.value.where == "url_env" and "GOVBUS_TEST_DB_URL is not set" in error.value.message


def test_password_env_puts_the_password_into_the_url_escaped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOVBUS_TEST_DB_PASSWORD", SECRET)
    url = sql_url(
        {"url": "postgresql+psycopg://tax@db.example:5432/tax", "password_env": "GOVBUS_TEST_DB_PASSWORD"}
    )
    parsed = sa.make_url(url)
    assert (parsed.username, parsed.password, parsed.host, parsed.database) == (
        "tax",
        SECRET,
        "db.example",
        "tax",
    )
    with pytest.raises(BadConfiguration, match="already holds a password") as error:
        sql_url({"url": "postgresql+psycopg://tax:x@db/tax", "password_env": "GOVBUS_TEST_DB_PASSWORD"})
    assert error.value.where == "url"
    with pytest.raises(BadConfiguration) as error:
        sql_url({"conn_id": "tax_db", "password_env": "GOVBUS_TEST_DB_PASSWORD"})
    assert error.value.where == "password_env"


def test_one_way_to_name_the_database(tmp_path: Path) -> None:
    for settings, where in (
        ({"connector": "sql", "url": "sqlite://", "conn_id": "x", "table": "t"}, "conn_id"),
        ({"connector": "sql", "url": "sqlite://", "url_env": "X", "table": "t"}, "url_env"),
        ({"connector": "sql", "table": "t"}, "url"),
    ):
        with pytest.raises(BadConfiguration) as error:
            make_source(settings, key_fields=["id"], cursor_field=None)
        assert error.value.where == where
        assert "url_env or conn_id" in (error.value.hint or "")


def test_a_postgres_connection_in_uri_form_reaches_the_real_postgresql(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server = _server(postgres_url(), "GOVBUS_TEST_POSTGRES_URL")
    conn_id = _conn_id()
    uri = server.set(drivername="postgres").render_as_string(hide_password=False)  # Airflow's form
    _define(monkeypatch, conn_id, uri)
    table = f"t_{uuid.uuid4().hex[:12]}"
    schema = pa.schema([pa.field("id", pa.int64(), nullable=False), pa.field("v", pa.string())])
    sink = make_sink(
        {"connector": "sql", "conn_id": conn_id, "table": table}, key_fields=["id"], schema=schema
    )
    try:
        sink.write("b1", pa.table({"id": [1, 2], "v": ["x", "y"]}, schema=schema))
        sink.close()
        assert _rows({"connector": "sql", "conn_id": conn_id, "table": table}) == [
            {"id": 1, "v": "x"},
            {"id": 2, "v": "y"},
        ]
    finally:
        engine = sa.create_engine(postgres_url())
        with engine.begin() as conn:
            conn.execute(sa.text(f"DROP TABLE IF EXISTS {table}"))
        engine.dispose()


def test_a_postgres_connection_in_json_form_passes_driver_options(monkeypatch: pytest.MonkeyPatch) -> None:
    server = _server(postgres_url(), "GOVBUS_TEST_POSTGRES_URL")
    conn_id = _conn_id()
    with postgres_schema("govbus_cred") as schema:
        engine = sa.create_engine(schema_url(schema))
        with engine.begin() as conn:
            conn.execute(sa.text("CREATE TABLE returns (id INTEGER PRIMARY KEY, v TEXT)"))
            conn.execute(sa.text("INSERT INTO returns VALUES (7, 'seven')"))
        engine.dispose()
        connection = {
            "conn_type": "postgres",
            "host": server.host,
            "port": server.port or 5432,
            "login": server.username,
            "password": server.password,
            "schema": server.database,
            "extra": {"options": f"-csearch_path={schema}", "cursor": "dictcursor"},  # cursor: not libpq's
        }
        _define(monkeypatch, conn_id, connection)
        assert _rows({"connector": "sql", "conn_id": conn_id, "table": "returns"}) == [
            {"id": 7, "v": "seven"}
        ]


def test_a_mysql_connection_reaches_the_real_mariadb(monkeypatch: pytest.MonkeyPatch) -> None:
    server = _server(mariadb_url(), "GOVBUS_TEST_MARIADB_URL")
    conn_id = _conn_id()
    _define(monkeypatch, conn_id, server.set(drivername="mysql").render_as_string(hide_password=False))
    table = f"t_{uuid.uuid4().hex[:12]}"
    engine = sa.create_engine(mariadb_url())
    try:
        with engine.begin() as conn:
            conn.execute(sa.text(f"CREATE TABLE {table} (id INT PRIMARY KEY, v TEXT)"))
            conn.execute(sa.text(f"INSERT INTO {table} VALUES (3, 'three')"))
        assert _rows({"connector": "sql", "conn_id": conn_id, "table": table}) == [{"id": 3, "v": "three"}]
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text(f"DROP TABLE IF EXISTS {table}"))
        engine.dispose()


def test_sqlite_and_explicit_url_connections(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "reg.db"
    sqlite_id, explicit_id, wrong_id = _conn_id(), _conn_id(), _conn_id()
    _define(monkeypatch, sqlite_id, {"conn_type": "sqlite", "host": str(path)})
    _define(
        monkeypatch, explicit_id, {"conn_type": "generic", "extra": {"sqlalchemy_url": f"sqlite:///{path}"}}
    )
    _define(monkeypatch, wrong_id, {"conn_type": "http", "host": "api.example", "password": SECRET})
    assert sql_url({"conn_id": sqlite_id}) == f"sqlite:///{path}"
    assert sql_url({"conn_id": explicit_id}) == f"sqlite:///{path}"
    with pytest.raises(BadConfiguration) as error:
        sql_url({"conn_id": wrong_id})
    assert "type http" in error.value.message and SECRET not in str(error.value)


def test_the_url_of_a_connection_escapes_its_fields() -> None:
    info = ConnectionInfo("c", "postgres", "db.example", 5433, "us@er", SECRET, "tax", {"sslmode": "require"})
    url = sa.make_url(connection_sql_url(info))
    assert url.drivername == "postgresql+psycopg"
    assert (url.username, url.password, url.host, url.port, url.database) == (
        "us@er",
        SECRET,
        "db.example",
        5433,
        "tax",
    )
    assert dict(url.query) == {"sslmode": "require"}
    assert SECRET not in repr(info)


def test_a_rest_source_sends_the_token_of_an_airflow_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    by_password, by_extra = _conn_id(), _conn_id()
    _define(monkeypatch, by_password, {"conn_type": "http", "password": "tok-from-airflow"})
    _define(monkeypatch, by_extra, "http://api.example?token=tok-in-extra")  # URI query → extra

    def handle(request: Seen) -> tuple[int, dict[str, str], bytes]:
        return reply([{"id": 1, "name": "a"}])

    with ApiServer(handle) as api:
        for conn_id in (by_password, by_extra):
            rows = _rows({"connector": "rest", "url": f"{api.url}/people", "conn_id": conn_id, **FAST})
            assert rows == [{"id": 1, "name": "a"}]
        sent = [request.headers["authorization"] for request in api.seen]
    assert sent == ["Bearer tok-from-airflow", "Bearer tok-in-extra"]


def test_token_env_and_conn_id_together_are_refused_before_any_request() -> None:
    with pytest.raises(BadConfiguration, match="either token_env or conn_id") as error:
        make_source(
            {"connector": "rest", "url": "http://127.0.0.1:9/x", "token_env": "T", "conn_id": "api"},
            key_fields=["id"],
            cursor_field=None,
        )
    assert error.value.where == "conn_id"
    assert rest_token(token_env=None, conn_id=None) is None


def test_a_missing_connection_says_how_to_define_it_and_shows_no_secret(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    missing = _conn_id()
    other = _conn_id()
    _define(monkeypatch, other, {"conn_type": "postgres", "host": "db", "password": SECRET})
    with pytest.raises(BadConfiguration) as error:
        make_source(
            {"connector": "sql", "conn_id": missing, "table": "t"}, key_fields=["id"], cursor_field=None
        )
    text = str(error.value)
    assert error.value.where == "conn_id"
    assert f"Airflow connection {missing} is not defined" in text
    assert f"AIRFLOW_CONN_{missing.upper()}=" in text and f"airflow connections add {missing}" in text
    assert SECRET not in text
    source = make_source(
        {"connector": "rest", "url": "http://127.0.0.1:9/x", "conn_id": missing},
        key_fields=["id"],
        cursor_field=None,
    )
    with pytest.raises(BadConfiguration, match="is not defined"):
        list(source.read(None))  # the token is read at the first request
    with pytest.raises(BadConfiguration) as error:
        airflow_connection("no spaces; please")
    assert "spaces" not in str(error.value)


def test_reading_a_connection_keeps_the_callers_logging_and_stdout() -> None:
    """Importing Airflow points the root logger at stdout; GovBus puts it back."""
    script = (
        "import logging, sys\n"
        "logging.basicConfig(level=logging.WARNING, handlers=[logging.StreamHandler(sys.stderr)])\n"
        "from connectors import airflow_connection\n"
        "info = airflow_connection('govbus_logging_test')\n"
        "root = logging.getLogger()\n"
        "handlers = [f'{type(h).__name__}:{h.stream.name}' for h in root.handlers]\n"
        "print(info.host, root.level, handlers)\n"
    )
    env = {
        **os.environ,
        "AIRFLOW_CONN_GOVBUS_LOGGING_TEST": json.dumps(
            {"conn_type": "http", "host": "h1", "password": "abc"}
        ),
    }
    out = subprocess.run(
        [sys.executable, "-c", script],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout == "h1 30 ['StreamHandler:<stderr>']\n"
