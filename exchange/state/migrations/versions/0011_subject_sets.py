"""The access index by shared subject sets (ADR 0007).

`subject_sets` holds each staged segment's subjects once (with, per row, its subject's
index in the set), `subject_set_buckets` the set's keys by bucket, and `access_deliveries`
one bitmap per delivery over the set it drew from. Until now every delivery wrote the
32-byte keys of all its subjects into `access_index` (about 32 MB per 1,000,000 rows), once
per subscription. Additive only: `access_index` keeps the rows written before and is still
read by every lookup.

Types are spelled out (not imported from the models), as in 0001.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _blob() -> sa.types.TypeEngine[bytes]:
    return sa.LargeBinary().with_variant(mysql.LONGBLOB(), "mysql", "mariadb")


def upgrade() -> None:
    op.create_table(
        "subject_sets",
        sa.Column("set_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("stage_id", sa.String(length=128), nullable=True),
        sa.Column("segment", sa.Integer(), nullable=True),
        sa.Column("row_count", sa.Integer(), nullable=False),
        sa.Column("subjects", sa.Integer(), nullable=False),
        sa.Column("row_subjects", _blob(), nullable=False),
        sa.PrimaryKeyConstraint("set_id"),
    )
    op.create_index("ix_subject_sets_piece", "subject_sets", ["stage_id", "segment"])
    op.create_table(
        "subject_set_buckets",
        sa.Column("bucket", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("set_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("first_index", sa.Integer(), nullable=False),
        sa.Column("refs", _blob(), nullable=False),
        sa.PrimaryKeyConstraint("bucket", "set_id"),
    )
    op.create_table(
        "access_deliveries",
        sa.Column("ledger_seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("set_id", sa.Integer(), nullable=False),
        sa.Column("subjects", sa.Integer(), nullable=False),
        sa.Column("bits", _blob(), nullable=False),
        sa.PrimaryKeyConstraint("ledger_seq"),
    )
    op.create_index("ix_access_deliveries_set", "access_deliveries", ["set_id"])


def downgrade() -> None:
    """Each delivery's subjects go back into `access_index` rows, then the new tables go."""
    _expand_into_access_index()
    op.drop_index("ix_access_deliveries_set", table_name="access_deliveries")
    op.drop_table("access_deliveries")
    op.drop_table("subject_set_buckets")
    op.drop_index("ix_subject_sets_piece", table_name="subject_sets")
    op.drop_table("subject_sets")


KEY_BYTES = 32


def _expand_into_access_index() -> None:
    conn = op.get_bind()
    deliveries = sa.table(
        "access_deliveries", sa.column("ledger_seq"), sa.column("set_id"), sa.column("bits")
    )
    buckets = sa.table(
        "subject_set_buckets",
        sa.column("bucket"),
        sa.column("set_id"),
        sa.column("first_index"),
        sa.column("refs"),
    )
    index = sa.table("access_index", sa.column("bucket"), sa.column("ledger_seq"), sa.column("refs"))
    groups: dict[int, list[tuple[int, int, bytes]]] = {}
    for seq, set_id, bits in conn.execute(
        sa.select(deliveries.c.ledger_seq, deliveries.c.set_id, deliveries.c.bits)
    ).all():
        if set_id not in groups:
            groups[set_id] = [
                (int(b), int(f), bytes(r))
                for b, f, r in conn.execute(
                    sa.select(buckets.c.bucket, buckets.c.first_index, buckets.c.refs).where(
                        buckets.c.set_id == set_id
                    )
                )
            ]
        carried = np.unpackbits(np.frombuffer(bytes(bits), np.uint8), bitorder="little").astype(bool)
        rows = []
        for bucket, first, refs in groups[set_id]:
            count = len(refs) // KEY_BYTES
            chosen = carried[first : first + count]
            if chosen.any():
                keys = np.frombuffer(refs, np.uint8).reshape(count, KEY_BYTES)[chosen[:count]]
                rows.append({"bucket": bucket, "ledger_seq": int(seq), "refs": keys.tobytes()})
        if rows:
            conn.execute(sa.insert(index), rows)
