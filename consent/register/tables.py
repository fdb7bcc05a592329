"""consent/'s own tables in the bus's state database.

The exchange creates them with `CONSENT_METADATA.create_all(engine)` (or an Alembic
migration generated from this metadata). Every function that writes takes a
`sa.Connection`, so the caller decides the transaction: a ledger entry commits together
with the checkpoint it describes.

`consent_events`, `ledger` and `ledger_checkpoints` are append-only by contract: nothing
in consent/ updates or deletes their rows, and `Ledger.verify` detects anyone who does.
"""

from __future__ import annotations

import sqlalchemy as sa

from govbus.sqltypes import UtcDateTime

CONSENT_METADATA = sa.MetaData()


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
    # Who expressed it (ISO/IEC TS 27560's event actor): pii-principal (the citizen),
    # operator (on the citizen's or an authority's word), bus (an expiry); null: not recorded.
    sa.Column("expressed_by", sa.String(32), nullable=True),
    sa.Index("ix_consent_events_consent", "consent_id"),
)
