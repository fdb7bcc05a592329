"""Opening the state database: the engine with each server's settings, then its migrations.

`init_state` is what `Bus.open` calls: it brings the schema to the newest Alembic
revision (exchange, consent and audit tables alike) before anything reads or writes.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError

from exchange.state import migrate as schema_migrations
from govbus.errors import TransientError


def make_engine(url: str) -> Engine:
    """An engine for the state DB; SQLite gets WAL and a busy timeout for concurrent workers."""
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, connect_args={"timeout": 30})

        @sa.event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record):  # type: ignore[no-untyped-def]
            cur = dbapi_conn.cursor()
            # 16 KiB pages for a new state DB (no effect on an existing one): the access
            # index's rows are blobs of a few KiB, which 4 KiB pages hold one per page;
            # writing a segment's subject set took 40 % longer with them (ADR 0007).
            cur.execute("PRAGMA page_size=16384")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            # 64 MiB of page cache: the access index grows by a row per subject and batch.
            cur.execute("PRAGMA cache_size=-65536")
            cur.close()

        return engine
    return sa.create_engine(url, pool_pre_ping=True)


def init_state(engine: Engine) -> None:
    """Bring the state DB to the newest migration (a pre-migration create_all DB is adopted). Idempotent."""

    try:
        schema_migrations.upgrade(engine)
    except OperationalError as exc:
        raise TransientError(
            "cannot open the state database",
            where=engine.url.render_as_string(hide_password=True),
            hint="check GOVBUS_STATE_URL and that the database is running",
        ) from exc
