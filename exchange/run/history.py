"""The run history: every step's status, counts, duration and error class in `runs`.

`govbus status`, the portal and the DAG tasks read it. The stored error is the
exception's class and GovBus message only: GovBus messages carry no data values by
construction, and any other exception may, so only its class is kept.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from exchange import state
from govbus.errors import GovBusError
from govbus.instants import utc_now

__all__ = ["recorded"]


@contextmanager
def recorded(
    engine: Engine, dataset_id: str, step: str, subscription_id: str | None = None
) -> Iterator[dict[str, Any]]:
    """Record the block as one step in `runs`; the caller fills the yielded counts."""
    counts: dict[str, Any] = {}
    with engine.begin() as conn:
        run_id = conn.execute(
            sa.insert(state.runs).values(
                dataset=dataset_id,
                step=step,
                subscription_id=subscription_id,
                status="running",
                started_at=utc_now(),
            )
        ).inserted_primary_key[0]
    try:
        yield counts
    except BaseException as exc:
        error = str(exc) if isinstance(exc, GovBusError) else type(exc).__name__
        _finish(engine, run_id, "failed", counts, error)
        raise
    _finish(engine, run_id, "ok", counts, None)


def _finish(engine: Engine, run_id: int, status: str, counts: dict[str, Any], error: str | None) -> None:
    with engine.begin() as conn:
        conn.execute(
            sa.update(state.runs)
            .where(state.runs.c.run_id == run_id)
            .values(status=status, finished_at=utc_now(), counts=counts, error=error)
        )
