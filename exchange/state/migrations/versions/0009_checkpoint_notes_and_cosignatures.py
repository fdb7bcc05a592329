"""C2SP signed notes on checkpoints, and witnesses' cosignatures (issue 15).

`ledger_checkpoints.origin` and `.note_signature` hold what the checkpoint's
`tlog-checkpoint` signed note adds to the row (the note is rebuilt from the row:
`audit.ledger.checkpoints`); checkpoints taken before keep nulls (no note).
`ledger_cosignatures` records witnesses' cosignature/v1 lines per checkpoint
(`audit.ledger.cosignatures`). Additive only.

Types are spelled out (not imported from the models), as in 0001.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _utc() -> sa.types.TypeEngine[object]:
    """A timezone-aware timestamp, with microseconds on MySQL/MariaDB."""
    return sa.DateTime(timezone=True).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def upgrade() -> None:
    with op.batch_alter_table("ledger_checkpoints") as batch:
        batch.add_column(sa.Column("origin", sa.String(length=255), nullable=True))
        batch.add_column(sa.Column("note_signature", sa.String(length=128), nullable=True))
    op.create_table(
        "ledger_cosignatures",
        sa.Column("checkpoint_number", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("witness", sa.String(length=255), nullable=False),
        sa.Column("key_hash", sa.String(length=8), nullable=False),
        sa.Column("cosigned_at", sa.BigInteger(), nullable=False),
        sa.Column("signature", sa.String(length=128), nullable=False),
        sa.Column("recorded_at", _utc(), nullable=False),
        sa.PrimaryKeyConstraint("checkpoint_number", "witness", "key_hash"),
    )


def downgrade() -> None:
    op.drop_table("ledger_cosignatures")
    with op.batch_alter_table("ledger_checkpoints") as batch:
        batch.drop_column("note_signature")
        batch.drop_column("origin")
