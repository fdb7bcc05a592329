"""audit/'s tables in the bus's state database: the ledger, its checkpoints and tiles, the access index.

The exchange creates them with the other parts' tables (`AUDIT_METADATA`, through the
state database's Alembic migrations). Every function that writes takes a
`sa.Connection`, so the caller decides the transaction: a ledger entry commits together
with the delivery checkpoint it describes.

`ledger` and `ledger_checkpoints` are append-only by contract: nothing in audit/ updates
or deletes their rows, and `Ledger.verify` detects anyone who does.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import mysql

from govbus.sqltypes import UtcDateTime

__all__ = [
    "AUDIT_METADATA",
    "access_deliveries",
    "access_index",
    "ledger",
    "ledger_checkpoints",
    "ledger_cosignatures",
    "ledger_tiles",
    "subject_set_buckets",
    "subject_sets",
]

AUDIT_METADATA = sa.MetaData()

ledger = sa.Table(
    "ledger",
    AUDIT_METADATA,
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
    AUDIT_METADATA,
    sa.Column(
        "number", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=False
    ),  # 1, 2, ... in the order they were taken
    sa.Column("tree_size", sa.BigInteger, nullable=False),
    sa.Column("root", sa.String(64), nullable=False),  # hex RFC 6962 root
    sa.Column("at", UtcDateTime, nullable=False),
    sa.Column("key_id", sa.String(16), nullable=False),
    sa.Column("signature", sa.String(128), nullable=False),  # hex Ed25519 over the message
    # The C2SP signed note (migration 0009; null on checkpoints taken before): its origin
    # line (also the key name) and the base64 value of the bus's note signature line.
    sa.Column("origin", sa.String(255), nullable=True),
    sa.Column("note_signature", sa.String(128), nullable=True),
)

# Witnesses' cosignatures (C2SP tlog-cosignature v1) of checkpoints' notes, recorded by
# the operator with `govbus audit witness add` after checking them against the
# catalog's witness keys (migration 0009). Append-only; a verifier re-checks each.
ledger_cosignatures = sa.Table(
    "ledger_cosignatures",
    AUDIT_METADATA,
    sa.Column("checkpoint_number", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("witness", sa.String(255), primary_key=True),  # the witness's key name
    sa.Column("key_hash", sa.String(8), primary_key=True),  # hex 4-byte key hash
    sa.Column("cosigned_at", sa.BigInteger, nullable=False),  # the witness's Unix time (signed)
    sa.Column("signature", sa.String(128), nullable=False),  # base64 value of the signature line
    sa.Column("recorded_at", UtcDateTime, nullable=False),
)

# Tiles of the ledger's RFC 6962 tree (audit.ledger.tiles): row (height, tile_index)
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
    AUDIT_METADATA,
    sa.Column("height", sa.SmallInteger, primary_key=True, autoincrement=False),
    sa.Column("tile_index", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("root", sa.String(64), nullable=False),
    sqlite_with_rowid=False,
)

# Who received whose data, by audit pseudonym (HMAC under the audit key), never the raw
# id: one row per (bucket, delivery) holding that delivery's subjects in the bucket
# (audit.access_index explains why). Written in the delivery's transaction, so it
# always agrees with the ledger entry it points to.
access_index = sa.Table(
    "access_index",
    AUDIT_METADATA,
    sa.Column("bucket", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("ledger_seq", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("refs", sa.LargeBinary().with_variant(mysql.LONGBLOB(), "mysql", "mariadb"), nullable=False),
    # A rowid table on SQLite (migration 0006): rows of a few KiB are appended, not slotted in.
)

_BLOB = sa.LargeBinary().with_variant(mysql.LONGBLOB(), "mysql", "mariadb")

# The subjects of one staged segment, written once when it is staged and shared by every
# delivery of it (audit.subject_sets explains why; ADR 0007). `stage_id`/`segment` name the
# segment while the set is its current one; both are NULL for a set built by a delivery
# for itself, and once erasure rewrote the segment (the set stays for the deliveries that
# drew from it). `row_subjects`: per row of the segment, its subject's index in the set
# (int32 little-endian, -1 for none).
subject_sets = sa.Table(
    "subject_sets",
    AUDIT_METADATA,
    sa.Column("set_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("stage_id", sa.String(128), nullable=True),
    sa.Column("segment", sa.Integer, nullable=True),
    sa.Column("row_count", sa.Integer, nullable=False),
    sa.Column("subjects", sa.Integer, nullable=False),
    sa.Column("row_subjects", _BLOB, nullable=False),
    sa.Index("ix_subject_sets_piece", "stage_id", "segment"),
)

# A set's subjects by bucket: the keys (32 bytes each) of the bucket's subjects in set
# order, and the set index of the first of them.
subject_set_buckets = sa.Table(
    "subject_set_buckets",
    AUDIT_METADATA,
    sa.Column("bucket", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("set_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("first_index", sa.Integer, nullable=False),
    sa.Column("refs", _BLOB, nullable=False),
)

# Which of a set's subjects one delivery (ledger entry) carried: bit i (little-endian bit
# order) of `bits` for the set's subject i. Written in the delivery's transaction.
access_deliveries = sa.Table(
    "access_deliveries",
    AUDIT_METADATA,
    sa.Column("ledger_seq", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("set_id", sa.Integer, nullable=False),
    sa.Column("subjects", sa.Integer, nullable=False),
    sa.Column("bits", _BLOB, nullable=False),
    sa.Index("ix_access_deliveries_set", "set_id"),
)
