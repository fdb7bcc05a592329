"""On SQLite, the access index becomes a rowid table: bucket rows are appended, not slotted in.

0004 made `access_index` a WITHOUT ROWID table clustered on (bucket, ledger_seq). Its rows
hold a batch's 32-byte keys of one bucket, a few KiB each, and SQLite's clustered B-tree
handles rows that large poorly: each delivered batch slots about 1,000 such rows into
1,000 places of the table, and the insert grew from 57 to 123 ms per batch of 100,000
subjects over 60 batches (bench/audit_bench.py's delivery model, raw sqlite3). As a rowid
table the rows are appended at the end and only the small (bucket, ledger_seq) key goes
into the primary-key index: 25 to 33 ms per batch over the same 60. Lookups read the same
rows through that index, as fast at this size (50 lookups 13 ms against 16 ms).

PostgreSQL stores every table this way already; MariaDB (InnoDB clusters on the primary
key) is left as it is. Both directions copy the rows; nothing else changes.

Types are spelled out (not imported from the models), as in 0001.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD = "access_index_0005"


def _rebuild(with_rowid: bool) -> None:
    """Re-create `access_index` under its own name (so its DDL reads as create_all writes it)."""
    if op.get_bind().dialect.name != "sqlite":
        return
    op.rename_table("access_index", OLD)
    op.create_table(
        "access_index",
        sa.Column("bucket", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("ledger_seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("refs", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("bucket", "ledger_seq"),
        sqlite_with_rowid=with_rowid,
    )
    # Delivery order: the order a running bus appends them in.
    op.execute(
        "INSERT INTO access_index (bucket, ledger_seq, refs) "
        f"SELECT bucket, ledger_seq, refs FROM {OLD} ORDER BY ledger_seq, bucket"
    )
    op.drop_table(OLD)


def upgrade() -> None:
    _rebuild(with_rowid=True)


def downgrade() -> None:
    _rebuild(with_rowid=False)
