"""The bus's own state database: stages, deliveries (checkpoints), cursors, runs, quarantine,
the key index of referenced datasets.

One SQL database through SQLAlchemy 2 — a SQLite file by default, PostgreSQL in
production (`GOVBUS_STATE_URL`). The consent part's tables (consents, ledger) live in
the same database so that a delivery's ledger entry and its checkpoint commit in one
transaction: that is what makes a retried delivery exactly-once.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.dialects import mysql
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError

from govbus.errors import TransientError

METADATA = sa.MetaData()


def utcnow() -> datetime:
    return datetime.now(UTC)


# A stage is one read of a dataset's source since the previous stage's end cursor.
stages = sa.Table(
    "stages",
    METADATA,
    sa.Column("stage_id", sa.String(128), primary_key=True),
    sa.Column("dataset", sa.String(128), nullable=False, index=True),
    sa.Column("seq", sa.Integer, nullable=False),
    # staging -> staged -> committed; a 'staging' row left by a crash is discarded on retry
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("from_cursor", sa.JSON, nullable=True),
    sa.Column("to_cursor", sa.JSON, nullable=True),
    sa.Column("segments", sa.Integer, nullable=False, default=0),
    sa.Column("rows_read", sa.Integer, nullable=False, default=0),
    sa.Column("rows_staged", sa.Integer, nullable=False, default=0),
    sa.Column("rows_quarantined", sa.Integer, nullable=False, default=0),
    sa.Column("schema_fingerprint", sa.String(64), nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("staged_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("committed_at", sa.DateTime(timezone=True), nullable=True),
    sa.UniqueConstraint("dataset", "seq", name="uq_stages_dataset_seq"),
)

# A subscription's checkpoint: one row per delivered segment of a stage. The primary
# key makes a second delivery of the same segment impossible, even by a racing worker.
deliveries = sa.Table(
    "deliveries",
    METADATA,
    sa.Column("subscription_id", sa.String(128), primary_key=True),
    sa.Column("stage_id", sa.String(128), primary_key=True),
    sa.Column("segment", sa.Integer, primary_key=True),
    sa.Column("dataset", sa.String(128), nullable=False),
    sa.Column("batch_id", sa.String(300), nullable=False),
    sa.Column("rows_delivered", sa.Integer, nullable=False),
    sa.Column("rows_denied", sa.Integer, nullable=False),
    sa.Column("ledger_seq", sa.Integer, nullable=False),
    sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=False),
)

# Who received whose data, by audit pseudonym (HMAC under the audit key), never the raw
# id: one row per (bucket, delivery) holding that delivery's subjects in the bucket
# (exchange.access_index explains why). Written in the delivery's transaction, so it
# always agrees with the ledger entry it points to.
access_index = sa.Table(
    "access_index",
    METADATA,
    sa.Column("bucket", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("ledger_seq", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("refs", sa.LargeBinary().with_variant(mysql.LONGBLOB(), "mysql", "mariadb"), nullable=False),
    # A rowid table on SQLite (migration 0006): rows of a few KiB are appended, not slotted in.
)

# The committed source cursor per dataset: where the next stage reads from once every
# earlier stage is delivered everywhere.
cursors = sa.Table(
    "dataset_cursors",
    METADATA,
    sa.Column("dataset", sa.String(128), primary_key=True),
    sa.Column("cursor", sa.JSON, nullable=True),
    sa.Column("stage_id", sa.String(128), nullable=True),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

runs = sa.Table(
    "runs",
    METADATA,
    sa.Column("run_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("dataset", sa.String(128), nullable=False, index=True),
    sa.Column("step", sa.String(16), nullable=False),
    sa.Column("subscription_id", sa.String(128), nullable=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("counts", sa.JSON, nullable=True),
    sa.Column("error", sa.Text, nullable=True),
)

# Rows that broke the contract, kept whole (as read from the source) with every reason,
# so they can be fixed at the source and replayed. This is data, not a log: it lives
# only in the state database, never in log lines or error messages.
quarantine = sa.Table(
    "quarantine",
    METADATA,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("dataset", sa.String(128), nullable=False, index=True),
    sa.Column("stage_id", sa.String(128), nullable=False, index=True),
    sa.Column("record", sa.JSON, nullable=False),
    sa.Column("reasons", sa.JSON, nullable=False),
    # where the source had it (file:line, file@byte) when the source can tell
    sa.Column("position", sa.String(512), nullable=True),
    # open -> replayed (re-staged by `govbus quarantine replay`), superseded (a later
    # stage staged a valid version of its key), or discarded (kept for audit only)
    sa.Column("status", sa.String(16), nullable=False, default="open"),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    # the stage that carried it on (its replay, or the superseding stage), when, and the
    # ledger entry of a replay or discard (who, why)
    sa.Column("resolved_stage_id", sa.String(128), nullable=True),
    sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("ledger_seq", sa.Integer, nullable=True),
)

# Keyed hashes (HMAC-SHA256 under a key derived for the dataset and field) of the key
# values staged for datasets that another contract refers to
# (`expect_column_values_to_be_in_dataset_keys`). The referential rule asks this index;
# no raw identifier is stored. `stage_id` is the stage that first staged the key, so a
# crashed stage's keys go with it.
dataset_keys = sa.Table(
    "dataset_keys",
    METADATA,
    sa.Column("dataset", sa.String(128), primary_key=True),
    sa.Column("field", sa.String(128), primary_key=True),
    sa.Column("key_hash", sa.String(64), primary_key=True),
    sa.Column("stage_id", sa.String(128), nullable=False, index=True),
    sqlite_with_rowid=False,
)


def make_engine(url: str) -> Engine:
    """An engine for the state DB; SQLite gets WAL and a busy timeout for concurrent workers."""
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, connect_args={"timeout": 30})

        @sa.event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record):  # type: ignore[no-untyped-def]
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            # 64 MiB of page cache: the access index grows by a row per subject and batch.
            cur.execute("PRAGMA cache_size=-65536")
            cur.close()

        return engine
    return sa.create_engine(url, pool_pre_ping=True)


def init_state(engine: Engine) -> None:
    """Bring the state DB to the newest migration (a pre-migration create_all DB is adopted). Idempotent."""
    from exchange import schema_migrations  # the migrations import this module's tables

    try:
        schema_migrations.upgrade(engine)
    except OperationalError as exc:
        raise TransientError(
            "cannot open the state database",
            where=engine.url.render_as_string(hide_password=True),
            hint="check GOVBUS_STATE_URL and that the database is running",
        ) from exc
