"""How old a dataset's newest data is, against its contract's SLA freshness.

One judgement for everyone who asks: the DAG's `freshness` task (which fails on a
breach), `govbus run` (which alerts), and the metrics (`govbus_freshness_lag_seconds`).

The newest data is the newest `cursor_field` value the bus has staged, read from the
newest stage's end cursor when the source orders by that field (the SQL and REST
sources do); for sources whose cursor does not carry it (files, full refresh), the time
the newest stage was read. No stage yet counts as stale: nothing has arrived.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

import contracts
from exchange import state

__all__ = ["Freshness", "judge_freshness", "newest_cursor_value"]


@dataclass(frozen=True)
class Freshness:
    """The verdict on one dataset: `lag` is None when nothing was staged yet.

    `message` names counts and durations only, never a data value.
    """

    dataset: str
    allowed: dt.timedelta
    allowed_text: str
    lag: dt.timedelta | None
    ok: bool
    message: str


def judge_freshness(conn: Connection, contract: contracts.Contract, now: dt.datetime) -> Freshness | None:
    """The freshness verdict of `contract`'s dataset at `now`; None when its SLA sets none."""
    allowed = contract.sla.freshness
    if allowed is None:
        return None
    text = contract.sla.freshness_text or str(allowed)
    st = state.stages
    newest = conn.execute(
        sa.select(st.c.to_cursor, st.c.staged_at)
        .where(st.c.dataset == contract.id, st.c.status != "staging")
        .order_by(st.c.seq.desc())
        .limit(1)
    ).first()
    if newest is None:
        return Freshness(contract.id, allowed, text, None, False, f"no data staged yet, allowed age {text}")
    value = newest_cursor_value(newest.to_cursor, contract.cursor_field)
    if value is not None:
        verdict = next(
            r for r in contracts.SlaTracker(contract).results(now, last_known=value) if r.rule == "freshness"
        )
        stamp = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
        return Freshness(contract.id, allowed, text, now - stamp, verdict.ok, verdict.message)
    staged_at = newest.staged_at if newest.staged_at.tzinfo else newest.staged_at.replace(tzinfo=dt.UTC)
    age = now - staged_at
    message = f"newest data was staged {_age(age)} ago, allowed {text}"
    return Freshness(contract.id, allowed, text, age, age <= allowed, message)


def newest_cursor_value(cursor: Any, field: str | None) -> dt.datetime | None:
    """The newest value of `field` a source cursor records, if it orders by that field first."""
    if field is None or not isinstance(cursor, dict):
        return None
    fields, after = cursor.get("fields"), cursor.get("after")
    if not (isinstance(fields, list) and fields and fields[0] == field):
        return None
    if not (isinstance(after, list) and after and isinstance(after[0], str)):
        return None
    try:
        return dt.datetime.fromisoformat(after[0])
    except ValueError:
        return None


def _age(age: dt.timedelta) -> str:
    hours, rest = divmod(max(int(age.total_seconds()), 0), 3600)
    return f"{hours // 24}d{hours % 24}h{rest // 60}m"
