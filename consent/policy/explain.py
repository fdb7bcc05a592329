"""Why one subject's data would (or would not) go to a recipient: the decision and its basis.

`explain` runs the very `decide` the exchange runs, on a one-row batch, so the answer
cannot drift from what deliveries do; it then says why: the statute that allowed it (or
why that statute did not apply) and the subject's consents in that scope with their state
at the instant. With `known_at` (what `govbus consent explain --as-of` passes, equal to
the instant) it replays the decision from what the register had recorded by then.

The result holds the subject's audit ref, never the raw id.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import pyarrow as pa
import sqlalchemy as sa

from consent.policy.decide import CONSENT_BASIS, decide
from consent.register.legal_bases import Statute
from consent.register.register import ConsentRegister
from consent.register.timeline import NO_CONSENT
from govbus.instants import as_utc

STATUTE, CONSENT, NONE = "statute", "consent", "none"


@dataclass(frozen=True)
class ConsentState:
    """One of the subject's consents in the scope, as it stood at the instant."""

    consent_id: str
    state: str
    covers: bool
    missing: tuple[str, ...] = ()  # requested fields the consent does not cover, by name


@dataclass(frozen=True)
class Explanation:
    """The decision for one subject, its basis and the reasons behind it.

    `basis` is the statute id (basis_kind "statute") or the consent id ("consent"), or
    None when denied; `reasons` are short sentences, the first one the deciding reason.
    """

    allowed: bool
    basis_kind: str
    basis: str | None
    reasons: tuple[str, ...]
    subject_ref: str
    dataset: str
    recipient: str
    purpose: str
    fields: tuple[str, ...]
    at: datetime
    known_at: datetime | None
    consents: tuple[ConsentState, ...]


def statute_reason(
    statute: Statute, *, dataset: str, recipient: str, purpose: str, fields: Sequence[str], at: datetime
) -> str | None:
    """Why `statute` is not the basis at `at` (None if it is)."""
    if (statute.dataset, statute.recipient, statute.purpose) != (dataset, recipient, purpose):
        return f"statute {statute.id} is for another dataset, recipient or purpose"
    if not statute.in_force(at):
        return f"statute {statute.id} is not in force at {at.isoformat(timespec='seconds')}"
    missing = statute.missing_fields(fields)
    if missing:
        return f"statute {statute.id} does not allow field(s) {', '.join(missing)}"
    return None


def _missing(
    register: ConsentRegister, conn: sa.Connection, consent_id: str, fields: Sequence[str]
) -> tuple[str, ...]:
    """The requested fields a consent does not name (field names only, never a value)."""
    record = register.get(conn, consent_id)
    have = set(record.fields) if record is not None else set()
    return tuple(name for name in fields if name not in have)


def explain(
    register: ConsentRegister,
    conn: sa.Connection,
    subject_id: str,
    *,
    dataset: str,
    recipient: str,
    purpose: str,
    fields: Sequence[str],
    statute: Statute | None,
    at: datetime,
    known_at: datetime | None = None,
) -> Explanation:
    """The decision for `subject_id` at `at` (see module doc)."""
    at = as_utc(at)
    ref = register.subject_ref(subject_id)
    timeline = register.timeline(
        conn,
        recipient=recipient,
        dataset=dataset,
        purpose=purpose,
        fields=fields,
        known_at=known_at,
        subject_ref=ref,
    )
    refs = pa.array([ref], pa.string())
    decision = decide(
        refs,
        statute=statute,
        consents=timeline.active(at),
        dataset=dataset,
        recipient=recipient,
        purpose=purpose,
        at=at,
        fields=list(fields),
    )
    states = timeline.states(at)
    consents = tuple(
        ConsentState(cid, state, covers, () if covers else _missing(register, conn, cid, fields))
        for cid, state, covers in zip(
            states.column("consent_id").to_pylist(),
            states.column("state").to_pylist(),
            states.column("covers").to_pylist(),
            strict=True,
        )
    )
    reasons: list[str] = []
    allowed = bool(decision.allowed[0].as_py())
    if allowed and decision.basis != CONSENT_BASIS:
        kind, basis = STATUTE, decision.basis
        reasons.append(f"statute {basis} allows {purpose} for these fields")
    elif allowed:
        assert decision.consent_ids is not None
        kind, basis = CONSENT, decision.consent_ids[0].as_py()
        reasons.append(f"consent {basis} is active and covers every field")
    else:
        kind, basis = NONE, None
        (why,) = timeline.denial_reasons(refs, decision.allowed, at) or {NO_CONSENT: 1}
        reasons.append(
            why if why != NO_CONSENT else "no consent of this subject for this recipient and purpose"
        )
    if statute is not None and kind != STATUTE:
        reason = statute_reason(
            statute, dataset=dataset, recipient=recipient, purpose=purpose, fields=fields, at=at
        )
        if reason:
            reasons.append(reason)
    return Explanation(
        allowed=allowed,
        basis_kind=kind,
        basis=basis,
        reasons=tuple(reasons),
        subject_ref=ref,
        dataset=dataset,
        recipient=recipient,
        purpose=purpose,
        fields=tuple(fields),
        at=at,
        known_at=known_at,
        consents=consents,
    )
