"""The terms of one consent (a DEPA consent artefact / ISO/IEC TS 27560 record) and their checks.

What a caller must know:

* Statuses: ACTIVE, PAUSED, REVOKED, EXPIRED (the register's current view). At an instant
  a consent may also be PENDING (its validity has not started yet): see `ConsentTimeline`.
* Events, kept forever in `consent_events`: given, paused, resumed, revoked, expired —
  each with when it takes effect, when it was recorded and who expressed it (`ACTORS`).
  A consent's grant time (the `given` event's `at`) is when the citizen gave it, which
  an import may date before the recording; an expiry takes effect at `valid_until`.
* `data_life` (how long the recipient may keep the data) and `frequency` (ONCE, or the
  shortest interval between fetches) are ISO 8601 durations such as `P1Y`, `P30D`,
  `PT12H`. They are recorded and shown on receipts; `decide` does not use them. Once
  `data_life` has elapsed for a delivery made under the consent, `govbus privacy
  retention` issues the recipient a purge (`exchange.erasure.consent_retention`); a
  subscription's schedule is reviewed against the frequency when it is approved.
* Every checker raises `BadInput` naming the field, never echoing the value.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from consent.register.legal_bases import FIELD_NAME
from govbus.errors import BadInput

ACTIVE, PAUSED, REVOKED, EXPIRED, PENDING = "ACTIVE", "PAUSED", "REVOKED", "EXPIRED", "PENDING"
STATUSES = (ACTIVE, PAUSED, REVOKED, EXPIRED)
GIVEN, PAUSED_EVENT, RESUMED, REVOKED_EVENT, EXPIRED_EVENT = (
    "given",
    "paused",
    "resumed",
    "revoked",
    "expired",
)
EVENTS = (GIVEN, PAUSED_EVENT, RESUMED, REVOKED_EVENT, EXPIRED_EVENT)

DURATION = re.compile(
    r"^P(?!$)(\d{1,4}Y)?(\d{1,4}M)?(\d{1,4}W)?(\d{1,5}D)?"
    r"(T(?=\d)(\d{1,6}H)?(\d{1,6}M)?(\d{1,8}S)?)?$"
)
FREQUENCY_ONCE = "ONCE"
COLLECTION_METHOD = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
MAX_EVIDENCE = 2000


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
    data_life: str | None = None
    frequency: str | None = None
    collection_method: str = ""
    updated_at: datetime | None = None


@dataclass(frozen=True)
class ConsentEvent:
    """One change of a consent: what, when it takes effect, when recorded, version after, by whom.

    For `given`, `at` is when the citizen gave it (the grant time), `recorded_at` when the
    register recorded it; for `expired`, `at` is the end of its validity.
    """

    event: str
    at: datetime
    recorded_at: datetime
    version: int
    expressed_by: str | None = None


# Who expressed an event (ISO/IEC TS 27560's actor of a consent event).
PRINCIPAL, OPERATOR, BUS = "pii-principal", "operator", "bus"
ACTORS = (PRINCIPAL, OPERATOR, BUS)


def checked(value: object, name: str, pattern: re.Pattern[str]) -> str:
    """`value` if it is a string matching `pattern`; BadInput naming `name` otherwise."""
    if not isinstance(value, str) or not pattern.match(value):
        raise BadInput(
            f"{name} is missing or malformed", where=name, hint=f"use a value matching {pattern.pattern}"
        )
    return value


def fields_json(fields: Sequence[str]) -> str:
    """The canonical JSON of a field list: sorted, unique, every name checked."""
    if isinstance(fields, str) or not fields:
        raise BadInput("fields must be a non-empty list of field names", where="fields")
    for name in fields:
        checked(name, "fields", FIELD_NAME)
    return json.dumps(sorted(set(fields)), separators=(",", ":"))


def data_life_or_none(value: str | None) -> str | None:
    """A checked ISO 8601 duration (`P1Y`, `P6M`, `P30D`) or None."""
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not DURATION.match(value):
        raise BadInput(
            "data_life must be an ISO 8601 duration",
            where="data_life",
            hint="for example P1Y (a year), P6M, P30D",
        )
    return value


def frequency_or_none(value: str | None) -> str | None:
    """ONCE, a checked ISO 8601 duration (`P1D`: at most daily), or None (any)."""
    if value is None or value == "":
        return None
    if value == FREQUENCY_ONCE:
        return value
    if not isinstance(value, str) or not DURATION.match(value):
        raise BadInput(
            "frequency must be ONCE or an ISO 8601 duration",
            where="frequency",
            hint="for example ONCE, P1D (at most daily), P1M",
        )
    return value


def collection_method_checked(value: str) -> str:
    """A short lower-case token such as web-form, paper-form, counter, import; or ''."""
    if value == "":
        return value
    return checked(value, "collection_method", COLLECTION_METHOD)


def evidence_checked(value: object) -> str:
    """The evidence reference: text, at most MAX_EVIDENCE characters, one line."""
    if not isinstance(value, str):
        raise BadInput("evidence must be text", where="evidence")
    if len(value) > MAX_EVIDENCE or "\n" in value or "\r" in value:
        raise BadInput(
            f"evidence must be one line of at most {MAX_EVIDENCE} characters",
            where="evidence",
            hint="store the form elsewhere and reference it",
        )
    return value


def actor_checked(value: str) -> str:
    """Who expressed an event: pii-principal, operator or bus."""
    if value not in ACTORS:
        raise BadInput("expressed_by is not a known actor", where="expressed_by", hint=", ".join(ACTORS))
    return value


def consent_id_checked(value: object) -> str:
    """A consent id: a UUID in its canonical lower-case text."""
    try:
        parsed = uuid.UUID(str(value))
    except ValueError:
        raise BadInput(
            "consent id is not a UUID", where="consent_id", hint="use the id `govbus consent show` prints"
        ) from None
    if not isinstance(value, str) or str(parsed) != value.lower():
        raise BadInput("consent id is not a UUID", where="consent_id")
    return str(parsed)
