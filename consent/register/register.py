"""The consent register: subjects' consents to send their data to a recipient for a purpose.

What a caller must know:

* The register never stores a raw subject id: it keeps `subject_ref`, the HMAC of the id
  under the audit key (`KeyStore.audit_key()`). Compute the refs of a batch with
  `subject_refs(column)`; they equal `subject_ref(id)` value by value.
* Every method that writes takes a `sa.Connection` and does not commit: the caller's
  transaction decides. With a `Ledger`, each grant, pause, resume and revocation is also
  logged there in the same transaction (ids and audit pseudonyms only; evidence stays here).
* A method that refuses (BadInput) has written nothing, so a caller may go on in the
  same transaction (the CSV import relies on it).
* History is queryable: `timeline(...)` / `active(at=...)` answer for any instant from
  valid_from, valid_until (exclusive), pause windows and the revocation instant; with
  `known_at` they use only what the register had recorded by then (a faithful replay of
  a past decision, even if a revocation was later entered with an earlier effect).
* Changes of one consent take effect in order: a pause, resume or revocation cannot take
  effect before the consent's previous pause, resume or revocation.
"""

from __future__ import annotations

import hmac
import json
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import sqlalchemy as sa

from consent.protect.pseudonyms import pseudonymize
from consent.register.expiry import expire_due
from consent.register.legal_bases import NAME, PURPOSE_CODE
from consent.register.reads import CHANGE_EVENTS, consent_history, consent_record, load_timeline
from consent.register.tables import consent_events, consents
from consent.register.terms import (
    ACTIVE,
    EXPIRED,
    GIVEN,
    PAUSED,
    PAUSED_EVENT,
    PRINCIPAL,
    RESUMED,
    REVOKED,
    REVOKED_EVENT,
    ConsentEvent,
    ConsentRecord,
    actor_checked,
    checked,
    collection_method_checked,
    consent_id_checked,
    data_life_or_none,
    evidence_checked,
    fields_json,
    frequency_or_none,
)
from consent.register.timeline import ACTIVE_SCHEMA, ConsentTimeline
from govbus.errors import BadConfiguration, BadInput
from govbus.instants import as_utc, utc_now

if TYPE_CHECKING:
    from audit import Ledger

# (event, statuses it applies to, status after, status that makes it a no-op)
_CHANGES = {
    PAUSED_EVENT: ((ACTIVE,), PAUSED, PAUSED),
    RESUMED: ((PAUSED,), ACTIVE, ACTIVE),
    REVOKED_EVENT: ((ACTIVE, PAUSED, EXPIRED), REVOKED, REVOKED),
}
assert tuple(_CHANGES) == CHANGE_EVENTS  # the timeline reads exactly the events `_change` writes


