"""The consent register: subjects' consents to send their data to a recipient for a purpose.

What a caller must know:

* The register never stores a raw subject id: it keeps `subject_ref`, the HMAC of the id
  under the audit key (`KeyStore.audit_key()`). Compute the refs of a batch with
  `subject_refs(column)`; they equal `subject_ref(id)` value by value.
* Every method that writes takes a `sa.Connection` and does not commit: the caller's
  transaction decides. With a `Ledger`, each grant and revocation is also logged there in
  the same transaction (ids and audit pseudonyms only; the evidence text stays here).
* History is queryable: `active(at=...)` answers for any instant, using valid_from,
  valid_until (exclusive) and revoked_at, so replaying an old stage decides as it did then.
* `evidence` is a reference to the signed form or channel, not personal data.
"""

from __future__ import annotations

import hmac
import json
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa

from consent.instants import as_utc, utc_now
from consent.legal_bases import FIELD_NAME, NAME, PURPOSE_CODE
from consent.pseudonyms import pseudonymize
from consent.tables import consent_events, consents
from govbus.errors import BadConfiguration, BadInput

if TYPE_CHECKING:
    from consent.ledger import Ledger

ACTIVE, REVOKED, EXPIRED = "ACTIVE", "REVOKED", "EXPIRED"
ACTIVE_SCHEMA = pa.schema([("subject_ref", pa.string()), ("consent_id", pa.string())])


@dataclass(frozen=True)
class ConsentRecord:
    """One consent as a citizen or auditor sees it (no raw subject id)."""

    consent_id: str
    subject_ref: str
    recipient: str
    dataset: str
    purpose: str
    fields: tuple[str, ...]
    valid_from: datetime
    valid_until: datetime | None
    status: str
    revoked_at: datetime | None
    evidence: str
    version: int
    created_at: datetime


def _checked(value: object, name: str, pattern: re.Pattern[str]) -> str:
    if not isinstance(value, str) or not pattern.match(value):
        raise BadInput(f"{name} is missing or malformed", where=name,
                       hint=f"use a value matching {pattern.pattern}")
    return value


def _fields_json(fields: Sequence[str]) -> str:
    if isinstance(fields, str) or not fields:
        raise BadInput("fields must be a non-empty list of field names", where="fields")
    for name in fields:
        _checked(name, "fields", FIELD_NAME)
    return json.dumps(sorted(set(fields)), separators=(",", ":"))


