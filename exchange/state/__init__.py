"""The bus's own state: settings, the state database (tables, engine, migrations) and step locks.

What a caller must know:

* One SQL database through SQLAlchemy 2: a SQLite file by default, PostgreSQL (or
  MariaDB) by `GOVBUS_STATE_URL`. The consent and audit parts' tables live in the same
  database, so a delivery's ledger entry and its checkpoint commit in one transaction.
* `init_state` migrates the schema (Alembic, `migrations/`) before first use.
* `exclusive` is the lock a step holds so two workers never run it at once.
* This room imports no other room of exchange/.
"""

from __future__ import annotations

from exchange.state import migrate
from exchange.state.engine import init_state, make_engine
from exchange.state.locks import exclusive
from exchange.state.settings import Settings
from exchange.state.tables import (
    METADATA,
    cursors,
    dataset_keys,
    dataset_snapshots,
    deliveries,
    quarantine,
    runs,
    stages,
    subscription_lifecycle,
    subscription_requests,
)

__all__ = [
    "METADATA",
    "Settings",
    "cursors",
    "dataset_keys",
    "dataset_snapshots",
    "deliveries",
    "exclusive",
    "init_state",
    "make_engine",
    "migrate",
    "quarantine",
    "runs",
    "stages",
    "subscription_lifecycle",
    "subscription_requests",
]
