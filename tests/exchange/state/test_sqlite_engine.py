"""The SQLite state database's settings: what `make_engine` sets on every connection."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import sqlalchemy as sa

from exchange import state


def _pragma(engine: sa.Engine, name: str) -> object:
    with engine.connect() as conn:
        return conn.exec_driver_sql(f"PRAGMA {name}").scalar()


def test_a_new_state_db_gets_wal_and_16_kib_pages_an_existing_one_keeps_its_pages(tmp_path: Path) -> None:
    engine = state.make_engine(f"sqlite:///{tmp_path / 'new.db'}")
    state.init_state(engine)
    assert _pragma(engine, "journal_mode") == "wal"
    assert _pragma(engine, "synchronous") == 1  # NORMAL
    assert _pragma(engine, "page_size") == 16384  # the access index's blobs: ADR 0007
    engine.dispose()

    old = tmp_path / "old.db"
    with sqlite3.connect(old) as conn:  # a state DB made before: 4 KiB pages
        conn.execute("CREATE TABLE t (x)")
    engine = state.make_engine(f"sqlite:///{old}")
    assert _pragma(engine, "page_size") == 4096 and _pragma(engine, "journal_mode") == "wal"
    engine.dispose()
