"""consent/'s own tables in the bus's state database.

The exchange creates them with `CONSENT_METADATA.create_all(engine)` (or an Alembic
migration generated from this metadata). Every function that writes takes a
`sa.Connection`, so the caller decides the transaction: a ledger entry commits together
with the checkpoint it describes.

`consent_events`, `ledger` and `ledger_checkpoints` are append-only by contract: nothing
in consent/ updates or deletes their rows, and `Ledger.verify` detects anyone who does.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import mysql
from sqlalchemy.engine import Dialect

from consent.instants import as_utc

CONSENT_METADATA = sa.MetaData()


class UtcDateTime(sa.types.TypeDecorator[datetime]):
    """A timestamp stored as UTC and read back as an aware UTC datetime.

    SQLite keeps no zone (values are written in UTC, so text order is time order);
    PostgreSQL uses timestamptz; MySQL/MariaDB keep microseconds (fsp=6).
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> sa.types.TypeEngine[Any]:
        if dialect.name in ("mysql", "mariadb"):
            return dialect.type_descriptor(mysql.DATETIME(fsp=6))
        return dialect.type_descriptor(sa.DateTime(timezone=True))

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        value = as_utc(value)
        return value.replace(tzinfo=None) if dialect.name in ("sqlite", "mysql", "mariadb") else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else as_utc(value)


consents = sa.Table(
    "consents",
    CONSENT_METADATA,
    sa.Column("consent_id", sa.String(36), primary_key=True),
    # HMAC of the subject id under the audit key: never the raw identifier.
    sa.Column("subject_ref", sa.String(64), nullable=False),
    sa.Column("recipient", sa.String(128), nullable=False),
    sa.Column("dataset", sa.String(128), nullable=False),
    sa.Column("purpose", sa.String(64), nullable=False),
    sa.Column("fields", sa.Text, nullable=False),  # canonical JSON list, sorted
    sa.Column("valid_from", UtcDateTime, nullable=False),
    sa.Column("valid_until", UtcDateTime, nullable=True),  # exclusive
    sa.Column("status", sa.String(16), nullable=False),  # ACTIVE PAUSED REVOKED EXPIRED
    sa.Column("revoked_at", UtcDateTime, nullable=True),
    # DEPA "dataLife": how long the recipient may keep what it received (ISO 8601
    # duration such as P1Y; null: not stated, the purpose's own retention applies).
    sa.Column("data_life", sa.String(64), nullable=True),
    # DEPA "frequency": ONCE, or an ISO 8601 duration between fetches (P1D); null: any.
    sa.Column("frequency", sa.String(64), nullable=True),
    # ISO/IEC TS 27560 / Kantara "collection method" (web-form, paper-form, counter, ...)
    sa.Column("collection_method", sa.String(64), nullable=False, default=""),
    sa.Column("evidence", sa.Text, nullable=False, default=""),  # a reference, not the form
    sa.Column("version", sa.Integer, nullable=False),  # +1 on every event after "given"
    sa.Column("created_at", UtcDateTime, nullable=False),  # when the bus recorded it
    sa.Column("updated_at", UtcDateTime, nullable=False),  # when `version` was recorded
    sa.Index("ix_consents_lookup", "recipient", "dataset", "purpose", "valid_from"),
    sa.Index("ix_consents_subject", "subject_ref"),
)

consent_events = sa.Table(
    "consent_events",
    CONSENT_METADATA,
    sa.Column(
        "event_id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True
    ),  # insertion order
    sa.Column("consent_id", sa.String(36), sa.ForeignKey("consents.consent_id"), nullable=False),
    # given / paused / resumed / revoked / expired
    sa.Column("event", sa.String(16), nullable=False),
    sa.Column("at", UtcDateTime, nullable=False),  # when it takes effect
    sa.Column("recorded_at", UtcDateTime, nullable=False),  # when it was written
    sa.Column("version", sa.Integer, nullable=False),  # the consent's version after it
    sa.Index("ix_consent_events_consent", "consent_id"),
)

ledger = sa.Table(
    "ledger",
    CONSENT_METADATA,
    sa.Column(
        "seq", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=False
    ),
    sa.Column("at", UtcDateTime, nullable=False),
    sa.Column("kind", sa.String(64), nullable=False),
    sa.Column("payload", sa.Text, nullable=False),  # canonical JSON
    sa.Column("prev_hash", sa.String(64), nullable=False),
    sa.Column("entry_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("key_id", sa.String(16), nullable=False),
    sa.Column("signature", sa.String(128), nullable=False),
)

# Signed tree heads of the ledger (RFC 6962 size + root), appended at least once per run.
# Append-only like `ledger`: `Ledger.verify` checks each against the entries it covers.
ledger_checkpoints = sa.Table(
    "ledger_checkpoints",
    CONSENT_METADATA,
    sa.Column(
        "number", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=False
    ),  # 1, 2, ... in the order they were taken
    sa.Column("tree_size", sa.BigInteger, nullable=False),
    sa.Column("root", sa.String(64), nullable=False),  # hex RFC 6962 root
    sa.Column("at", UtcDateTime, nullable=False),
    sa.Column("key_id", sa.String(16), nullable=False),
    sa.Column("signature", sa.String(128), nullable=False),  # hex Ed25519 over the message
)

# Tiles of the ledger's RFC 6962 tree (consent.ledger_tiles): row (height, tile_index)
# holds the root of the complete, aligned subtree over the entries with seq in
# [tile_index·2^height + 1, (tile_index+1)·2^height]; the bus stores heights 8, 16, 24...
# (256, 65,536, ... entries), so tree heads and proofs read O(256 × levels) hashes.
# Keyed by height (log2 of the entries covered), not a level number, so a row means the
# same whatever tile width wrote it. The root is 64-hex text like `ledger.entry_hash`
# and `ledger_checkpoints.root`: an auditor compares them in plain SQL, and at one row
# per 256 entries the 32 bytes that raw binary would save do not matter.
# A cache of what the entries determine: append-only, written by checkpoints, never
# trusted by a verifier (`Ledger.verify` names a tile that disagrees with the entries).
ledger_tiles = sa.Table(
    "ledger_tiles",
    CONSENT_METADATA,
    sa.Column("height", sa.SmallInteger, primary_key=True, autoincrement=False),
    sa.Column("tile_index", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("root", sa.String(64), nullable=False),
    sqlite_with_rowid=False,
)
