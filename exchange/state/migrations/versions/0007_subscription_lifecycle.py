"""Subscriptions as a lifecycle: requests and their decisions, each subscription's state, snapshots.

`subscription_requests` holds subscriptions asked for at run time (CLI, portal, API) with
their signed decisions; `subscription_lifecycle` the state of every subscription the bus
has seen (active, suspended, ended) and its initial load; `dataset_snapshots` each
dataset's compacted current state, from which a new subscriber's initial load is read
(ADR 0006). Additive only: existing subscriptions get their lifecycle row at their next
delivery, as active with nothing to load (they received every stage already).

Types are spelled out (not imported from the models), as in 0001.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _utc() -> sa.types.TypeEngine[object]:
    """A timezone-aware timestamp, with microseconds on MySQL/MariaDB."""
    return sa.DateTime(timezone=True).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def upgrade() -> None:
    op.create_table(
        "subscription_requests",
        sa.Column("id", sa.String(length=128), nullable=False),
        sa.Column("agency", sa.String(length=128), nullable=False),
        sa.Column("dataset", sa.String(length=128), nullable=False),
        sa.Column("purpose", sa.String(length=128), nullable=False),
        sa.Column("statute", sa.String(length=128), nullable=True),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("pseudonymize_subject", sa.Boolean(), nullable=False),
        sa.Column("sink", sa.JSON(), nullable=False),
        sa.Column("schedule", sa.String(length=128), nullable=True),
        sa.Column("ends_on", sa.Date(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("requested_by", sa.String(length=128), nullable=False),
        sa.Column("requested_at", _utc(), nullable=False),
        sa.Column("request_sha256", sa.String(length=64), nullable=False),
        sa.Column("ledger_seq", sa.Integer(), nullable=True),
        sa.Column("decisions", sa.JSON(), nullable=False),
        sa.Column("decided_at", _utc(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_subscription_requests_agency", "subscription_requests", ["agency"], unique=False)
    op.create_index("ix_subscription_requests_dataset", "subscription_requests", ["dataset"], unique=False)
    op.create_table(
        "subscription_lifecycle",
        sa.Column("subscription_id", sa.String(length=128), nullable=False),
        sa.Column("dataset", sa.String(length=128), nullable=False),
        sa.Column("origin", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("activated_at", _utc(), nullable=False),
        sa.Column("since_seq", sa.Integer(), nullable=False),
        sa.Column("load_id", sa.String(length=160), nullable=True),
        sa.Column("load_parts", sa.JSON(), nullable=True),
        sa.Column("load_since", sa.String(length=64), nullable=True),
        sa.Column("loaded_at", _utc(), nullable=True),
        sa.Column("changed_at", _utc(), nullable=False),
        sa.Column("reason", sa.String(length=256), nullable=True),
        sa.PrimaryKeyConstraint("subscription_id"),
    )
    op.create_index("ix_subscription_lifecycle_dataset", "subscription_lifecycle", ["dataset"], unique=False)
    op.create_table(
        "dataset_snapshots",
        sa.Column("dataset", sa.String(length=128), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("parts", sa.JSON(), nullable=False),
        sa.Column("rows", sa.BigInteger(), nullable=False),
        sa.Column("complete", sa.Boolean(), nullable=False),
        sa.Column("updated_at", _utc(), nullable=False),
        sa.PrimaryKeyConstraint("dataset"),
    )


def downgrade() -> None:
    op.drop_table("dataset_snapshots")
    op.drop_index("ix_subscription_lifecycle_dataset", table_name="subscription_lifecycle")
    op.drop_table("subscription_lifecycle")
    op.drop_index("ix_subscription_requests_dataset", table_name="subscription_requests")
    op.drop_index("ix_subscription_requests_agency", table_name="subscription_requests")
    op.drop_table("subscription_requests")
