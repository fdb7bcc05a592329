"""The purge register: erasure instructions issued to recipients and their confirmations.

`purges` (consent.erasure.register) holds one row per instruction: the recipient and
subscription, the deliveries covered, the channel, the status (issued, delivered,
confirmed) and the SHA-256 of the instruction sent; the subject only as its audit
pseudonym, never the raw id. Additive only.

Types are spelled out (not imported from the models), as in 0001.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _utc() -> sa.types.TypeEngine[object]:
    """govbus.sqltypes.UtcDateTime as the database sees it."""
    return sa.DateTime(timezone=True).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def upgrade() -> None:
    op.create_table(
        "purges",
        sa.Column("purge_id", sa.String(length=36), nullable=False),
        sa.Column("request_id", sa.String(length=36), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("consent_id", sa.String(length=36), nullable=True),
        sa.Column("statute", sa.String(length=128), nullable=True),
        sa.Column("subject_ref", sa.String(length=64), nullable=True),
        sa.Column("recipient", sa.String(length=128), nullable=False),
        sa.Column("dataset", sa.String(length=128), nullable=False),
        sa.Column("subscription_id", sa.String(length=128), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("match_field", sa.String(length=128), nullable=True),
        sa.Column("pseudonym_key_ids", sa.Text(), nullable=False),
        sa.Column("batches", sa.Text(), nullable=False),
        sa.Column("issued_at", _utc(), nullable=False),
        sa.Column("instruction_sha256", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("delivered_at", _utc(), nullable=True),
        sa.Column("confirmed_at", _utc(), nullable=True),
        sa.Column("confirmed_by", sa.String(length=16), nullable=True),
        sa.Column("rows_deleted", sa.BigInteger(), nullable=True),
        sa.Column("evidence", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("purge_id"),
    )
    op.create_index("ix_purges_status", "purges", ["status", "recipient"], unique=False)
    op.create_index("ix_purges_subject", "purges", ["subject_ref"], unique=False)
    op.create_index("ix_purges_subscription", "purges", ["subscription_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_purges_subscription", table_name="purges")
    op.drop_index("ix_purges_subject", table_name="purges")
    op.drop_index("ix_purges_status", table_name="purges")
    op.drop_table("purges")
