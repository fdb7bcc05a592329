"""A citizen's consents as `govbus consent show` shows them: terms, status and changes.

The register is read by the typed subject id (turned into its audit pseudonym there);
neither the id nor the pseudonym is part of the shape. JSON (docs/cli-output.md):

    {"consents": [{"consent_id", "recipient", "dataset", "purpose", "fields",
                   "valid_from", "valid_until", "status", "version", "data_life",
                   "frequency", "collection_method", "evidence",
                   "history": [{"version", "event", "at", "recorded_at"}]}]}

Times are ISO 8601 in UTC (`valid_until` null: until revoked); `history` is null unless
asked for (`--history`). CSV: `CONSENT_CSV_COLUMNS`, one row per consent; with history,
one row per change, the consent's columns repeated.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from exchange.views.plain import iso_times

if TYPE_CHECKING:
    from exchange.bus import Bus

__all__ = ["CONSENT_CSV_COLUMNS", "ConsentChange", "ConsentView", "consents_csv_rows", "subject_consents"]


@dataclass(frozen=True)
class ConsentChange:
    """One change of a consent: its version after, what happened, when it took effect, when recorded."""

    version: int
    event: str
    at: datetime
    recorded_at: datetime


@dataclass(frozen=True)
class ConsentView:
    """One consent's terms and status (no subject id, no pseudonym)."""

    consent_id: str
    recipient: str
    dataset: str
    purpose: str
    fields: tuple[str, ...]
    valid_from: datetime
    valid_until: datetime | None
    status: str
    version: int
    data_life: str | None
    frequency: str | None
    collection_method: str
    evidence: str
    history: tuple[ConsentChange, ...] | None

    def to_json(self) -> dict[str, Any]:
        """The documented JSON shape (times as ISO text)."""
        return iso_times(asdict(self))


CONSENT_CSV_COLUMNS = (
    "consent_id",
    "recipient",
    "dataset",
    "purpose",
    "fields",
    "valid_from",
    "valid_until",
    "status",
    "version",
    "data_life",
    "frequency",
    "collection_method",
    "evidence",
    "event_version",
    "event",
    "event_at",
    "event_recorded_at",
)
"""The CSV header of `govbus consent show --format csv` (the `event_*` columns empty without --history)."""


def subject_consents(bus: Bus, subject: str, *, history: bool) -> list[ConsentView]:
    """The subject's consents, as the register lists them, each with its changes if asked."""
    with bus.engine.connect() as conn:
        records = bus.register.list_for_subject(conn, subject)
        changes = {r.consent_id: bus.register.history(conn, r.consent_id) for r in records} if history else {}
    return [
        ConsentView(
            r.consent_id,
            r.recipient,
            r.dataset,
            r.purpose,
            tuple(r.fields),
            r.valid_from,
            r.valid_until,
            r.status,
            r.version,
            r.data_life,
            r.frequency,
            r.collection_method,
            r.evidence,
            tuple(ConsentChange(e.version, e.event, e.at, e.recorded_at) for e in changes[r.consent_id])
            if history
            else None,
        )
        for r in records
    ]


def consents_csv_rows(consents: list[ConsentView]) -> list[dict[str, Any]]:
    """Rows of `CONSENT_CSV_COLUMNS` (see the module doc)."""
    rows: list[dict[str, Any]] = []
    for c in consents:
        head = iso_times({k: v for k, v in asdict(c).items() if k != "history"})
        events = [
            {
                "event_version": e.version,
                "event": e.event,
                "event_at": iso_times(e.at),
                "event_recorded_at": iso_times(e.recorded_at),
            }
            for e in c.history or ()
        ]
        rows.extend([{**head, **event} for event in events] or [head])
    return rows