class ConsentRegister:
    """Grant, revoke, expire and look up consents (tables `consents`, `consent_events`)."""

    def __init__(self, audit_key: bytes, *, ledger: Ledger | None = None) -> None:
        if not isinstance(audit_key, bytes) or len(audit_key) < 16:
            raise BadConfiguration("the audit key must be at least 16 bytes",
                                   where="ConsentRegister(audit_key)",
                                   hint="pass KeyStore.audit_key()")
        self._key = audit_key
        self._ledger = ledger

    def __repr__(self) -> str:
        return f"ConsentRegister(ledger={self._ledger is not None})"

    def subject_ref(self, subject_id: str) -> str:
        """Audit pseudonym of one subject id (64 hex digits)."""
        if not isinstance(subject_id, str) or not subject_id:
            raise BadInput("subject id must be a non-empty string", where="subject_id")
        return hmac.digest(self._key, subject_id.encode("utf-8"), "sha256").hex()

    def subject_refs(self, values: pa.Array | pa.ChunkedArray) -> pa.Array:
        """Audit pseudonyms of a whole column of subject ids (nulls stay null)."""
        return pseudonymize(values, self._key)

    def _event(self, conn: sa.Connection, consent_id: str, event: str, at: datetime) -> None:
        conn.execute(consent_events.insert().values(
            consent_id=consent_id, event=event, at=at, recorded_at=utc_now()))

    def grant(self, conn: sa.Connection, subject_id: str, recipient: str, dataset: str,
              purpose: str, fields: Sequence[str], valid_from: datetime | None = None,
              valid_until: datetime | None = None, evidence: str = "") -> str:
        """Record a given consent and return its id; valid_from defaults to now."""
        ref = self.subject_ref(subject_id)
        _checked(recipient, "recipient", NAME)
        _checked(dataset, "dataset", NAME)
        _checked(purpose, "purpose", PURPOSE_CODE)
        fields_json = _fields_json(fields)
        if not isinstance(evidence, str):
            raise BadInput("evidence must be text", where="evidence")
        now = utc_now()
        start = as_utc(valid_from) if valid_from is not None else now
        end = as_utc(valid_until) if valid_until is not None else None
        if end is not None and end <= start:
            raise BadInput("valid_until must be after valid_from", where="valid_until")
        consent_id = str(uuid.uuid4())
        conn.execute(consents.insert().values(
            consent_id=consent_id, subject_ref=ref, recipient=recipient, dataset=dataset,
            purpose=purpose, fields=fields_json, valid_from=start, valid_until=end,
            status=ACTIVE, revoked_at=None, evidence=evidence, version=1, created_at=now))
        self._event(conn, consent_id, "given", now)
        if self._ledger is not None:
            self._ledger.append(conn, "consent.given", {
                "consent_id": consent_id, "subject_ref": ref, "recipient": recipient,
                "dataset": dataset, "purpose": purpose, "fields": json.loads(fields_json),
                "valid_from": start.isoformat(),
                "valid_until": end.isoformat() if end is not None else None})
        return consent_id

    def revoke(self, conn: sa.Connection, consent_id: str, at: datetime | None = None) -> bool:
        """Revoke a consent from `at` (default now); False if it was already revoked.

        An unknown consent id is a BadInput. Revoking is idempotent so a retry is safe.
        """
        when = as_utc(at) if at is not None else utc_now()
        result = conn.execute(
            consents.update()
            .where(consents.c.consent_id == consent_id, consents.c.status != REVOKED)
            .values(status=REVOKED, revoked_at=when, version=consents.c.version + 1))
        if result.rowcount == 0:
            exists = conn.execute(sa.select(consents.c.consent_id)
                                  .where(consents.c.consent_id == consent_id)).first()
            if exists is None:
                raise BadInput("no consent has this id", where="consent_id",
                               hint="list the subject's consents to find the id")
            return False
        self._event(conn, consent_id, "revoked", when)
        if self._ledger is not None:
            self._ledger.append(conn, "consent.revoked",
                                {"consent_id": consent_id, "at": when.isoformat()})
        return True

    def expire_due(self, conn: sa.Connection, at: datetime | None = None) -> int:
        """Mark ACTIVE consents whose valid_until has passed as EXPIRED; returns how many.

        Housekeeping only: `active` already ignores them by time.
        """
        when = as_utc(at) if at is not None else utc_now()
        due = [row.consent_id for row in conn.execute(
            sa.select(consents.c.consent_id).where(
                consents.c.status == ACTIVE, consents.c.valid_until.is_not(None),
                consents.c.valid_until <= when))]
        for start in range(0, len(due), 500):
            chunk = due[start:start + 500]
            conn.execute(consents.update().where(consents.c.consent_id.in_(chunk),
                                                 consents.c.status == ACTIVE)
                         .values(status=EXPIRED, version=consents.c.version + 1))
            recorded = utc_now()
            conn.execute(consent_events.insert(), [
                {"consent_id": cid, "event": "expired", "at": when, "recorded_at": recorded}
                for cid in chunk])
        return len(due)

    def active(self, conn: sa.Connection, *, recipient: str, dataset: str, purpose: str,
               fields: Sequence[str], at: datetime) -> pa.Table:
        """Consents in force at `at` for (recipient, dataset, purpose) covering all `fields`.

        Returns a table (subject_ref: string, consent_id: string), one row per consent.
        """
        when = as_utc(at)
        wanted = set(json.loads(_fields_json(fields)))
        rows = conn.execute(
            sa.select(consents.c.subject_ref, consents.c.consent_id, consents.c.fields)
            .where(consents.c.recipient == recipient, consents.c.dataset == dataset,
                   consents.c.purpose == purpose, consents.c.valid_from <= when,
                   sa.or_(consents.c.valid_until.is_(None), consents.c.valid_until > when),
                   sa.or_(consents.c.revoked_at.is_(None), consents.c.revoked_at > when))
            .order_by(consents.c.subject_ref, consents.c.created_at)).all()
        if not rows:
            return ACTIVE_SCHEMA.empty_table()
        refs, ids, field_sets = zip(*rows, strict=True)
        field_col = pa.array(field_sets, pa.string())
        # Consents share few distinct field lists: check each distinct list once.
        covering = [text for text in pc.unique(field_col).to_pylist()
                    if wanted <= set(json.loads(text))]
        keep = pc.is_in(field_col, value_set=pa.array(covering, pa.string()))
        table = pa.table([pa.array(refs, pa.string()), pa.array(ids, pa.string())],
                         schema=ACTIVE_SCHEMA)
        return table.filter(keep)

    def list_for_subject(self, conn: sa.Connection, subject_id: str) -> list[ConsentRecord]:
        """Every consent of one subject, oldest first (for a citizen's receipt)."""
        ref = self.subject_ref(subject_id)
        rows = conn.execute(sa.select(consents).where(consents.c.subject_ref == ref)
                            .order_by(consents.c.created_at, consents.c.consent_id)).all()
        return [ConsentRecord(
            consent_id=row.consent_id, subject_ref=row.subject_ref, recipient=row.recipient,
            dataset=row.dataset, purpose=row.purpose, fields=tuple(json.loads(row.fields)),
            valid_from=row.valid_from, valid_until=row.valid_until, status=row.status,
            revoked_at=row.revoked_at, evidence=row.evidence, version=row.version,
            created_at=row.created_at) for row in rows]

    def events(self, conn: sa.Connection, consent_id: str) -> list[tuple[str, datetime]]:
        """The consent's history as (event, effective at), in the order it was recorded."""
        rows = conn.execute(sa.select(consent_events.c.event, consent_events.c.at)
                            .where(consent_events.c.consent_id == consent_id)
                            .order_by(consent_events.c.event_id)).all()
        return [(row.event, row.at) for row in rows]
