"""Stored tiles of the ledger's Merkle tree, so tree heads and proofs stop reading every entry.

`ledger_tiles` (audit.ledger.tiles) holds, per (height, tile_index), the hex RFC 6962
root of the complete, aligned subtree over 2^height entries. The table starts empty: the
tiles are a cache of what the entries determine, and readers compute a tile that is not
stored from the entries below it, so an upgraded database answers correctly at once; the
next checkpoint (the end of the next run) stores them. Additive only; a downgrade drops
the table and loses nothing the entries do not hold.

Types are spelled out (not imported from the models), as in 0001.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ledger_tiles",
        sa.Column("height", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("tile_index", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("root", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("height", "tile_index"),
        sqlite_with_rowid=False,
    )


def downgrade() -> None:
    op.drop_table("ledger_tiles")
