"""The purge register: erasure instructions issued to recipients, and their confirmations.

What a caller must know:

* A purge tells one recipient, for one subscription, to erase what the bus delivered to
  it: one subject's rows (a consent revoked with an erasure request, an erasure order)
  or, with no subject, everything the listed batches held (the subscription's statute
  ended). It covers a set of deliveries, named by their ledger seqs and batch ids.
* Nothing here holds a raw subject id or a recipient's pseudonym: a purge keeps the
  subject's audit pseudonym (`subject_ref`), the column the recipient deletes by, the
  pseudonym key ids involved and the SHA-256 of the instruction last sent. The
  instruction itself (which must name the subject to the recipient) exists only in the
  recipient's system; it carries a random nonce, so its hash reveals nothing about the
  subject even for identifiers few enough to enumerate.
* Statuses: `issued` (recorded, not delivered: a crash, or a channel the bus cannot
  reach), `delivered` (a tombstone lies in the recipient's folder, awaiting the
  recipient's confirmation), `confirmed` (the bus deleted the rows itself, or the
  recipient confirmed). Each step is a ledger entry written in the caller's transaction:
  `purge.issued`, `purge.delivered`, `purge.confirmed` (ids, audit pseudonyms, counts).
* Channels: `delete` (the bus deletes through the sink), `tombstone` (a signed file in
  the recipient's delivery folder), `manual` (the operator tells the recipient).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from audit import DeliveryEntry, Ledger, ledger_table
from consent.register.tables import CONSENT_METADATA
from consent.register.terms import consent_id_checked, evidence_checked
from govbus.errors import BadInput
from govbus.instants import iso_utc, utc_now
from govbus.sqltypes import UtcDateTime

ISSUED, DELIVERED, CONFIRMED = "issued", "delivered", "confirmed"
PURGE_STATUSES = (ISSUED, DELIVERED, CONFIRMED)
DELETE, TOMBSTONE, MANUAL = "delete", "tombstone", "manual"
CHANNELS = (DELETE, TOMBSTONE, MANUAL)
# Why a purge was issued.
CONSENT_REVOKED, ERASURE_ORDER, STATUTE_ENDED = "consent-revoked", "erasure-order", "statute-ended"
# A consent's `data_life` (how long the recipient may keep what it received) has elapsed.
DATA_LIFE_ENDED = "data-life-ended"
REASONS = (CONSENT_REVOKED, ERASURE_ORDER, STATUTE_ENDED, DATA_LIFE_ENDED)
_IN_CHUNK = 500

purges = sa.Table(
    "purges",
    CONSENT_METADATA,
    sa.Column("purge_id", sa.String(36), primary_key=True),
    # One erasure request (or statute end) issues one purge per subscription concerned.
    sa.Column("request_id", sa.String(36), nullable=False),
    sa.Column("reason", sa.String(32), nullable=False),
    sa.Column("consent_id", sa.String(36), nullable=True),
    sa.Column("statute", sa.String(128), nullable=True),
    # Audit pseudonym of the subject; null when the purge covers every subject.
    sa.Column("subject_ref", sa.String(64), nullable=True),
    sa.Column("recipient", sa.String(128), nullable=False),
    sa.Column("dataset", sa.String(128), nullable=False),
    sa.Column("subscription_id", sa.String(128), nullable=False),
    sa.Column("channel", sa.String(16), nullable=False),
    # The column the recipient deletes by (subject field or pseudonym column), if any.
    sa.Column("match_field", sa.String(128), nullable=True),
    sa.Column("pseudonym_key_ids", sa.Text, nullable=False),  # canonical JSON list
    sa.Column("batches", sa.Text, nullable=False),  # canonical JSON [[ledger_seq, batch_id], ...]
    sa.Column("issued_at", UtcDateTime, nullable=False),
    sa.Column("instruction_sha256", sa.String(64), nullable=False),  # of the last one sent
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("delivered_at", UtcDateTime, nullable=True),
    sa.Column("confirmed_at", UtcDateTime, nullable=True),
    sa.Column("confirmed_by", sa.String(16), nullable=True),  # bus | recipient
    sa.Column("rows_deleted", sa.BigInteger, nullable=True),  # when the bus deleted them
    sa.Column("evidence", sa.Text, nullable=False, default=""),  # reference to the confirmation
    sa.Index("ix_purges_subject", "subject_ref"),
    sa.Index("ix_purges_subscription", "subscription_id"),
    sa.Index("ix_purges_status", "status", "recipient"),
)


@dataclass(frozen=True)
class Purge:
    """One purge instruction's record (what the bus keeps: never the subject's id)."""

    purge_id: str
    request_id: str
    reason: str
    recipient: str
    dataset: str
    subscription: str
    channel: str
    batches: tuple[tuple[int, str], ...]  # (ledger seq, batch id) of the deliveries covered
    issued_at: datetime
    subject_ref: str | None = None
    match_field: str | None = None
    pseudonym_key_ids: tuple[str, ...] = ()
    consent_id: str | None = None
    statute: str | None = None
    status: str = ISSUED
    instruction_sha256: str = ""
    delivered_at: datetime | None = None
    confirmed_at: datetime | None = None
    confirmed_by: str | None = None
    rows_deleted: int | None = None
    evidence: str = ""

    @property
    def ledger_seqs(self) -> list[int]:
        """The ledger entries (deliveries) the purge covers."""
        return [seq for seq, _ in self.batches]

    @property
    def pending(self) -> bool:
        """True until the recipient (or the bus) confirmed the purge."""
        return self.status != CONFIRMED


def _purge(row: Any) -> Purge:
    return Purge(
        purge_id=row.purge_id,
        request_id=row.request_id,
        reason=row.reason,
        recipient=row.recipient,
        dataset=row.dataset,
        subscription=row.subscription_id,
        channel=row.channel,
        batches=tuple((int(s), b) for s, b in json.loads(row.batches)),
        issued_at=row.issued_at,
        subject_ref=row.subject_ref,
        match_field=row.match_field,
        pseudonym_key_ids=tuple(json.loads(row.pseudonym_key_ids)),
        consent_id=row.consent_id,
        statute=row.statute,
        status=row.status,
        instruction_sha256=row.instruction_sha256,
        delivered_at=row.delivered_at,
        confirmed_at=row.confirmed_at,
        confirmed_by=row.confirmed_by,
        rows_deleted=row.rows_deleted,
        evidence=row.evidence,
    )


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def delivery_entries(conn: sa.Connection, seqs: Iterable[int]) -> dict[int, DeliveryEntry]:
    """The `delivery` ledger entries at `seqs`, typed (other kinds and absent seqs are skipped).

    An entry of kind `delivery` without the delivery shape raises `FatalError` naming the
    entry and the key (see `audit.DeliveryEntry.from_payload`).
    """
    wanted = sorted(set(seqs))
    found: dict[int, DeliveryEntry] = {}
    for start in range(0, len(wanted), _IN_CHUNK):
        rows = conn.execute(
            sa.select(ledger_table.c.seq, ledger_table.c.payload).where(
                ledger_table.c.seq.in_(wanted[start : start + _IN_CHUNK]),
                ledger_table.c.kind == DeliveryEntry.KIND,
            )
        )
        found.update(
            (row.seq, DeliveryEntry.from_payload(json.loads(row.payload), seq=row.seq)) for row in rows
        )
    return found


class PurgeRegister:
    """Record, deliver, confirm and list purges; every change is also a ledger entry."""

    def __init__(self, ledger: Ledger) -> None:
        self._ledger = ledger

    def __repr__(self) -> str:
        return "PurgeRegister()"

    def issue(self, conn: sa.Connection, purge: Purge) -> Purge:
        """Record a new purge (status issued) and log `purge.issued`; returns it as stored."""
        if purge.reason not in REASONS or purge.channel not in CHANNELS:
            raise BadInput(
                "purge reason or channel is unknown",
                where="purge",
                hint=f"reasons: {', '.join(REASONS)}; channels: {', '.join(CHANNELS)}",
            )
        if not purge.batches:
            raise BadInput("a purge must cover at least one delivery", where="purge.batches")
        if purge.consent_id is not None:
            consent_id_checked(purge.consent_id)
        stored = replace(
            purge,
            status=ISSUED,
            delivered_at=None,
            confirmed_at=None,
            confirmed_by=None,
            rows_deleted=None,
            evidence="",
        )
        conn.execute(
            purges.insert().values(
                purge_id=stored.purge_id,
                request_id=stored.request_id,
                reason=stored.reason,
                consent_id=stored.consent_id,
                statute=stored.statute,
                subject_ref=stored.subject_ref,
                recipient=stored.recipient,
                dataset=stored.dataset,
                subscription_id=stored.subscription,
                channel=stored.channel,
                match_field=stored.match_field,
                pseudonym_key_ids=_json(list(stored.pseudonym_key_ids)),
                batches=_json([list(b) for b in stored.batches]),
                issued_at=stored.issued_at,
                instruction_sha256=stored.instruction_sha256,
                status=ISSUED,
                evidence="",
            )
        )
        self._ledger.append(
            conn,
            "purge.issued",
            {
                "purge_id": stored.purge_id,
                "request_id": stored.request_id,
                "reason": stored.reason,
                "consent_id": stored.consent_id,
                "statute": stored.statute,
                "subject_ref": stored.subject_ref,
                "recipient": stored.recipient,
                "dataset": stored.dataset,
                "subscription": stored.subscription,
                "channel": stored.channel,
                "match_field": stored.match_field,
                "ledger_seqs": stored.ledger_seqs,
                "issued_at": iso_utc(stored.issued_at),
                "instruction_sha256": stored.instruction_sha256,
            },
        )
        return stored

    def mark_delivered(
        self, conn: sa.Connection, purge_id: str, *, instruction_sha256: str, file: str
    ) -> bool:
        """A tombstone was written (`file`, its name); False if it was past `issued` already."""
        purge = self._require(conn, purge_id)
        if purge.status != ISSUED:
            return False
        now = utc_now()
        conn.execute(
            purges.update()
            .where(purges.c.purge_id == purge.purge_id, purges.c.status == ISSUED)
            .values(status=DELIVERED, delivered_at=now, instruction_sha256=instruction_sha256)
        )
        self._ledger.append(
            conn,
            "purge.delivered",
            {
                "purge_id": purge.purge_id,
                "recipient": purge.recipient,
                "subscription": purge.subscription,
                "file": file,
                "instruction_sha256": instruction_sha256,
            },
        )
        return True

    def confirm(
        self,
        conn: sa.Connection,
        purge_id: str,
        *,
        by: str,
        rows_deleted: int | None = None,
        evidence: str = "",
        instruction_sha256: str | None = None,
        confirmation: Mapping[str, Any] | None = None,
    ) -> bool:
        """Record that the purge was carried out; False if it was confirmed already.

        `by` is `bus` (the bus deleted `rows_deleted` rows itself) or `recipient` (its
        confirmation, referenced by `evidence`: a ticket, a letter, never personal data).
        `confirmation`: the recipient's signed confirmation document, already checked by
        the caller (`consent.erasure.confirmations.check_confirmation`); the ledger entry
        carries it whole (signature and key id included; it names no subject).
        """
        if by not in ("bus", "recipient"):
            raise BadInput("a confirmation comes from the bus or the recipient", where="by")
        evidence = evidence_checked(evidence)
        purge = self._require(conn, purge_id)
        if purge.status == CONFIRMED:
            return False
        now = utc_now()
        digest = instruction_sha256 or purge.instruction_sha256
        conn.execute(
            purges.update()
            .where(purges.c.purge_id == purge.purge_id, purges.c.status == purge.status)
            .values(
                status=CONFIRMED,
                confirmed_at=now,
                confirmed_by=by,
                delivered_at=purge.delivered_at or now,
                rows_deleted=rows_deleted,
                evidence=evidence,
                instruction_sha256=digest,
            )
        )
        self._ledger.append(
            conn,
            "purge.confirmed",
            {
                "purge_id": purge.purge_id,
                "recipient": purge.recipient,
                "subscription": purge.subscription,
                "by": by,
                "rows_deleted": rows_deleted,
                "evidence": evidence,
                "instruction_sha256": digest,
                **({"confirmation": dict(confirmation)} if confirmation is not None else {}),
            },
        )
        return True

    # -- reads --------------------------------------------------------------------------

    def _require(self, conn: sa.Connection, purge_id: str) -> Purge:
        purge = self.get(conn, purge_id)
        if purge is None:
            raise BadInput(
                "no purge has this id", where="purge_id", hint="`govbus consent purges` lists them"
            )
        return purge

    def get(self, conn: sa.Connection, purge_id: str) -> Purge | None:
        """One purge by id, or None."""
        row = conn.execute(sa.select(purges).where(purges.c.purge_id == consent_id_checked(purge_id))).first()
        return None if row is None else _purge(row)

    def find(
        self,
        conn: sa.Connection,
        *,
        status: str | None = None,
        recipient: str | None = None,
        subject_ref: str | None = None,
        statute: str | None = None,
    ) -> list[Purge]:
        """Purges, oldest first; `status` is one of PURGE_STATUSES or `pending` (not confirmed)."""
        query = sa.select(purges)
        if status == "pending":
            query = query.where(purges.c.status != CONFIRMED)
        elif status is not None:
            if status not in PURGE_STATUSES:
                raise BadInput(
                    "unknown purge status",
                    where="status",
                    hint=f"one of pending, {', '.join(PURGE_STATUSES)}",
                )
            query = query.where(purges.c.status == status)
        if recipient is not None:
            query = query.where(purges.c.recipient == recipient)
        if subject_ref is not None:
            query = query.where(purges.c.subject_ref == subject_ref)
        if statute is not None:
            query = query.where(purges.c.statute == statute)
        rows = conn.execute(query.order_by(purges.c.issued_at, purges.c.purge_id)).all()
        return [_purge(row) for row in rows]

    def covered(self, conn: sa.Connection, subscription: str, subject_ref: str | None) -> set[int]:
        """Ledger seqs of `subscription` already covered for `subject_ref` (None: for everyone).

        A purge of every subject covers each subject too; a subject's purge covers only them.
        """
        query = sa.select(purges.c.batches).where(purges.c.subscription_id == subscription)
        whom = purges.c.subject_ref.is_(None)
        if subject_ref is not None:
            whom = sa.or_(whom, purges.c.subject_ref == subject_ref)
        return {int(seq) for text in conn.execute(query.where(whom)).scalars() for seq, _ in json.loads(text)}


def seqs_and_batches(pairs: Sequence[tuple[int, str]]) -> tuple[tuple[int, str], ...]:
    """(ledger seq, batch id) pairs, unique and in seq order (how a Purge stores them)."""
    return tuple(sorted({(int(seq), str(batch)) for seq, batch in pairs}))
