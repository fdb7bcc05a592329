"""The register's reads: stored rows into `ConsentRecord`s and `ConsentEvent`s, and timelines.

The heavy read is `load_timeline`: the policy decision of every delivery and `consent
explain` start here. Two queries (consents, then their pause/resume/revoke events in
recorded order) are turned into columns, never into per-consent Python objects.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from consent.register.tables import consent_events, consents
from consent.register.terms import (
    PAUSED_EVENT,
    RESUMED,
    REVOKED_EVENT,
    ConsentEvent,
    ConsentRecord,
    fields_json,
)
from consent.register.timeline import ConsentTimeline
from govbus.instants import as_utc

__all__ = ["CHANGE_EVENTS", "consent_history", "consent_record", "load_timeline"]

CHANGE_EVENTS = (PAUSED_EVENT, RESUMED, REVOKED_EVENT)
"""The events after "given" that change whether a consent is in force."""


def load_timeline(
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
    """Every consent of (recipient, dataset, purpose) as a timeline (see `ConsentRegister.timeline`)."""
    wanted = set(json.loads(fields_json(fields)))
    c, e = consents, consent_events
    raw = sa.String  # timestamps as the driver gives them; converted column-wise below
    query = sa.select(
        c.c.subject_ref,
        c.c.consent_id,
        c.c.fields,
        sa.type_coerce(c.c.valid_from, raw),
        sa.type_coerce(c.c.valid_until, raw),
        sa.type_coerce(c.c.created_at, raw),
    ).where(c.c.recipient == recipient, c.c.dataset == dataset, c.c.purpose == purpose)
    events = (
        sa.select(e.c.consent_id, e.c.event, e.c.at)
        .join(c, c.c.consent_id == e.c.consent_id)
        .where(
            c.c.recipient == recipient,
            c.c.dataset == dataset,
            c.c.purpose == purpose,
            e.c.event.in_(CHANGE_EVENTS),
        )
    )
    if known_at is not None:
        query = query.where(c.c.created_at <= as_utc(known_at))
        events = events.where(e.c.recorded_at <= as_utc(known_at))
    if subject_ref is not None:
        query = query.where(c.c.subject_ref == subject_ref)
        events = events.where(c.c.subject_ref == subject_ref)
    if at is not None:
        when = as_utc(at)
        query = query.where(c.c.valid_from <= when, sa.or_(c.c.valid_until.is_(None), c.c.valid_until > when))
    rows = conn.execute(query.order_by(c.c.subject_ref, c.c.created_at, c.c.consent_id)).all()
    revoked_at: dict[str, datetime] = {}
    windows: list[tuple[str, datetime, datetime | None]] = []
    open_pause: dict[str, datetime] = {}
    for cid, event, when_at in conn.execute(events.order_by(e.c.event_id)):
        if event == PAUSED_EVENT:
            open_pause.setdefault(cid, when_at)
        elif event == RESUMED and cid in open_pause:
            windows.append((cid, open_pause.pop(cid), when_at))
        elif event == REVOKED_EVENT:
            revoked_at.setdefault(cid, when_at)
    windows.extend((cid, start, None) for cid, start in open_pause.items())
    return ConsentTimeline.from_columns(
        list(zip(*rows, strict=True)) if rows else None, wanted, revoked_at, windows
    )


def consent_record(row: Any) -> ConsentRecord:
    """A `consents` row as the register's record (fields parsed back from canonical JSON)."""
    return ConsentRecord(
        consent_id=row.consent_id,
        subject_ref=row.subject_ref,
        recipient=row.recipient,
        dataset=row.dataset,
        purpose=row.purpose,
        fields=tuple(json.loads(row.fields)),
        valid_from=row.valid_from,
        valid_until=row.valid_until,
        status=row.status,
        revoked_at=row.revoked_at,
        evidence=row.evidence,
        version=row.version,
        created_at=row.created_at,
        data_life=row.data_life,
        frequency=row.frequency,
        collection_method=row.collection_method,
        updated_at=row.updated_at,
    )


def consent_history(conn: sa.Connection, consent_id: str) -> list[ConsentEvent]:
    """The consent's events with effective and recorded instants and versions, in recorded order."""
    rows = conn.execute(
        sa.select(consent_events)
        .where(consent_events.c.consent_id == consent_id)
        .order_by(consent_events.c.event_id)
    ).all()
    return [ConsentEvent(row.event, row.at, row.recorded_at, row.version, row.expressed_by) for row in rows]
