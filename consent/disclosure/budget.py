"""Privacy budgets: the epsilon each recipient has spent for each purpose, refused when spent.

Differential privacy composes: every noisy release about the same people adds its
epsilon. So the budget is per (recipient, purpose), whatever the subscription or batch,
and the total a purpose allows is the catalog's (`disclosure.budget`). Each release is a
row of `privacy_budget_spends` and a `privacy.budget-spent` ledger entry (recipient,
purpose, subscription, batch id, epsilon, total spent: no data), written in the caller's
transaction before the release leaves the bus; once the next release would exceed the
budget, `spend` raises `BudgetSpent` and nothing is released.

Each attempt spends: a delivery retried after a crash draws fresh noise, and the
recipient may have seen the first draw, so both count (the safe side).
"""

from __future__ import annotations

import sqlalchemy as sa

from audit import Ledger
from consent.register.tables import CONSENT_METADATA
from govbus.errors import BadInput
from govbus.instants import utc_now
from govbus.sqltypes import UtcDateTime

__all__ = ["BUDGET_ENTRY", "BudgetSpent", "budget_spends", "spend", "spent"]

BUDGET_ENTRY = "privacy.budget-spent"
_SLACK = 1e-9  # float sums of epsilons: 10 x 0.1 is not exactly 1.0

budget_spends = sa.Table(
    "privacy_budget_spends",
    CONSENT_METADATA,
    sa.Column(
        "spend_id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    sa.Column("recipient", sa.String(128), nullable=False),
    sa.Column("purpose", sa.String(64), nullable=False),
    sa.Column("subscription_id", sa.String(128), nullable=False),
    sa.Column("batch_id", sa.String(300), nullable=False),
    sa.Column("epsilon", sa.Float, nullable=False),
    sa.Column("spent_at", UtcDateTime, nullable=False),
    sa.Column("ledger_seq", sa.Integer, nullable=False),
    sa.Index("ix_privacy_budget_scope", "recipient", "purpose"),
)


class BudgetSpent(BadInput):
    """The recipient's privacy budget for the purpose would be exceeded: nothing is released."""


def spent(conn: sa.Connection, recipient: str, purpose: str) -> float:
    """The epsilon `recipient` has spent for `purpose` so far."""
    b = budget_spends
    total = conn.execute(
        sa.select(sa.func.sum(b.c.epsilon)).where(b.c.recipient == recipient, b.c.purpose == purpose)
    ).scalar()
    return float(total or 0.0)


def spend(
    conn: sa.Connection,
    ledger: Ledger,
    *,
    recipient: str,
    purpose: str,
    subscription: str,
    batch_id: str,
    epsilon: float,
    budget: float,
) -> float:
    """Charge `epsilon` to (recipient, purpose) and log it; `BudgetSpent` when it would exceed `budget`.

    Call it with the ledger's lock held (appends are serialized); returns the new total.
    """
    before = spent(conn, recipient, purpose)
    if before + epsilon > budget + _SLACK:
        raise BudgetSpent(
            f"the privacy budget of {recipient} for {purpose} is spent: {before:g} of {budget:g} used, "
            f"this release needs {epsilon:g}",
            where=f"subscription {subscription}",
            hint="nothing was released; raise `disclosure.budget` in the catalog only with the "
            "data-protection officer's agreement, or stop the subscription",
        )
    total = before + epsilon
    entry = ledger.append(
        conn,
        BUDGET_ENTRY,
        {
            "recipient": recipient,
            "purpose": purpose,
            "subscription": subscription,
            "batch_id": batch_id,
            "epsilon": epsilon,
            "spent": total,
            "budget": budget,
        },
    )
    conn.execute(
        sa.insert(budget_spends).values(
            recipient=recipient,
            purpose=purpose,
            subscription_id=subscription,
            batch_id=batch_id,
            epsilon=epsilon,
            spent_at=utc_now(),
            ledger_seq=entry.seq,
        )
    )
    return total
