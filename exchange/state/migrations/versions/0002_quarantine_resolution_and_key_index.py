"""Quarantine rows remember how they were resolved; the key index of referenced datasets.

`quarantine` gains `resolved_stage_id`, `resolved_at` and `ledger_seq` (replay, superseded
by a later stage, discard). `dataset_keys` holds keyed hashes of the keys staged for
datasets another contract refers to (`expect_column_values_to_be_in_dataset_keys`);
never a raw identifier. Additive only: existing rows keep their meaning (status `open`).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("quarantine", sa.Column("resolved_stage_id", sa.String(length=128), nullable=True))
    op.add_column("quarantine", sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("quarantine", sa.Column("ledger_seq", sa.Integer(), nullable=True))
    op.create_table(
        "dataset_keys",
        sa.Column("dataset", sa.String(length=128), nullable=False),
        sa.Column("field", sa.String(length=128), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("stage_id", sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint("dataset", "field", "key_hash"),
        sqlite_with_rowid=False,
    )
    op.create_index("ix_dataset_keys_stage_id", "dataset_keys", ["stage_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_dataset_keys_stage_id", table_name="dataset_keys")
    op.drop_table("dataset_keys")
    with op.batch_alter_table("quarantine") as batch:
        batch.drop_column("ledger_seq")
        batch.drop_column("resolved_at")
        batch.drop_column("resolved_stage_id")
