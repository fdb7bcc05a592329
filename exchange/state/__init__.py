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

from typing import TYPE_CHECKING

from govbus.lazy_faces import lazy_face

if TYPE_CHECKING:
    from exchange.state import migrate
    from exchange.state.engine import init_state, make_engine
    from exchange.state.locks import exclusive
    from exchange.state.settings import Settings
    from exchange.state.tables import (
        METADATA,
        alert_notices,
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

# Where each public name lives: imported on first use (PEP 562), so importing this package
# (or one of its modules) does not load every dependency of every other module: `govbus
# --help`, `govbus status` and the DAG file load only what they use. A new public name goes
# here, under TYPE_CHECKING above and in `__all__` (tests/architecture/test_lazy_faces.py).
_LAZY: dict[str, tuple[str, str]] = {
    "migrate": ("exchange.state.migrate", ""),
    "init_state": ("exchange.state.engine", "init_state"),
    "make_engine": ("exchange.state.engine", "make_engine"),
    "exclusive": ("exchange.state.locks", "exclusive"),
    "Settings": ("exchange.state.settings", "Settings"),
    "METADATA": ("exchange.state.tables", "METADATA"),
    "alert_notices": ("exchange.state.tables", "alert_notices"),
    "cursors": ("exchange.state.tables", "cursors"),
    "dataset_keys": ("exchange.state.tables", "dataset_keys"),
    "dataset_snapshots": ("exchange.state.tables", "dataset_snapshots"),
    "deliveries": ("exchange.state.tables", "deliveries"),
    "quarantine": ("exchange.state.tables", "quarantine"),
    "runs": ("exchange.state.tables", "runs"),
    "stages": ("exchange.state.tables", "stages"),
    "subscription_lifecycle": ("exchange.state.tables", "subscription_lifecycle"),
    "subscription_requests": ("exchange.state.tables", "subscription_requests"),
}


__getattr__, __dir__ = lazy_face(__name__, _LAZY)


__all__ = [
    "METADATA",
    "Settings",
    "alert_notices",
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
