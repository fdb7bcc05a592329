"""The access index's tables on each database, for the tests of both its layouts.

A plain generator: each test module makes it its `engine` fixture (`pytest.fixture(...)(index_engine)`),
so it shadows no other `engine` fixture of tests/audit/.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from audit import AUDIT_METADATA
from exchange import state
from tests.conftest import mariadb_url, postgres_schema, schema_url

INDEX_TABLES = ("access_index", "subject_sets", "subject_set_buckets", "access_deliveries")


PARAMS = ["sqlite", "postgresql", "mariadb"]


def index_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A state DB at head (SQLite, PostgreSQL), or MariaDB with the access index's tables."""
    if request.param == "sqlite":
        eng = state.make_engine(f"sqlite:///{tmp_path / 'state.db'}")
        state.init_state(eng)
        yield eng
        eng.dispose()
    elif request.param == "postgresql":
        with postgres_schema("access") as schema:
            eng = state.make_engine(schema_url(schema))
            state.init_state(eng)
            yield eng
            eng.dispose()
    else:
        url = mariadb_url()
        if not url:
            pytest.skip("GOVBUS_TEST_MARIADB_URL is not set")
        eng = sa.create_engine(url)
        tables = [AUDIT_METADATA.tables[name] for name in INDEX_TABLES]
        AUDIT_METADATA.drop_all(eng, tables=tables, checkfirst=True)
        AUDIT_METADATA.create_all(eng, tables=tables)
        yield eng
        AUDIT_METADATA.drop_all(eng, tables=tables)
        eng.dispose()
