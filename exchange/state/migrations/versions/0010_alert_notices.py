"""Alert notices: what each alert condition last did, so alerts repeat on an interval (not per run).

`alert_notices` holds one row per condition (kind, dataset, step, subscription) with when
it was first seen, last seen, last sent, how many occurrences were held back since, and
when it resolved (`exchange.ops.alert_memory`). Additive only.

Types are spelled out (not imported from the models), as in 0001.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _utc() -> sa.types.TypeEngine[object]:
    """A timezone-aware timestamp, with microseconds on MySQL/MariaDB."""
    return sa.DateTime(timezone=True).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def upgrade() -> None:
    op.create_table(
        "alert_notices",
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("dataset", sa.String(length=128), nullable=True),
        sa.Column("step", sa.String(length=16), nullable=True),
        sa.Column("subscription_id", sa.String(length=128), nullable=True),
        sa.Column("first_at", _utc(), nullable=False),
        sa.Column("last_seen_at", _utc(), nullable=False),
        sa.Column("last_sent_at", _utc(), nullable=False),
        sa.Column("held", sa.Integer(), nullable=False),
        sa.Column("resolved_at", _utc(), nullable=True),
        sa.PrimaryKeyConstraint("fingerprint"),
    )


def downgrade() -> None:
    op.drop_table("alert_notices")
