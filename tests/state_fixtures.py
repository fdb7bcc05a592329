"""Fixtures of the consent and audit tests: a fresh state database per test (SQLite, PostgreSQL, MariaDB).

Loaded for the whole suite by `pytest_plugins` in tests/conftest.py; a module that defines
its own `engine` fixture overrides this one.

PostgreSQL and MariaDB run when GOVBUS_TEST_POSTGRES_URL / GOVBUS_TEST_MARIADB_URL are
set (CI sets both) and are skipped otherwise. A test session gets its own PostgreSQL
schema (search_path) and its own MariaDB database, so parallel runs and other parts'
tests never see consent's and audit's tables; each test starts from empty tables (creating a
database per test costs more than the test).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from audit import AUDIT_METADATA
from consent import CONSENT_METADATA, KeyStore

POSTGRES_ENV = "GOVBUS_TEST_POSTGRES_URL"
MARIADB_ENV = "GOVBUS_TEST_MARIADB_URL"


def _server_engine(kind: str) -> Iterator[sa.Engine | None]:
    url_text = os.environ.get(POSTGRES_ENV if kind == "postgresql" else MARIADB_ENV)
    if not url_text:
        yield None
        return
    name = f"consent_test_{uuid.uuid4().hex[:12]}"
    url = sa.make_url(url_text)
    if kind == "postgresql":
        create, drop = f'CREATE SCHEMA "{name}"', f'DROP SCHEMA "{name}" CASCADE'
        target, connect_args = url, {"options": f"-csearch_path={name}"}
    else:
        create, drop = f"CREATE DATABASE `{name}`", f"DROP DATABASE `{name}`"
        target, connect_args = url.set(database=name), {}
    admin = sa.create_engine(url)
    with admin.begin() as conn:
        conn.execute(sa.text(create))
    eng = sa.create_engine(target, connect_args=connect_args)
    try:
        CONSENT_METADATA.create_all(eng)
        AUDIT_METADATA.create_all(eng)
        yield eng
    finally:
        eng.dispose()
        with admin.begin() as conn:
            conn.execute(sa.text(drop))
        admin.dispose()


@pytest.fixture(scope="session")
def postgresql_engine() -> Iterator[sa.Engine | None]:
    yield from _server_engine("postgresql")


@pytest.fixture(scope="session")
def mariadb_engine() -> Iterator[sa.Engine | None]:
    yield from _server_engine("mariadb")


@pytest.fixture(params=["sqlite", "postgresql", "mariadb"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[sa.Engine]:
    """An engine on a state database whose CONSENT_METADATA tables are empty."""
    if request.param == "sqlite":
        eng = sa.create_engine(f"sqlite:///{tmp_path / 'state.db'}")
        CONSENT_METADATA.create_all(eng)
        AUDIT_METADATA.create_all(eng)
        yield eng
        eng.dispose()
        return
    server = request.getfixturevalue(f"{request.param}_engine")
    if server is None:
        pytest.skip(f"{POSTGRES_ENV if request.param == 'postgresql' else MARIADB_ENV} is not set")
    with server.begin() as conn:
        for table in [*reversed(CONSENT_METADATA.sorted_tables), *reversed(AUDIT_METADATA.sorted_tables)]:
            conn.execute(table.delete())
    yield server


@pytest.fixture
def keystore(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> KeyStore:
    """A keystore whose master key is a file in tmp_path (its env variable is unset)."""
    env = "GOVBUS_TEST_CONSENT_MASTER_KEY"
    monkeypatch.delenv(env, raising=False)
    return KeyStore(tmp_path / "keys", master_key_env=env)
