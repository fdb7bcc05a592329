"""The state database as it stood when migrations began: exchange and consent tables.

Written from `alembic.autogenerate` against an empty database and reviewed by hand. A
database that `create_all` built before migrations existed has exactly this schema;
`exchange.state.migrate.upgrade` detects one and stamps it at this revision.

Types are spelled out here (not imported from the models) so that this revision keeps
creating the same schema after the models move on. `govbus.sqltypes.UtcDateTime` is a
timestamptz on PostgreSQL and DATETIME(6) on MySQL/MariaDB.

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _utc() -> sa.types.TypeEngine[object]:
    """govbus.sqltypes.UtcDateTime as the database sees it."""
    return sa.DateTime(timezone=True).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def _big_id() -> sa.types.TypeEngine[int]:
    """BIGINT, but INTEGER on SQLite so that it is the rowid (autoincrement works)."""
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    _exchange_tables()
    _consent_tables()


def _exchange_tables() -> None:
    op.create_table(
        "stages",
        sa.Column("stage_id", sa.String(length=128), nullable=False),
        sa.Column("dataset", sa.String(length=128), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("from_cursor", sa.JSON(), nullable=True),
        sa.Column("to_cursor", sa.JSON(), nullable=True),
        sa.Column("segments", sa.Integer(), nullable=False),
        sa.Column("rows_read", sa.Integer(), nullable=False),
        sa.Column("rows_staged", sa.Integer(), nullable=False),
        sa.Column("rows_quarantined", sa.Integer(), nullable=False),
        sa.Column("schema_fingerprint", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("staged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("committed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("stage_id"),
        sa.UniqueConstraint("dataset", "seq", name="uq_stages_dataset_seq"),
    )
    op.create_index("ix_stages_dataset", "stages", ["dataset"], unique=False)
    op.create_table(
        "deliveries",
        sa.Column("subscription_id", sa.String(length=128), nullable=False),
        sa.Column("stage_id", sa.String(length=128), nullable=False),
        sa.Column("segment", sa.Integer(), nullable=False),
        sa.Column("dataset", sa.String(length=128), nullable=False),
        sa.Column("batch_id", sa.String(length=300), nullable=False),
        sa.Column("rows_delivered", sa.Integer(), nullable=False),
        sa.Column("rows_denied", sa.Integer(), nullable=False),
        sa.Column("ledger_seq", sa.Integer(), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("subscription_id", "stage_id", "segment"),
    )
    op.create_table(
        "access_index",
        sa.Column("subject_ref", sa.String(length=64), nullable=False),
        sa.Column("ledger_seq", sa.Integer(), nullable=False),
        sa.Column("dataset", sa.String(length=128), nullable=False),
        sa.Column("recipient", sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint("subject_ref", "ledger_seq"),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "dataset_cursors",
        sa.Column("dataset", sa.String(length=128), nullable=False),
        sa.Column("cursor", sa.JSON(), nullable=True),
        sa.Column("stage_id", sa.String(length=128), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("dataset"),
    )
    op.create_table(
        "runs",
        sa.Column("run_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("dataset", sa.String(length=128), nullable=False),
        sa.Column("step", sa.String(length=16), nullable=False),
        sa.Column("subscription_id", sa.String(length=128), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("counts", sa.JSON(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("run_id"),
    )
    op.create_index("ix_runs_dataset", "runs", ["dataset"], unique=False)
    op.create_table(
        "quarantine",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("dataset", sa.String(length=128), nullable=False),
        sa.Column("stage_id", sa.String(length=128), nullable=False),
        sa.Column("record", sa.JSON(), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("position", sa.String(length=512), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_quarantine_dataset", "quarantine", ["dataset"], unique=False)
    op.create_index("ix_quarantine_stage_id", "quarantine", ["stage_id"], unique=False)


def _consent_tables() -> None:
    op.create_table(
        "consents",
        sa.Column("consent_id", sa.String(length=36), nullable=False),
        sa.Column("subject_ref", sa.String(length=64), nullable=False),
        sa.Column("recipient", sa.String(length=128), nullable=False),
        sa.Column("dataset", sa.String(length=128), nullable=False),
        sa.Column("purpose", sa.String(length=64), nullable=False),
        sa.Column("fields", sa.Text(), nullable=False),
        sa.Column("valid_from", _utc(), nullable=False),
        sa.Column("valid_until", _utc(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("revoked_at", _utc(), nullable=True),
        sa.Column("data_life", sa.String(length=64), nullable=True),
        sa.Column("frequency", sa.String(length=64), nullable=True),
        sa.Column("collection_method", sa.String(length=64), nullable=False),
        sa.Column("evidence", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("updated_at", _utc(), nullable=False),
        sa.PrimaryKeyConstraint("consent_id"),
    )
    op.create_index(
        "ix_consents_lookup", "consents", ["recipient", "dataset", "purpose", "valid_from"], unique=False
    )
    op.create_index("ix_consents_subject", "consents", ["subject_ref"], unique=False)
    op.create_table(
        "consent_events",
        sa.Column("event_id", _big_id(), autoincrement=True, nullable=False),
        sa.Column("consent_id", sa.String(length=36), nullable=False),
        sa.Column("event", sa.String(length=16), nullable=False),
        sa.Column("at", _utc(), nullable=False),
        sa.Column("recorded_at", _utc(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["consent_id"], ["consents.consent_id"]),
        sa.PrimaryKeyConstraint("event_id"),
    )
    op.create_index("ix_consent_events_consent", "consent_events", ["consent_id"], unique=False)
    op.create_table(
        "ledger",
        sa.Column("seq", _big_id(), autoincrement=False, nullable=False),
        sa.Column("at", _utc(), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("entry_hash", sa.String(length=64), nullable=False),
        sa.Column("key_id", sa.String(length=16), nullable=False),
        sa.Column("signature", sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint("seq"),
        sa.UniqueConstraint("entry_hash"),
    )
    op.create_table(
        "ledger_checkpoints",
        sa.Column("number", _big_id(), autoincrement=False, nullable=False),
        sa.Column("tree_size", sa.BigInteger(), nullable=False),
        sa.Column("root", sa.String(length=64), nullable=False),
        sa.Column("at", _utc(), nullable=False),
        sa.Column("key_id", sa.String(length=16), nullable=False),
        sa.Column("signature", sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint("number"),
    )


def downgrade() -> None:
    for table in (
        "ledger_checkpoints",
        "ledger",
        "consent_events",
        "consents",
        "quarantine",
        "runs",
        "dataset_cursors",
        "access_index",
        "deliveries",
        "stages",
    ):
        op.drop_table(table)
