"""Subscriptions and requests as people read them: one row each, and one subscription in full.

Both kinds of subscription (catalog files and approved requests) and the requests not
(yet) approved, with their state: `requested`, `rejected`, `new` (approved or declared,
not yet delivered), `active`, `active, initial load due`, `suspended`, `ended`. The CLI
(`govbus subscription list | show`) and the portal read these; neither shows a data value.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from exchange import state
from exchange.subscriptions import lifecycle
from exchange.subscriptions.requests import APPROVED, list_requests, read_request
from govbus.errors import BadInput

if TYPE_CHECKING:
    from exchange.bus import Bus

__all__ = ["SubscriptionRow", "life_state", "subscription_detail", "subscription_rows"]


@dataclass(frozen=True)
class SubscriptionRow:
    """One subscription or request in a listing; `since` is when it became active (or was asked for)."""

    id: str
    agency: str
    dataset: str
    purpose: str
    basis: str
    origin: str  # catalog | request
    state: str
    since: datetime | None

    def to_json(self) -> dict[str, Any]:
        """The row as the JSON output and API give it (stable keys)."""
        return {
            "id": self.id,
            "agency": self.agency,
            "dataset": self.dataset,
            "purpose": self.purpose,
            "basis": self.basis,
            "origin": self.origin,
            "state": self.state,
            "since": self.since.isoformat() if self.since else None,
        }


def life_state(life: lifecycle.Lifecycle | None) -> str:
    """A subscription's state in words (see the module docstring)."""
    if life is None:
        return "new"
    if life.status == lifecycle.ACTIVE and (life.load_pending or life.needs_pin):
        return "active, initial load due"
    return life.status


def subscription_rows(
    bus: Bus, *, agency: str | None = None, dataset: str | None = None
) -> list[SubscriptionRow]:
    """Every subscription and every request not approved, sorted by id, narrowed by agency and dataset."""
    rows: dict[str, SubscriptionRow] = {}
    with bus.engine.connect() as conn:
        lives = lifecycle.lifecycles(conn)
        for sub in bus.catalog.subscriptions.values():
            life = lives.get(sub.id)
            rows[sub.id] = SubscriptionRow(
                sub.id,
                sub.agency,
                sub.dataset,
                sub.purpose,
                sub.basis,
                sub.origin,
                life_state(life),
                life.activated_at if life else None,
            )
        for request in list_requests(conn):
            if request.id in rows or (request.status == APPROVED and request.id in bus.catalog.subscriptions):
                continue
            spec = request.spec
            basis = f"statute:{spec.statute}" if spec.statute else "consent"
            state_text = request.status if request.status != APPROVED else "approved, not valid now"
            rows[request.id] = SubscriptionRow(
                request.id,
                spec.agency,
                spec.dataset,
                spec.purpose,
                basis,
                "request",
                state_text,
                request.requested_at,
            )
        # Ended subscriptions removed from the catalog still show, from their lifecycle row.
        for sub_id, life in lives.items():
            if sub_id not in rows:
                rows[sub_id] = SubscriptionRow(
                    sub_id,
                    "",
                    life.dataset,
                    "",
                    "",
                    life.origin,
                    f"{life.status} (no longer declared)",
                    life.changed_at,
                )
    return [
        r
        for _, r in sorted(rows.items())
        if (agency is None or r.agency == agency) and (dataset is None or r.dataset == dataset)
    ]


def subscription_detail(bus: Bus, sub_id: str) -> dict[str, Any]:
    """One subscription or request in full: what it asks, decisions, state, load, deliveries."""
    sub = bus.catalog.subscriptions.get(sub_id)
    dv = state.deliveries
    with bus.engine.connect() as conn:
        request = read_request(conn, sub_id)
        life = lifecycle.read(conn, sub_id)
        totals = conn.execute(
            sa.select(
                sa.func.count(), sa.func.sum(dv.c.rows_delivered), sa.func.max(dv.c.delivered_at)
            ).where(dv.c.subscription_id == sub_id)
        ).one()
    if sub is None and request is None and life is None:
        raise BadInput(
            f"no subscription or request {sub_id!r}", where="subscription", hint="`govbus subscription list`"
        )
    detail: dict[str, Any] = {"id": sub_id}
    if sub is not None:
        detail.update(
            agency=sub.agency,
            dataset=sub.dataset,
            purpose=sub.purpose,
            basis=sub.basis,
            fields=list(sub.fields),
            origin=sub.origin,
            declared_in=sub.file,
            schedule=sub.schedule,
            ends_on=sub.ends_on.isoformat() if sub.ends_on else None,
        )
    if request is not None:
        spec = request.spec
        detail.setdefault("agency", spec.agency)
        detail.setdefault("dataset", spec.dataset)
        detail.setdefault("purpose", spec.purpose)
        detail.setdefault("fields", list(spec.fields))
        detail.update(
            request_status=request.status,
            requested_by=spec.requested_by,
            requested_at=request.requested_at.isoformat(),
            request_sha256=request.request_sha256,
            request_ledger_seq=request.ledger_seq,
            note=spec.note,
            decisions=[
                {k: d.get(k) for k in ("decision", "role", "agency", "by", "reason", "at", "ledger_seq")}
                for d in request.decisions
            ],
        )
    detail["state"] = life_state(life)
    if life is not None:
        detail.update(
            activated_at=life.activated_at.isoformat(),
            receives_stages_after=life.since_seq,
            initial_load=(
                None
                if life.load_id is None
                else {
                    "id": life.load_id,
                    "parts": len(life.load_parts),
                    "rows": sum(int(p.get("rows", 0)) for p in life.load_parts),
                    "since": life.load_since,
                    "delivered_at": life.loaded_at.isoformat() if life.loaded_at else None,
                }
            ),
            reason=life.reason,
        )
    detail.update(
        batches=int(totals[0] or 0),
        rows_delivered=int(totals[1] or 0),
        last_delivery=totals[2].isoformat() if totals[2] is not None else None,
    )
    return detail
