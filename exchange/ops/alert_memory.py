"""Alerts sent once per condition, again on a repeat interval, and once when resolved.

Without a memory, `govbus alerts check` from cron every five minutes, or a run every
quarter hour, would send the same stale-dataset alert a hundred times a day, and an
operator learns to ignore them. This keeps, in the state database (`alert_notices`), one
row per condition — kind, dataset, step, subscription: what the alert is about, never
a value — as Alertmanager keeps its notification log:

* a condition seen for the first time (or again after it resolved) is sent;
* one that keeps firing is held back, counted, and sent again once `repeat` has passed
  since it was last sent, saying since when it fires and how often it was held back;
* one that was firing and is judged again without firing is resolved, and a
  `<kind>_resolved` alert says so once.

What a caller must know: `settle` needs to know which conditions the caller *judged*
(`judged`: a predicate on a notice's kind, dataset, step and subscription); only those
can resolve. A DAG task that judged only its dataset's freshness must not resolve
another dataset's failure. Settling holds one transaction; two processes settling the
same condition at once may both send it (never neither).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from exchange import state
from exchange.ops.alerts import Alert, AlertSettings, send_alerts
from govbus.instants import as_utc, utc_now

__all__ = ["DEFAULT_REPEAT", "Judged", "Notice", "fingerprint", "judged_kinds", "notify", "settle"]

DEFAULT_REPEAT = dt.timedelta(hours=4)  # Alertmanager's default repeat_interval


@dataclass(frozen=True)
class Notice:
    """What a condition is about (the key of its row)."""

    kind: str
    dataset: str | None
    step: str | None
    subscription: str | None


Judged = Callable[[Notice], bool]


def fingerprint(notice: Notice) -> str:
    """SHA-256 hex of the condition's kind, dataset, step and subscription."""
    parts = (notice.kind, notice.dataset or "", notice.step or "", notice.subscription or "")
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()


def _notice(alert: Alert) -> Notice:
    return Notice(alert.kind, alert.dataset, alert.step, alert.subscription)


def settle(
    engine: Engine,
    alerts: Iterable[Alert | None],
    *,
    judged: Judged,
    repeat: dt.timedelta = DEFAULT_REPEAT,
    now: dt.datetime | None = None,
) -> list[Alert]:
    """The alerts to send now, out of those firing (`alerts`) and those that resolved."""
    now = now or utc_now()
    firing = {fingerprint(_notice(a)): a for a in alerts if a is not None}
    n = state.alert_notices
    send: list[Alert] = []
    with engine.begin() as conn:
        rows = {row.fingerprint: row for row in conn.execute(sa.select(n))}
        for key, alert in firing.items():
            row = rows.get(key)
            if row is None:
                conn.execute(sa.insert(n).values(_fresh(key, alert, now)))
                send.append(alert)
            elif row.resolved_at is not None:
                conn.execute(sa.update(n).where(n.c.fingerprint == key).values(_fresh(key, alert, now)))
                send.append(alert)
            elif as_utc(row.last_sent_at) + repeat <= now:
                conn.execute(
                    sa.update(n)
                    .where(n.c.fingerprint == key)
                    .values(last_seen_at=now, last_sent_at=now, held=0)
                )
                send.append(_repeated(alert, as_utc(row.first_at), row.held))
            else:
                conn.execute(
                    sa.update(n).where(n.c.fingerprint == key).values(last_seen_at=now, held=row.held + 1)
                )
        for key, row in rows.items():
            notice = Notice(row.kind, row.dataset, row.step, row.subscription_id)
            if key in firing or row.resolved_at is not None or not judged(notice):
                continue
            conn.execute(sa.update(n).where(n.c.fingerprint == key).values(resolved_at=now))
            send.append(_resolved(notice, as_utc(row.first_at), now))
    return send


def judged_kinds(kinds: Sequence[str], dataset: str | None = None) -> Judged:
    """A `judged` predicate: these kinds (for this dataset only, when given)."""
    wanted = frozenset(kinds)
    return lambda notice: notice.kind in wanted and (dataset is None or notice.dataset == dataset)


def notify(
    engine: Engine, alerts: Iterable[Alert | None], settings: AlertSettings, *, judged: Judged
) -> tuple[list[Alert], list[str]]:
    """Settle `alerts` (see `settle`) and send what is due; returns (sent, failures).

    With no receiver configured nothing is recorded either: the memory is of what was sent.
    A receiver that is down does not undo the record (as with Alertmanager's log, the
    condition is sent again at its next repeat).
    """
    if not settings.any_receiver:
        return [], []
    due = settle(engine, alerts, judged=judged, repeat=settings.repeat_interval)
    return due, send_alerts(due, settings)


def _fresh(key: str, alert: Alert, now: dt.datetime) -> dict[str, object]:
    return {
        "fingerprint": key,
        "kind": alert.kind,
        "dataset": alert.dataset,
        "step": alert.step,
        "subscription_id": alert.subscription,
        "first_at": now,
        "last_seen_at": now,
        "last_sent_at": now,
        "held": 0,
        "resolved_at": None,
    }


def _repeated(alert: Alert, first: dt.datetime, held: int) -> Alert:
    since = f"still firing since {first:%Y-%m-%d %H:%M} UTC"
    summary = f"{alert.summary} ({since}; {held} repeat(s) held back)"
    return dataclasses.replace(alert, summary=summary)


def _resolved(notice: Notice, first: dt.datetime, now: dt.datetime) -> Alert:
    where = " / ".join(p for p in (notice.dataset, notice.step, notice.subscription) if p) or "the bus"
    hours = (now - first).total_seconds() / 3600
    return Alert(
        f"{notice.kind}_resolved",
        f"resolved: {notice.kind} on {where} (fired since {first:%Y-%m-%d %H:%M} UTC, {hours:.1f} h)",
        dataset=notice.dataset,
        step=notice.step,
        subscription=notice.subscription,
        at=now,
    )
