"""Fixtures of the consent tests: a fresh state database per test (SQLite, PostgreSQL).

PostgreSQL runs when GOVBUS_TEST_POSTGRES_URL is set (CI sets it) and is skipped
otherwise. Each PostgreSQL test gets its own schema (search_path), so parallel runs and
other parts' tests never see consent's tables.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from consent import CONSENT_METADATA, KeyStore

POSTGRES_ENV = "GOVBUS_TEST_POSTGRES_URL"


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[sa.Engine]:
    """An engine on an empty state database holding CONSENT_METADATA's tables."""
    if request.param == "sqlite":
        eng = sa.create_engine(f"sqlite:///{tmp_path / 'state.db'}")
        CONSENT_METADATA.create_all(eng)
        yield eng
        eng.dispose()
        return
    url = os.environ.get(POSTGRES_ENV)
    if not url:
        pytest.skip(f"{POSTGRES_ENV} is not set")
    schema = f"consent_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(url)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    eng = sa.create_engine(url, connect_args={"options": f"-csearch_path={schema}"})
    try:
        CONSENT_METADATA.create_all(eng)
        yield eng
    finally:
        eng.dispose()
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def keystore(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> KeyStore:
    """A keystore whose master key is a file in tmp_path (its env variable is unset)."""
    env = "GOVBUS_TEST_CONSENT_MASTER_KEY"
    monkeypatch.delenv(env, raising=False)
    return KeyStore(tmp_path / "keys", master_key_env=env)
