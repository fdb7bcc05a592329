"""The bus's own state database: stages, deliveries (checkpoints), cursors, runs, quarantine,
the key index of referenced datasets.

One SQL database through SQLAlchemy 2 — a SQLite file by default, PostgreSQL in
production (`GOVBUS_STATE_URL`). The consent part's tables (consents, ledger) live in
the same database so that a delivery's ledger entry and its checkpoint commit in one
transaction: that is what makes a retried delivery exactly-once.
"""

from __future__ import annotations

import sqlalchemy as sa

METADATA = sa.MetaData()


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

# Subscriptions asked for at run time (CLI, portal, API) rather than written in the
# catalog: the request as made, its status and the signed decisions on it. A request's id
# is the subscription id it becomes. Approved ones join the catalog's subscriptions when the
# bus opens (`exchange.subscriptions.merge`). The decisions themselves are ledger entries;
# `decisions` keeps their signed documents so that `govbus audit verify` can hold the two
# against each other.
subscription_requests = sa.Table(
    "subscription_requests",
    METADATA,
    sa.Column("id", sa.String(128), primary_key=True),
    sa.Column("agency", sa.String(128), nullable=False, index=True),
    sa.Column("dataset", sa.String(128), nullable=False, index=True),
    sa.Column("purpose", sa.String(128), nullable=False),
    sa.Column("statute", sa.String(128), nullable=True),  # None: each subject's consent
    sa.Column("fields", sa.JSON, nullable=False),
    sa.Column("pseudonymize_subject", sa.Boolean, nullable=False, default=False),
    sa.Column("sink", sa.JSON, nullable=False),
    sa.Column("schedule", sa.String(128), nullable=True),
    sa.Column("ends_on", sa.Date, nullable=True),
    sa.Column("note", sa.Text, nullable=True),
    # requested -> approved (every approver role has approved) | rejected | withdrawn
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("requested_by", sa.String(128), nullable=False),
    sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("request_sha256", sa.String(64), nullable=False),
    sa.Column("ledger_seq", sa.Integer, nullable=True),  # the `subscription.requested` entry
    sa.Column("decisions", sa.JSON, nullable=False),  # signed decision documents, in order
    sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
)

# The lifecycle of every subscription, catalog and requested alike, once the bus has seen
# it: active (receiving), suspended (paused, holds nothing back), ended (for good). The
# initial load: `load_id` names it (the `stage_id` of its rows in `deliveries`), `load_parts`
# lists the snapshot parts it delivers, `since_seq` is the last stage it holds (it receives
# the stages after it), `loaded_at` is set once every part is delivered.
subscription_lifecycle = sa.Table(
    "subscription_lifecycle",
    METADATA,
    sa.Column("subscription_id", sa.String(128), primary_key=True),
    sa.Column("dataset", sa.String(128), nullable=False, index=True),
    sa.Column("origin", sa.String(16), nullable=False),  # catalog | request
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("activated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("since_seq", sa.Integer, nullable=False),
    sa.Column("load_id", sa.String(160), nullable=True),
    sa.Column("load_parts", sa.JSON, nullable=True),
    sa.Column("load_since", sa.String(64), nullable=True),  # a backfill's --since, ISO text
    sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("reason", sa.String(256), nullable=True),
)

# Each dataset's compacted snapshot: its current state (the newest version of every key,
# every row for a dataset without keys) as of its last committed stage `seq`, kept as
# Parquet parts in the staging area so that a subscriber activated later receives the
# history (ADR 0006). `parts`: [{"name", "rows", "fingerprint"}]. `complete` is false when
# stages were committed before snapshots existed: their rows are not in it.
dataset_snapshots = sa.Table(
    "dataset_snapshots",
    METADATA,
    sa.Column("dataset", sa.String(128), primary_key=True),
    sa.Column("seq", sa.Integer, nullable=False),
    sa.Column("parts", sa.JSON, nullable=False),
    sa.Column("rows", sa.BigInteger, nullable=False),
    sa.Column("complete", sa.Boolean, nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

# What each alert condition last did (`exchange.ops.alert_memory`), so a condition that
# keeps firing is sent again only after the repeat interval, and once when it resolves.
# `fingerprint`: SHA-256 of kind, dataset, step and subscription (what the alert is about,
# never a value); `held`: occurrences not sent since `last_sent_at`.
alert_notices = sa.Table(
    "alert_notices",
    METADATA,
    sa.Column("fingerprint", sa.String(64), primary_key=True),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("dataset", sa.String(128), nullable=True),
    sa.Column("step", sa.String(16), nullable=True),
    sa.Column("subscription_id", sa.String(128), nullable=True),
    sa.Column("first_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("last_sent_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("held", sa.Integer, nullable=False),
    sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
)
