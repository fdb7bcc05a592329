"""Shared fixtures: an isolated GovBus home per test, the sample catalog, the bus."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from _pytest.assertion import rewrite as _assertion_rewrite

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine


def _one_rewrite_at_a_time() -> None:
    """Serialize pytest's assertion rewriting of modules imported on several threads at once.

    The `pytest11` entry point of the conformance kit makes pytest rewrite every module of
    this distribution as it is imported, through `ast.parse`, and CPython 3.11's `ast`
    keeps its recursion depth in state shared by all threads (CPython gh-106905): two
    threads importing at once (a fan-out's subscriptions starting their sinks, a delivery's
    sink thread) failed 1 run in 16 with "SystemError: AST constructor recursion depth
    mismatch". Outside pytest nothing calls `ast.parse` on import.
    """
    original = _assertion_rewrite._rewrite_test
    lock = threading.Lock()

    def serialized(fn: Path, config: pytest.Config) -> object:
        with lock:
            return original(fn, config)

    _assertion_rewrite._rewrite_test = serialized  # type: ignore[assignment]


_one_rewrite_at_a_time()


pytest_plugins = ["tests.state_fixtures"]

REPO = Path(__file__).resolve().parent.parent
CATALOG = REPO / "catalog"


@pytest.fixture
def govbus_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh GOVBUS_HOME (state DB, keys, staging, agency systems) under tmp_path."""
    home = tmp_path / "govbus-home"
    monkeypatch.setenv("GOVBUS_HOME", str(home))
    monkeypatch.setenv("GOVBUS_CATALOG", str(CATALOG))
    monkeypatch.delenv("GOVBUS_STATE_URL", raising=False)
    monkeypatch.delenv("GOVBUS_MASTER_KEY", raising=False)
    monkeypatch.setenv("GOVBUS_BATCH_SIZE", "500")  # 500 % 7 != 0: batches cut timestamp groups
    return home


@contextmanager
def postgres_schema(prefix: str) -> Iterator[str]:
    """A fresh PostgreSQL schema for one test (or package); yields its name, drops it after.

    Connect to it with `schema_url(schema)`. The drop has a lock timeout, so a test that
    leaked a connection fails loudly instead of hanging the suite.
    """
    base = postgres_url()
    if not base:
        pytest.skip("GOVBUS_TEST_POSTGRES_URL is not set")
    import uuid

    import sqlalchemy as sa

    schema = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(base)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield schema
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text("SET LOCAL lock_timeout = '20s'"))
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def schema_url(schema: str) -> str:
    """The test PostgreSQL URL with `schema` as the search path."""
    base = postgres_url() or ""
    return f"{base}{'&' if '?' in base else '?'}options=-csearch_path%3D{schema}"


@contextmanager
def engine_at_revision(kind: str, revision: str, tmp_path: Path, prefix: str) -> Iterator[Engine]:
    """A state database migrated up to `revision`, for a migration test.

    `kind` "sqlite" is a file under tmp_path; "postgresql" a fresh schema named after
    `prefix` (dropped after). Yields the engine (`state.make_engine`), disposed after.
    """
    from exchange import state
    from exchange.state import migrate as schema_migrations

    if kind == "sqlite":
        eng = state.make_engine(f"sqlite:///{tmp_path / 'state.db'}")
        try:
            schema_migrations.upgrade(eng, revision)
            yield eng
        finally:
            eng.dispose()
        return
    with postgres_schema(prefix) as schema:
        eng = state.make_engine(schema_url(schema))
        try:
            schema_migrations.upgrade(eng, revision)
            yield eng
        finally:
            eng.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def state_url(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str | None]:
    """The state database: a SQLite file (default) or a fresh PostgreSQL schema.

    PostgreSQL runs where GOVBUS_TEST_POSTGRES_URL is set (always in CI).
    """
    if request.param == "sqlite":
        yield None
        return
    with postgres_schema("govbus_test") as schema:
        url = schema_url(schema)
        monkeypatch.setenv("GOVBUS_STATE_URL", url)
        yield url


@pytest.fixture
def bus(govbus_home: Path, state_url: str | None) -> Iterator[object]:
    """The bus on the sample catalog, once with each state database."""
    from exchange import Bus

    bus = Bus.open()
    yield bus
    bus.close()


def postgres_url() -> str | None:
    return os.environ.get("GOVBUS_TEST_POSTGRES_URL")


def mariadb_url() -> str | None:
    return os.environ.get("GOVBUS_TEST_MARIADB_URL")
