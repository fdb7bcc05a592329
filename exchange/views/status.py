"""Where every exchange stands, as `govbus status` shows it: per dataset its committed
cursor and waiting stages, per subscription its state and deliveries so far.

Read from the state database (stages, cursors, runs, deliveries, lifecycles) and the
catalog; counts and times only. JSON (docs/cli-output.md):

    {"datasets": [{"dataset", "committed_at", "stages_waiting", "last_run_at",
                   "last_run_status"}],
     "subscriptions": [{"subscription", "dataset", "basis", "origin", "state", "batches",
                        "rows_delivered", "rows_denied", "last_delivery_at"}]}

Times are ISO 8601 in UTC or null (never committed, never run, nothing delivered);
`origin` is `catalog` or `request`; `state` is `exchange.views.subscriptions.life_state`'s
word (`new`: not delivered yet, it loads at its next run). CSV: `STATUS_CSV_COLUMNS`, one
row per subscription with its dataset's columns, and one with empty subscription
columns for a dataset nobody subscribes to.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from exchange import state
from exchange.subscriptions import lifecycle
from exchange.views.plain import iso_times
from exchange.views.subscriptions import life_state

if TYPE_CHECKING:
    from exchange.bus import Bus

__all__ = ["STATUS_CSV_COLUMNS", "BusStatus", "DatasetStatus", "SubscriptionStatus", "bus_status"]


@dataclass(frozen=True)
class DatasetStatus:
    """A dataset: when its cursor last moved, stages staged and not yet committed, its last run."""

    dataset: str
    committed_at: datetime | None
    stages_waiting: int
    last_run_at: datetime | None
    last_run_status: str | None


@dataclass(frozen=True)
class SubscriptionStatus:
    """A subscription: its basis, where it was declared, its state and its deliveries so far."""

    subscription: str
    dataset: str
    basis: str
    origin: str
    state: str
    batches: int
    rows_delivered: int
    rows_denied: int
    last_delivery_at: datetime | None


@dataclass(frozen=True)
class BusStatus:
    """Every dataset of the catalog (sorted) and each one's subscriptions."""

    datasets: tuple[DatasetStatus, ...]
    subscriptions: tuple[SubscriptionStatus, ...]

    def to_json(self) -> dict[str, Any]:
        """The documented JSON shape (times as ISO text)."""
        return iso_times(asdict(self))

    def csv_rows(self) -> list[dict[str, Any]]:
        """Rows of `STATUS_CSV_COLUMNS` (see the module doc)."""
        rows: list[dict[str, Any]] = []
        for d in self.datasets:
            head = asdict(d)
            mine = [asdict(s) for s in self.subscriptions if s.dataset == d.dataset]
            rows.extend([{**head, **s} for s in mine] or [head])
        return [iso_times(row) for row in rows]


STATUS_CSV_COLUMNS = (
    "dataset",
    "committed_at",
    "stages_waiting",
    "last_run_at",
    "last_run_status",
    "subscription",
    "basis",
    "origin",
    "state",
    "batches",
    "rows_delivered",
    "rows_denied",
    "last_delivery_at",
)
"""The CSV header of `govbus status --format csv`."""


def bus_status(bus: Bus) -> BusStatus:
    """Each dataset's cursor, waiting stages and last run; each subscription's deliveries."""
    st, dv, cur, runs = state.stages, state.deliveries, state.cursors, state.runs
    datasets: list[DatasetStatus] = []
    subscriptions: list[SubscriptionStatus] = []
    with bus.engine.connect() as conn:
        lives = lifecycle.lifecycles(conn)
        for dataset_id in sorted(bus.catalog.datasets):
            committed = conn.execute(sa.select(cur.c.updated_at).where(cur.c.dataset == dataset_id)).scalar()
            waiting = conn.execute(
                sa.select(sa.func.count()).where(st.c.dataset == dataset_id, st.c.status == "staged")
            ).scalar_one()
            last = conn.execute(
                sa.select(runs.c.started_at, runs.c.status)
                .where(runs.c.dataset == dataset_id)
                .order_by(runs.c.run_id.desc())
                .limit(1)
            ).first()
            datasets.append(
                DatasetStatus(
                    dataset_id,
                    committed,
                    int(waiting),
                    last.started_at if last else None,
                    last.status if last else None,
                )
            )
            for sub in bus.catalog.subscriptions_for(dataset_id):
                count, delivered, denied, latest = conn.execute(
                    sa.select(
                        sa.func.count(),
                        sa.func.sum(dv.c.rows_delivered),
                        sa.func.sum(dv.c.rows_denied),
                        sa.func.max(dv.c.delivered_at),
                    ).where(dv.c.subscription_id == sub.id)
                ).one()
                subscriptions.append(
                    SubscriptionStatus(
                        sub.id,
                        dataset_id,
                        sub.basis,
                        "request" if sub.origin == "request" else "catalog",
                        life_state(lives.get(sub.id)),
                        int(count),
                        int(delivered or 0),
                        int(denied or 0),
                        latest,
                    )
                )
    return BusStatus(tuple(datasets), tuple(subscriptions))
