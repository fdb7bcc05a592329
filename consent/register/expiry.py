"""Expiry as an event: consents whose validity has ended are marked EXPIRED, with an event.

Why an event and not only a computed state: a citizen's receipt, `consent show` and an
auditor reading the register should see that the consent ended and when, as for any
revocation. The event takes effect at `valid_until` (not when the housekeeping ran), is
expressed by the bus (`BUS`), and is logged as `consent.expired` (ids only). Timelines
judge by time regardless, so a late run of this changes no decision.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from consent.register.tables import consent_events, consents
from consent.register.terms import ACTIVE, BUS, EXPIRED, EXPIRED_EVENT, PAUSED
from govbus.instants import as_utc, utc_now

__all__ = ["expire_due"]


def expire_due(
    conn: sa.Connection,
    at: datetime | None = None,
    *,
    log: Callable[[sa.Connection, str, dict[str, Any]], None],
) -> int:
    """Mark ACTIVE or PAUSED consents whose valid_until is at or before `at` (default now) EXPIRED.

    `log(conn, kind, payload)` writes the ledger entry; returns how many consents changed.
    """
    when = as_utc(at) if at is not None else utc_now()
    due = conn.execute(
        sa.select(consents.c.consent_id, consents.c.version, consents.c.valid_until).where(
            consents.c.status.in_((ACTIVE, PAUSED)),
            consents.c.valid_until.is_not(None),
            consents.c.valid_until <= when,
        )
    ).all()
    changed = 0
    recorded = utc_now()
    for row in due:
        result = conn.execute(
            consents.update()
            .where(consents.c.consent_id == row.consent_id, consents.c.version == row.version)
            .values(status=EXPIRED, version=row.version + 1, updated_at=recorded)
        )
        if result.rowcount != 1:
            continue  # a concurrent change won; the next run expires it
        ended = as_utc(row.valid_until)
        conn.execute(
            consent_events.insert().values(
                consent_id=row.consent_id,
                event=EXPIRED_EVENT,
                at=ended,
                recorded_at=recorded,
                version=row.version + 1,
                expressed_by=BUS,
            )
        )
        log(
            conn,
            "consent.expired",
            {"consent_id": row.consent_id, "at": ended.isoformat(), "version": row.version + 1},
        )
        changed += 1
    return changed
