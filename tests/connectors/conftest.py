"""Shared fixtures of the connector tests: a database URL per dialect, unique table names,
an SFTP server on 127.0.0.1 (`sftp_server`, `sftp_folder`; see `sftp_server.py`).

SQLite always runs (a file in tmp_path). PostgreSQL and MariaDB run when
GOVBUS_TEST_POSTGRES_URL / GOVBUS_TEST_MARIADB_URL are set (CI sets both) and are
skipped otherwise. Tables get unique names so parallel runs do not collide, and are
dropped afterwards.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import sqlalchemy as sa

from connectors import Source

if TYPE_CHECKING:
    from tests.connectors.sftp.sftp_server import SftpTestServer

SERVER_URL_VARIABLES = {
    "postgresql": "GOVBUS_TEST_POSTGRES_URL",
    "mariadb": "GOVBUS_TEST_MARIADB_URL",
}


@pytest.fixture(params=["sqlite", "postgresql", "mariadb"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A SQLAlchemy URL of each database kind the connectors support."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'agency.db'}"
    url = os.environ.get(SERVER_URL_VARIABLES[request.param])
    if not url:
        pytest.skip(f"{SERVER_URL_VARIABLES[request.param]} is not set")
    return url


@pytest.fixture
def table_name(db_url: str) -> Iterator[str]:
    """A fresh table name, dropped (with its sibling `<name>_out`) after the test."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    yield name
    engine = sa.create_engine(db_url)
    try:
        with engine.begin() as conn:
            for table in (name, f"{name}_out"):
                conn.execute(sa.text(f"DROP TABLE IF EXISTS {table}"))
    finally:
        engine.dispose()


def roundtrip(cursor: dict[str, Any]) -> dict[str, Any]:
    """What the exchange does with a cursor: store it as JSON and load it back."""
    return json.loads(json.dumps(cursor))


def read_keys(
    source: Source, cursor: dict[str, Any] | None, batch_size: int, key: Callable[[dict], Any]
) -> list[tuple[list[Any], dict[str, Any]]]:
    """Read everything after `cursor`: per batch, its keys and its (round-tripped) cursor."""
    batches = []
    for batch in source.read(cursor, batch_size=batch_size):
        assert 0 < batch.data.num_rows <= batch_size
        batches.append(([key(row) for row in batch.data.to_pylist()], roundtrip(batch.cursor)))
    return batches


@pytest.fixture
def assert_resumes_exactly() -> Callable[..., dict[str, Any]]:
    """Check the Source contract on `expected` keys (in cursor order); return the last cursor.

    One full read yields every key once, in order, in batches of at most `batch_size`;
    reading from each batch's cursor (after a JSON round trip) yields exactly the keys
    that follow that batch.
    """

    def check(
        source: Source, expected: list[Any], batch_size: int, key: Callable[[dict], Any]
    ) -> dict[str, Any]:
        batches = read_keys(source, None, batch_size, key)
        seen = [k for keys, _ in batches for k in keys]
        assert seen == expected  # every row, once, in cursor order
        assert len(seen) == len(set(seen))
        consumed = 0
        for keys, cursor in batches:
            consumed += len(keys)
            rest = [k for ks, _ in read_keys(source, cursor, batch_size, key) for k in ks]
            assert rest == expected[consumed:]
        return batches[-1][1]

    return check


@pytest.fixture(scope="module")
def sftp_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SftpTestServer]:
    """A real SFTP server on 127.0.0.1 for the module's tests (see tests/connectors/sftp/sftp_server.py)."""
    from tests.connectors.sftp.sftp_server import SftpTestServer  # asyncssh only where it is used

    with SftpTestServer(tmp_path_factory.mktemp("sftp-root")) as server:
        yield server


@pytest.fixture
def sftp_folder(sftp_server: SftpTestServer, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh folder on `sftp_server` (its local path), the login password in the environment."""
    from tests.connectors.sftp.sftp_server import PASSWORD_ENV

    monkeypatch.setenv(PASSWORD_ENV, sftp_server.password)
    path = sftp_server.root / f"drop-{uuid.uuid4().hex[:8]}"
    path.mkdir()
    return path
