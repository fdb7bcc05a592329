"""A subscription's life once the bus has seen it: active ↔ suspended → ended, and its loads.

Every subscription, declared in the catalog or approved at run time, gets one row in
`subscription_lifecycle` when the deliver step first meets it (`exchange.run.initial_load`
activates it and pins its initial load). From then on people change its state here:

* `suspend` — deliveries stop and the subscription holds back no commit; `resume` makes
  it active again with a fresh initial load of the dataset's current state (what changed
  while it was suspended is in that state; nothing in between is replayed).
* `end` — for good: by the owner, the recipient, its end date, or a lapsed statute.
  Ending does not delete what was delivered; purging it is the erasure room's job
  (`govbus consent purge-statute` for a lapsed statute), called by whoever ends it.
* `request_backfill` — deliver the current state again (all of it, or the rows whose
  cursor field is at or after `since`) at the next delivery, then the changes.

What a caller must know: each change is one `subscription.lifecycle` ledger entry,
appended in the same transaction as the row change, under the ledger lock. A change
that does not apply (resume an active one, anything on an ended one) is a `BadInput`
saying what state it is in.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

import audit
from exchange import state
from exchange.catalog import Subscription
from exchange.subscriptions.context import SubscriptionContext
from govbus.errors import BadInput
from govbus.instants import as_utc, utc_now

__all__ = [
    "ACTIVE",
    "ENDED",
    "SUSPENDED",
    "Lifecycle",
    "check_backfill",
    "end",
    "lifecycle_entry",
    "lifecycles",
    "read",
    "request_backfill",
    "resume",
    "suspend",
]

ACTIVE = "active"
SUSPENDED = "suspended"
ENDED = "ended"


@dataclass(frozen=True)
class Lifecycle:
    """One subscription's state as `subscription_lifecycle` holds it (see exchange.state.tables).

    `load_id` / `load_parts`: the pinned initial load (snapshot parts) and `loaded_at` when
    it is all delivered; a row with neither `load_id` nor `loaded_at` waits for a load to
    be pinned at its next delivery. `since_seq`: it receives the stages after this seq.
    """

    subscription_id: str
    dataset: str
    origin: str
    status: str
    activated_at: datetime
    since_seq: int
    load_id: str | None
    load_parts: tuple[dict[str, Any], ...]
    load_since: str | None
    loaded_at: datetime | None
    changed_at: datetime
    reason: str | None

    @property
    def load_pending(self) -> bool:
        """A load is pinned and not yet all delivered."""
        return self.load_id is not None and self.loaded_at is None

    @property
    def needs_pin(self) -> bool:
        """A (re)load was asked for and is pinned at the next delivery."""
        return self.load_id is None and self.loaded_at is None


def _from_row(row: Any) -> Lifecycle:
    return Lifecycle(
        subscription_id=row.subscription_id,
        dataset=row.dataset,
        origin=row.origin,
        status=row.status,
        activated_at=as_utc(row.activated_at),
        since_seq=int(row.since_seq),
        load_id=row.load_id,
        load_parts=tuple(row.load_parts or ()),
        load_since=row.load_since,
        loaded_at=as_utc(row.loaded_at) if row.loaded_at is not None else None,
        changed_at=as_utc(row.changed_at),
        reason=row.reason,
    )


def read(conn: sa.Connection, subscription_id: str) -> Lifecycle | None:
    """The subscription's lifecycle row; None before its first delivery."""
    lc = state.subscription_lifecycle
    row = conn.execute(sa.select(lc).where(lc.c.subscription_id == subscription_id)).first()
    return None if row is None else _from_row(row)


def lifecycles(conn: sa.Connection, dataset: str | None = None) -> dict[str, Lifecycle]:
    """Every lifecycle row (of one dataset, when given), by subscription id."""
    lc = state.subscription_lifecycle
    query = sa.select(lc)
    if dataset is not None:
        query = query.where(lc.c.dataset == dataset)
    return {row.subscription_id: _from_row(row) for row in conn.execute(query)}


def lifecycle_entry(
    sub: Subscription,
    from_status: str | None,
    to_status: str,
    reason: str,
    by: str,
    *,
    load: tuple[int, int, str | None] | None = None,
) -> audit.SubscriptionLifecycleEntry:
    """The ledger record of a change; `load` is (snapshot seq, rows, since) when one is pinned."""
    snapshot_seq, rows, since = load if load is not None else (None, None, None)
    return audit.SubscriptionLifecycleEntry(
        subscription=sub.id,
        dataset=sub.dataset,
        recipient=sub.agency,
        purpose=sub.purpose,
        basis=sub.basis,
        origin=sub.origin,
        from_status=from_status,
        to_status=to_status,
        reason=reason,
        by=by,
        approval_seq=sub.approval_seq,
        load_snapshot_seq=snapshot_seq,
        load_rows=rows,
        load_since=since,
    )


