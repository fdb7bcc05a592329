"""The access index groups a delivery's subjects by bucket instead of a row per subject.

Before: one row per (subject_ref hex, ledger_seq) with the dataset and recipient copied
in. After: one row per (bucket, ledger_seq) holding the raw 32-byte pseudonyms of that delivery's
subjects in the bucket (audit.access_index says why: random-key inserts were most of
an audited delivery's cost). Dataset and recipient are read from the ledger entry.

The rows are carried over, not rebuilt: the old table is read in subject order, which is
bucket order (a bucket is a prefix of the key), so one bucket at a time is in memory.
A downgrade expands them back (dataset and recipient from the ledger entries).

Types are spelled out (not imported from the models), as in 0001.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BUCKET_BITS = 10  # audit.access_index.BUCKET_BITS when this revision was written
KEY_BYTES = 32
OLD = "access_index_0003"


def _set_aside(bind: sa.Connection) -> None:
    """Rename the old table (and, on PostgreSQL, its key) so the new one gets the real names."""
    op.rename_table("access_index", OLD)
    if bind.dialect.name == "postgresql":
        op.execute(f"ALTER INDEX access_index_pkey RENAME TO {OLD}_pkey")


def _flush(bind: sa.Connection, table: sa.Table, bucket: int, refs: dict[int, bytearray]) -> None:
    if refs:
        rows = [{"bucket": bucket, "ledger_seq": seq, "refs": bytes(data)} for seq, data in refs.items()]
        bind.execute(table.insert(), rows)


def upgrade() -> None:
    bind = op.get_bind()
    _set_aside(bind)
    new = op.create_table(
        "access_index",
        sa.Column("bucket", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("ledger_seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column(
            "refs", sa.LargeBinary().with_variant(mysql.LONGBLOB(), "mysql", "mariadb"), nullable=False
        ),
        sa.PrimaryKeyConstraint("bucket", "ledger_seq"),
        sqlite_with_rowid=False,
    )
    assert new is not None
    old = sa.table(OLD, sa.column("subject_ref", sa.String), sa.column("ledger_seq", sa.Integer))
    current, grouped = -1, defaultdict(bytearray)
    rows = bind.execute(sa.select(old.c.subject_ref, old.c.ledger_seq).order_by(old.c.subject_ref))
    for ref, seq in rows:
        key = bytes.fromhex(ref)
        bucket = int.from_bytes(key[:2], "big") >> (16 - BUCKET_BITS)
        if bucket != current:
            _flush(bind, new, current, grouped)
            current, grouped = bucket, defaultdict(bytearray)
        grouped[seq] += key
    _flush(bind, new, current, grouped)
    op.drop_table(OLD)


def downgrade() -> None:
    bind = op.get_bind()
    op.rename_table("access_index", OLD)
    if bind.dialect.name == "postgresql":
        op.execute(f"ALTER INDEX access_index_pkey RENAME TO {OLD}_pkey")
    old = op.create_table(
        "access_index",
        sa.Column("subject_ref", sa.String(length=64), nullable=False),
        sa.Column("ledger_seq", sa.Integer(), nullable=False),
        sa.Column("dataset", sa.String(length=128), nullable=False),
        sa.Column("recipient", sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint("subject_ref", "ledger_seq"),
        sqlite_with_rowid=False,
    )
    assert old is not None
    grouped = sa.table(OLD, sa.column("ledger_seq", sa.Integer), sa.column("refs", sa.LargeBinary))
    ledger = sa.table("ledger", sa.column("seq", sa.Integer), sa.column("payload", sa.Text))
    described: dict[int, tuple[str, str]] = {}
    for seq, refs in bind.execute(sa.select(grouped.c.ledger_seq, grouped.c.refs)):
        if seq not in described:
            payload = json.loads(
                bind.execute(sa.select(ledger.c.payload).where(ledger.c.seq == seq)).scalar_one()
            )
            described[seq] = (str(payload.get("dataset", "")), str(payload.get("recipient", "")))
        dataset, recipient = described[seq]
        data = bytes(refs)
        rows = [
            {"subject_ref": data[at : at + KEY_BYTES].hex(), "ledger_seq": seq,
             "dataset": dataset, "recipient": recipient}
            for at in range(0, len(data), KEY_BYTES)
        ]  # fmt: skip
        bind.execute(old.insert(), rows)
    op.drop_table(OLD)
