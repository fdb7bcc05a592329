"""Privacy (issue 17): privacy budgets, and who expressed a consent event.

`privacy_budget_spends` records every differentially private release (epsilon per
recipient and purpose, with its ledger entry); `consent_events.expressed_by` says who expressed an
event (the citizen, an operator, the bus for an expiry: ISO/IEC TS 27560's event actor).
Additive only: earlier events keep a null `expressed_by` ("not recorded").

Types are spelled out (not imported from the models), as in 0001.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-14
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _utc() -> sa.types.TypeEngine[object]:
    """A timezone-aware timestamp, with microseconds on MySQL/MariaDB."""
    return sa.DateTime(timezone=True).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def upgrade() -> None:
    op.create_table(
        "privacy_budget_spends",
        sa.Column("spend_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("recipient", sa.String(length=128), nullable=False),
        sa.Column("purpose", sa.String(length=64), nullable=False),
        sa.Column("subscription_id", sa.String(length=128), nullable=False),
        sa.Column("batch_id", sa.String(length=300), nullable=False),
        sa.Column("epsilon", sa.Float(), nullable=False),
        sa.Column("spent_at", _utc(), nullable=False),
        sa.Column("ledger_seq", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("spend_id"),
    )
    op.create_index(
        "ix_privacy_budget_scope", "privacy_budget_spends", ["recipient", "purpose"], unique=False
    )
    with op.batch_alter_table("consent_events") as batch:
        batch.add_column(sa.Column("expressed_by", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("consent_events") as batch:
        batch.drop_column("expressed_by")
    op.drop_index("ix_privacy_budget_scope", table_name="privacy_budget_spends")
    op.drop_table("privacy_budget_spends")
