"""Alerts judged from the state alone, for `govbus alerts check` run from cron.

A run alerts on what it sees as it goes (`exchange.run.runner`, the DAG tasks). What
shows only while nothing runs needs a look from outside: the ledger's newest checkpoint
growing old (runs stopped, or stop before their end), a dataset going stale against its
SLA, and a step whose latest run failed and was not run again since.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from exchange import state
from exchange.catalog import Catalog
from exchange.ops.alerts import Alert, AlertSettings, checkpoint_alert, failed_alert, sla_alert
from exchange.ops.freshness import judge_freshness
from govbus.instants import utc_now

__all__ = ["standing_alerts"]


def standing_alerts(
    engine: Engine, catalog: Catalog, settings: AlertSettings, now: dt.datetime | None = None
) -> list[Alert]:
    """The alerts the state calls for now: late checkpoint, stale datasets, failed latest steps."""
    now = now or utc_now()
    found: list[Alert] = []
    r = state.runs
    with engine.connect() as conn:
        late = checkpoint_alert(conn, settings.checkpoint_max_age, now)
        if late is not None:
            found.append(late)
        for dataset_id in sorted(catalog.datasets):
            contract = catalog.datasets[dataset_id].contract
            if contract.cursor_field is None:  # as the DAG: freshness is judged on the cursor field
                continue
            verdict = judge_freshness(conn, contract, now)
            if verdict is not None and not verdict.ok:
                found.append(sla_alert(dataset_id, verdict.message))
        newest = (
            sa.select(sa.func.max(r.c.run_id).label("run_id"))
            .where(r.c.status != "running")
            .group_by(r.c.dataset, r.c.step, r.c.subscription_id)
            .subquery()
        )
        failed = conn.execute(
            sa.select(r.c.dataset, r.c.step, r.c.subscription_id, r.c.error)
            .join(newest, newest.c.run_id == r.c.run_id)
            .where(r.c.status == "failed")
            .order_by(r.c.dataset, r.c.step, r.c.subscription_id)
        ).all()
    for dataset_id, step, sub, error in failed:
        found.append(failed_alert(dataset_id, step, error or "failed", sub))
    return found