class ConsentRegister:
    """Grant, pause, resume, revoke, expire and look up consents."""

    def __init__(self, audit_key: bytes, *, ledger: Ledger | None = None) -> None:
        if not isinstance(audit_key, bytes) or len(audit_key) < 16:
            raise BadConfiguration(
                "the audit key must be at least 16 bytes",
                where="ConsentRegister(audit_key)",
                hint="pass KeyStore.audit_key()",
            )
        self._key = audit_key
        self._ledger = ledger

    def __repr__(self) -> str:
        return f"ConsentRegister(ledger={self._ledger is not None})"

    def subject_ref(self, subject_id: str) -> str:
        """Audit pseudonym of one subject id (64 hex digits)."""
        if not isinstance(subject_id, str) or not subject_id:
            raise BadInput("subject id must be a non-empty string", where="subject_id")
        return hmac.digest(self._key, subject_id.encode("utf-8"), "sha256").hex()

    def subject_refs(self, values: pa.Array | pa.ChunkedArray, *, raw: bool = False) -> pa.Array:
        """Audit pseudonyms of a whole column of subject ids (nulls stay null); with `raw`,
        as 32 bytes each (`audit.pseudonym_forms`), the form the bus stages them in."""
        return pseudonymize(values, self._key, raw=raw)

    def _log(self, conn: sa.Connection, kind: str, payload: dict[str, Any]) -> None:
        if self._ledger is not None:
            self._ledger.append(conn, kind, payload)

    # -- writes -------------------------------------------------------------------------

    def grant(
        self,
        conn: sa.Connection,
        subject_id: str,
        recipient: str,
        dataset: str,
        purpose: str,
        fields: Sequence[str],
        valid_from: datetime | None = None,
        valid_until: datetime | None = None,
        evidence: str = "",
        *,
        data_life: str | None = None,
        frequency: str | None = None,
        collection_method: str = "",
        consent_id: str | None = None,
        given_at: datetime | None = None,
        expressed_by: str = PRINCIPAL,
    ) -> str:
        """Record a given consent and return its id; valid_from defaults to now.

        `consent_id` lets an importer keep the id the consent was collected under (a UUID);
        granting an id that exists is a BadInput. `given_at` is when the citizen gave it
        (the grant time, kept apart from the recording time): default the start of its
        validity, or now if that lies ahead.
        """
        ref = self.subject_ref(subject_id)
        checked(recipient, "recipient", NAME)
        checked(dataset, "dataset", NAME)
        checked(purpose, "purpose", PURPOSE_CODE)
        listed = fields_json(fields)
        evidence = evidence_checked(evidence)
        life, often = data_life_or_none(data_life), frequency_or_none(frequency)
        method = collection_method_checked(collection_method)
        now = utc_now()
        start = as_utc(valid_from) if valid_from is not None else now
        end = as_utc(valid_until) if valid_until is not None else None
        if end is not None and end <= start:
            raise BadInput("valid_until must be after valid_from", where="valid_until")
        given = as_utc(given_at) if given_at is not None else min(start, now)
        if given > now or (end is not None and given >= end):
            raise BadInput("a consent is given before it is recorded and before it ends", where="given_at")
        actor = actor_checked(expressed_by)
        if consent_id is None:
            consent_id = str(uuid.uuid4())
        else:
            consent_id = consent_id_checked(consent_id)
            if self.get(conn, consent_id) is not None:
                raise BadInput(
                    "a consent with this id exists already",
                    where="consent_id",
                    hint="each consent needs its own id",
                )
        conn.execute(
            consents.insert().values(
                consent_id=consent_id,
                subject_ref=ref,
                recipient=recipient,
                dataset=dataset,
                purpose=purpose,
                fields=listed,
                valid_from=start,
                valid_until=end,
                status=ACTIVE,
                revoked_at=None,
                data_life=life,
                frequency=often,
                collection_method=method,
                evidence=evidence,
                version=1,
                created_at=now,
                updated_at=now,
            )
        )
        conn.execute(
            consent_events.insert().values(
                consent_id=consent_id, event=GIVEN, at=given, recorded_at=now, version=1, expressed_by=actor
            )
        )
        self._log(
            conn,
            "consent.given",
            {
                "consent_id": consent_id,
                "subject_ref": ref,
                "recipient": recipient,
                "dataset": dataset,
                "purpose": purpose,
                "fields": json.loads(listed),
                "valid_from": start.isoformat(),
                "valid_until": end.isoformat() if end is not None else None,
                "data_life": life,
                "frequency": often,
                "collection_method": method,
                "version": 1,
            },
        )
        return consent_id

    def _change(
        self, conn: sa.Connection, consent_id: str, event: str, at: datetime | None, by: str = PRINCIPAL
    ) -> bool:
        """Apply a pause / resume / revocation; False if the consent already had that status."""
        consent_id = consent_id_checked(consent_id)
        applies_to, after, done = _CHANGES[event]
        row = conn.execute(
            sa.select(consents.c.status, consents.c.version).where(consents.c.consent_id == consent_id)
        ).first()
        if row is None:
            raise BadInput(
                "no consent has this id",
                where="consent_id",
                hint="list the subject's consents to find the id",
            )
        if row.status == done:
            return False
        if row.status not in applies_to:
            raise BadInput(
                f"a {row.status.lower()} consent cannot be {event}",
                where="consent_id",
                hint="grant a new consent instead",
            )
        now = utc_now()
        when = as_utc(at) if at is not None else now
        last = conn.execute(
            sa.select(sa.func.max(consent_events.c.at)).where(
                consent_events.c.consent_id == consent_id, consent_events.c.event.in_(CHANGE_EVENTS)
            )
        ).scalar()
        if last is not None and when < as_utc(last):
            raise BadInput(
                f"the consent cannot be {event} before its last change took effect",
                where="at",
                hint="give a time at or after the last change",
            )
        values: dict[str, Any] = {"status": after, "version": row.version + 1, "updated_at": now}
        if event == REVOKED_EVENT:
            values["revoked_at"] = when
        updated = conn.execute(
            consents.update()
            .where(consents.c.consent_id == consent_id, consents.c.version == row.version)
            .values(**values)
        )
        if updated.rowcount != 1:  # a concurrent change won: let the caller retry cleanly
            raise BadInput(
                "the consent changed while this change was being made",
                where="consent_id",
                hint="look at it again and retry",
            )
        conn.execute(
            consent_events.insert().values(
                consent_id=consent_id,
                event=event,
                at=when,
                recorded_at=now,
                version=row.version + 1,
                expressed_by=actor_checked(by),
            )
        )
        self._log(
            conn,
            f"consent.{event}",
            {"consent_id": consent_id, "at": when.isoformat(), "version": row.version + 1},
        )
        return True

    def pause(
        self, conn: sa.Connection, consent_id: str, at: datetime | None = None, *, by: str = PRINCIPAL
    ) -> bool:
        """Pause an ACTIVE consent from `at` (default now); False if it is paused already."""
        return self._change(conn, consent_id, PAUSED_EVENT, at, by)

    def resume(
        self, conn: sa.Connection, consent_id: str, at: datetime | None = None, *, by: str = PRINCIPAL
    ) -> bool:
        """Resume a PAUSED consent from `at` (default now); False if it is active already."""
        return self._change(conn, consent_id, RESUMED, at, by)

    def revoke(
        self, conn: sa.Connection, consent_id: str, at: datetime | None = None, *, by: str = PRINCIPAL
    ) -> bool:
        """Revoke a consent from `at` (default now); False if it was already revoked.

        An unknown consent id is a BadInput. Revoking is idempotent so a retry is safe.
        """
        return self._change(conn, consent_id, REVOKED_EVENT, at, by)

    def expire_due(self, conn: sa.Connection, at: datetime | None = None) -> int:
        """Mark ACTIVE or PAUSED consents whose valid_until has passed as EXPIRED (see `expiry`)."""
        return expire_due(conn, at, log=self._log)

    # -- reads --------------------------------------------------------------------------

    def timeline(
        self,
        conn: sa.Connection,
        *,
        recipient: str,
        dataset: str,
        purpose: str,
        fields: Sequence[str],
        known_at: datetime | None = None,
        subject_ref: str | None = None,
        at: datetime | None = None,
    ) -> ConsentTimeline:
        """Every consent of (recipient, dataset, purpose) as a `ConsentTimeline`.

        `covers` marks the consents whose fields include all of `fields`. With `known_at`,
        only consents and events recorded by then count; with `at`, only consents whose
        validity contains `at` are loaded (what `active` needs); `subject_ref` narrows to
        one subject.
        """
        return load_timeline(
            conn,
            recipient=recipient,
            dataset=dataset,
            purpose=purpose,
            fields=fields,
            known_at=known_at,
            subject_ref=subject_ref,
            at=at,
        )

    def active(
        self,
        conn: sa.Connection,
        *,
        recipient: str,
        dataset: str,
        purpose: str,
        fields: Sequence[str],
        at: datetime,
        known_at: datetime | None = None,
    ) -> pa.Table:
        """Consents in force at `at` for (recipient, dataset, purpose) covering all `fields`.

        Returns a table (subject_ref: string, consent_id: string), one row per consent:
        not PENDING, PAUSED, REVOKED or EXPIRED at `at`.
        """
        table = self.timeline(
            conn,
            recipient=recipient,
            dataset=dataset,
            purpose=purpose,
            fields=fields,
            known_at=known_at,
            at=at,
        ).active(at)
        return table if table.num_rows else ACTIVE_SCHEMA.empty_table()

    def get(self, conn: sa.Connection, consent_id: str) -> ConsentRecord | None:
        """One consent by id, or None."""
        row = conn.execute(
            sa.select(consents).where(consents.c.consent_id == consent_id_checked(consent_id))
        ).first()
        return None if row is None else consent_record(row)

    def list_for_subject(self, conn: sa.Connection, subject_id: str) -> list[ConsentRecord]:
        """Every consent of one subject, oldest first (for a citizen's own view)."""
        return self.list_for_ref(conn, self.subject_ref(subject_id))

    def list_for_ref(self, conn: sa.Connection, subject_ref: str) -> list[ConsentRecord]:
        """Every consent of one audit pseudonym, oldest first."""
        rows = conn.execute(
            sa.select(consents)
            .where(consents.c.subject_ref == subject_ref)
            .order_by(consents.c.created_at, consents.c.consent_id)
        ).all()
        return [consent_record(row) for row in rows]

    def with_data_life(self, conn: sa.Connection) -> list[ConsentRecord]:
        """Every consent that states a `data_life`, oldest first (for consent retention:
        `exchange.erasure.consent_retention` purges what the recipient may no longer keep)."""
        rows = conn.execute(
            sa.select(consents)
            .where(consents.c.data_life.is_not(None))
            .order_by(consents.c.created_at, consents.c.consent_id)
        ).all()
        return [consent_record(row) for row in rows]

    def events(self, conn: sa.Connection, consent_id: str) -> list[tuple[str, datetime]]:
        """The consent's history as (event, effective at), in the order it was recorded."""
        return [(h.event, h.at) for h in self.history(conn, consent_id)]

    def history(self, conn: sa.Connection, consent_id: str) -> list[ConsentEvent]:
        """The consent's events with effective and recorded instants and versions."""
        return consent_history(conn, consent_id)
