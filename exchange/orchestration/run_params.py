"""What an operator asks for when triggering a dataset's DAG run: a backfill, a cursor reset.

`RunParams` reads and checks the params (Airflow's `dag_run.conf` over the DAG's
defaults); `run_actions_task` applies them before the run's stage. Re-exported by
`exchange.orchestration.tasks`, which the DAG file imports.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from exchange.bus import Bus
from exchange.run.cursor_reset import reset_cursor
from exchange.subscriptions import lifecycle
from govbus.errors import BadInput
from govbus.instants import parse_instant

__all__ = ["RunParams", "run_actions_task"]


@dataclass(frozen=True)
class RunParams:
    """A triggered run's params (Airflow's `dag_run.conf` over the DAG's defaults), checked.

    All unset (a scheduled run) asks for nothing. `backfill_subscription`: that
    subscription receives the dataset's current state again in this run's delivery (rows
    changed at or after `backfill_since` when given); `reset_cursor`: this run's stage
    reads the source again from the start, for every subscriber, and needs a `reason`.
    """

    backfill_subscription: str | None = None
    backfill_since: dt.datetime | None = None
    reset_cursor: bool = False
    reason: str = ""

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> RunParams:
        """Read and check the params; BadInput naming the param that is wrong."""
        subscription = _text_param(params, "backfill_subscription")
        since_text = _text_param(params, "backfill_since")
        reason = _text_param(params, "reason") or ""
        reset = params.get("reset_cursor") or False
        if not isinstance(reset, bool):
            raise BadInput(
                "must be true or false", where="DAG param reset_cursor", hint='e.g. {"reset_cursor": true}'
            )
        since = parse_instant(since_text, where="DAG param backfill_since") if since_text else None
        if since is not None and subscription is None:
            raise BadInput(
                "is set but backfill_subscription is not",
                where="DAG param backfill_since",
                hint="name the subscription to backfill in backfill_subscription",
            )
        if reset and not reason:
            raise BadInput(
                "a cursor reset needs a reason (it is recorded in the ledger)",
                where="DAG param reason",
                hint='e.g. {"reset_cursor": true, "reason": "source corrected in place"}',
            )
        return cls(subscription, since, reset, reason)

    @property
    def asks_anything(self) -> bool:
        """Whether the run must do more than a scheduled one."""
        return self.backfill_subscription is not None or self.reset_cursor


def _text_param(params: Mapping[str, Any], name: str) -> str | None:
    value = params.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise BadInput("must be a string or null", where=f"DAG param {name}", hint=f'e.g. {{"{name}": null}}')
    return value.strip() or None


def run_actions_task(dataset_id: str, params: Mapping[str, Any], *, by: str) -> dict[str, Any]:
    """Apply a triggered run's params before its stage; a scheduled run opens no bus.

    Everything is checked before anything changes: the subscription must be an active
    subscription of this dataset, so a typo fails the run instead of backfilling nothing.
    The cursor reset goes first because the state may refuse it (a stage not yet
    committed), and a refused reset should leave no backfill behind. Each change is a
    ledger entry naming `by`. BadInput on a param or a refused change.
    """
    asked = RunParams.from_params(params)
    if not asked.asks_anything:
        return {}
    bus = Bus.open()
    try:
        subscription = asked.backfill_subscription
        if subscription is not None:
            lifecycle.check_backfill(bus, dataset_id, subscription, where="DAG param backfill_subscription")
        done: dict[str, Any] = {}
        if asked.reset_cursor:
            done["cursor_reset_seq"] = reset_cursor(bus, dataset_id, by=by, reason=asked.reason)
        if subscription is not None:
            lifecycle.request_backfill(
                bus, subscription, by=by, since=asked.backfill_since, reason=asked.reason
            )
            done["backfill"] = subscription
            done["backfill_since"] = asked.backfill_since.isoformat() if asked.backfill_since else None
    finally:
        bus.close()
    return done