def suspend(ctx: SubscriptionContext, subscription_id: str, *, by: str, reason: str) -> Lifecycle:
    """Pause deliveries; the subscription holds back no commit while suspended."""
    return _change(ctx, subscription_id, (ACTIVE,), SUSPENDED, by=by, reason=reason or "suspended")


def resume(ctx: SubscriptionContext, subscription_id: str, *, by: str, reason: str) -> Lifecycle:
    """Active again; the next delivery sends the dataset's current state first."""
    return _change(ctx, subscription_id, (SUSPENDED,), ACTIVE, by=by, reason=reason or "resumed", reload=True)


def end(ctx: SubscriptionContext, subscription_id: str, *, by: str, reason: str) -> Lifecycle:
    """End the subscription for good (a new request is needed to receive the dataset again)."""
    return _change(ctx, subscription_id, (ACTIVE, SUSPENDED), ENDED, by=by, reason=reason or "ended")


def check_backfill(
    ctx: SubscriptionContext, dataset_id: str, subscription_id: str, *, where: str = "subscription"
) -> None:
    """Refuse, before anything changes, a backfill of a subscription that is not an active
    subscription of `dataset_id` (a typo must fail, not backfill nothing). `where` names the
    setting the caller took the id from (`--subscription`, a DAG param)."""
    sub = ctx.catalog.subscriptions.get(subscription_id)
    if sub is None or sub.dataset != dataset_id:
        raise BadInput(
            f"{subscription_id!r} is not a subscription to {dataset_id}",
            where=where,
            hint=f"`govbus subscription list --dataset {dataset_id}` lists them, requested ones too",
        )
    with ctx.engine.connect() as conn:
        life = read(conn, subscription_id)
    if life is None or life.status != ACTIVE:
        status = life.status if life is not None else "not yet delivered"
        raise BadInput(
            f"subscription {subscription_id} is {status}",
            where=where,
            hint="only an active one can be backfilled; a first delivery sends the current state anyway",
        )


def request_backfill(
    ctx: SubscriptionContext,
    subscription_id: str,
    *,
    by: str,
    since: datetime | None = None,
    reason: str = "",
    dataset_id: str | None = None,
    where: str = "subscription",
) -> Lifecycle:
    """Send the dataset's current state again (rows changed at or after `since`, when given).

    With `dataset_id`, first `check_backfill` (the subscription must be an active one of it).
    The ledger entry's reason starts with `backfill` (and `since …`); `reason` follows it.
    """
    if dataset_id is not None:
        check_backfill(ctx, dataset_id, subscription_id, where=where)
    text = since.isoformat() if since is not None else None
    why = f"backfill since {text}" if text else "backfill"
    return _change(
        ctx,
        subscription_id,
        (ACTIVE,),
        ACTIVE,
        by=by,
        reason=f"{why}: {reason.strip()}" if reason.strip() else why,
        reload=True,
        since=text,
    )


def _change(
    ctx: SubscriptionContext,
    subscription_id: str,
    allowed_from: Sequence[str],
    to_status: str,
    *,
    by: str,
    reason: str,
    reload: bool = False,
    since: str | None = None,
) -> Lifecycle:
    sub = ctx.catalog.subscriptions.get(subscription_id)
    lc = state.subscription_lifecycle
    with ctx.locked("ledger"), ctx.engine.begin() as conn:
        current = read(conn, subscription_id)
        if sub is None:
            raise BadInput(
                f"no subscription {subscription_id!r}",
                where="subscription",
                hint="`govbus subscription list` shows every subscription and its state",
            )
        status = current.status if current is not None else "not yet delivered"
        if current is None and to_status in (SUSPENDED, ENDED):
            pass  # paused or ended before its first delivery: the row starts here
        elif current is None or current.status not in allowed_from:
            raise BadInput(
                f"subscription {subscription_id} is {status}",
                where=f"subscription {subscription_id}",
                hint=f"this change applies to a subscription that is {' or '.join(allowed_from)}",
            )
        now = utc_now()
        values: dict[str, Any] = {"status": to_status, "changed_at": now, "reason": reason[:256]}
        if reload:
            values.update(load_id=None, load_parts=None, loaded_at=None, load_since=since)
        if current is None:
            conn.execute(
                sa.insert(lc).values(
                    subscription_id=sub.id,
                    dataset=sub.dataset,
                    origin=sub.origin,
                    activated_at=now,
                    since_seq=0,
                    **values,
                )
            )
        else:
            conn.execute(sa.update(lc).where(lc.c.subscription_id == subscription_id).values(**values))
        from_status = current.status if current is not None else None
        ctx.ledger.append_entry(conn, lifecycle_entry(sub, from_status, to_status, reason, by))
        changed = read(conn, subscription_id)
    assert changed is not None
    return changed
