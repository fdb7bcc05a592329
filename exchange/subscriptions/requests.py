"""Access requests: an agency asks for a dataset; the catalog's rules answer at once.

A request names the dataset, the purpose (from purposes.yaml), the fields, the legal
basis (a statute, or each subject's consent), where to deliver, how often and until when.
`check` applies the rules a subscription written in the catalog must meet (the same
code, `exchange.catalog.check_subscription`) plus those only a request has: its id is
free, its end date is not past, its statute is in force, and its sink names only the
agency's own places (`exchange.subscriptions.targets`). A refused request is never
stored; `RequestRefused` lists every reason, each naming the key to change.

`submit` stores an accepted request as `requested` with a `subscription.request` ledger
entry carrying the SHA-256 of the request document (`request_document`): every decision
on it signs that fingerprint, so a request edited after it was decided on is caught.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa

import audit
from exchange import state
from exchange.catalog import Catalog, Problem, check_subscription
from exchange.subscriptions.context import SubscriptionContext
from exchange.subscriptions.targets import target_problems
from govbus.errors import BadInput
from govbus.instants import as_utc, utc_now

__all__ = [
    "REQUEST_FORMAT",
    "Request",
    "RequestRefused",
    "RequestSpec",
    "check",
    "list_requests",
    "read_request",
    "request_document",
    "submit",
]

REQUEST_FORMAT = "govbus.subscription-request/1"
REQUESTED, APPROVED, REJECTED = "requested", "approved", "rejected"


@dataclass(frozen=True)
class RequestSpec:
    """What an agency asks for. `statute` None: the basis is each subject's consent."""

    agency: str
    dataset: str
    purpose: str
    fields: tuple[str, ...]
    sink: Mapping[str, Any]
    statute: str | None = None
    id: str | None = None  # default: <agency>.<dataset>
    schedule: str | None = None
    ends_on: date | None = None
    pseudonymize_subject: bool = False
    note: str = ""
    requested_by: str = ""

    @property
    def subscription_id(self) -> str:
        """The id the subscription will have: the one asked for, else `<agency>.<dataset>`."""
        return self.id or f"{self.agency}.{self.dataset}"

    def as_item(self) -> dict[str, Any]:
        """The request as a subscription entry of a catalog file (what the catalog's rules check)."""
        item: dict[str, Any] = {
            "id": self.subscription_id,
            "dataset": self.dataset,
            "purpose": self.purpose,
            "basis": {"statute": self.statute} if self.statute else "consent",
            "fields": list(self.fields),
            "sink": dict(self.sink),
        }
        if self.pseudonymize_subject:
            item["pseudonymize_subject"] = True
        if self.schedule:
            item["schedule"] = self.schedule
        if self.ends_on is not None:
            item["ends_on"] = self.ends_on.isoformat()
        return item


@dataclass(frozen=True)
class Request:
    """A stored request with its status and the signed decisions taken on it so far."""

    spec: RequestSpec
    status: str
    requested_at: datetime
    request_sha256: str
    ledger_seq: int | None
    decisions: tuple[Mapping[str, Any], ...] = field(default=())
    decided_at: datetime | None = None

    @property
    def id(self) -> str:
        """The request's id: the subscription id it becomes."""
        return self.spec.subscription_id


class RequestRefused(BadInput):
    """The request breaks a rule; `problems` lists every one (key and what to change)."""

    def __init__(self, request_id: str, problems: list[Problem]) -> None:
        listing = "; ".join(f"{p.field}: {p.message}" if p.field else p.message for p in problems)
        super().__init__(
            f"refused: {listing}",
            where=f"request {request_id}",
            hint="change what each reason names and ask again; `govbus catalog show DATASET` "
            "shows the fields, purposes and statutes",
        )
        self.problems = problems


def request_document(spec: RequestSpec, requested_at: datetime) -> dict[str, Any]:
    """The request as the document its decisions fingerprint (`request_sha256`).

    Its SHA-256 is over `audit.canonical_json` of this object (sorted keys, no spaces,
    UTF-8). docs/subscribing.md shows it field by field.
    """
    return {
        "format": REQUEST_FORMAT,
        "id": spec.subscription_id,
        "agency": spec.agency,
        "dataset": spec.dataset,
        "purpose": spec.purpose,
        "basis": f"statute:{spec.statute}" if spec.statute else "consent",
        "fields": list(spec.fields),
        "pseudonymize_subject": spec.pseudonymize_subject,
        "sink": dict(spec.sink),
        "schedule": spec.schedule,
        "ends_on": spec.ends_on.isoformat() if spec.ends_on else None,
        "note": spec.note,
        "requested_by": spec.requested_by,
        "requested_at": as_utc(requested_at).isoformat(),
    }


def document_sha256(document: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of a document's canonical JSON."""
    return hashlib.sha256(audit.canonical_json(document).encode("utf-8")).hexdigest()


def check(catalog: Catalog, spec: RequestSpec, *, taken: set[str] | None = None) -> list[Problem]:
    """Every reason to refuse the request now; empty when it may be stored for a decision.

    `taken`: subscription ids already used (the catalog's and the stored requests').
    """
    where = f"request {spec.subscription_id}"
    _, problems = check_subscription(spec.as_item(), spec.agency, catalog, where=where)
    used = set(catalog.subscriptions) | (taken or set())
    if spec.subscription_id in used:
        problems.append(
            Problem(where, None, "id", f"{spec.subscription_id!r} is taken; name the request with another id")
        )
    today = utc_now().date()
    if spec.ends_on is not None and spec.ends_on < today:
        problems.append(
            Problem(where, None, "ends_on", f"{spec.ends_on} is past; give a future date or none")
        )
    statute = catalog.statutes.get(spec.statute or "")
    if statute is not None and not statute.in_force(utc_now()):
        problems.append(
            Problem(
                where, None, "basis", f"statute {statute.id} is not in force today; ask under one that is"
            )
        )
    agency = catalog.agencies.get(spec.agency)
    if agency is not None:
        for key, message in target_problems(agency, spec.sink):
            problems.append(Problem(where, None, f"sink: {key}", message))
    if not spec.requested_by.strip():
        problems.append(Problem(where, None, "requested_by", "say who asks (a person or role at the agency)"))
    return problems


def submit(ctx: SubscriptionContext, spec: RequestSpec) -> Request:
    """Check the request and store it as `requested`; `RequestRefused` with every reason otherwise."""
    rq = state.subscription_requests
    with ctx.locked("ledger"), ctx.engine.begin() as conn:
        taken = set(conn.execute(sa.select(rq.c.id)).scalars())
        problems = check(ctx.catalog, spec, taken=taken)
        if problems:
            raise RequestRefused(spec.subscription_id, problems)
        now = utc_now().replace(microsecond=0)  # whole seconds: every database keeps them exactly
        digest = document_sha256(request_document(spec, now))
        entry = ctx.ledger.append_entry(
            conn,
            audit.SubscriptionRequestEntry(
                subscription=spec.subscription_id,
                recipient=spec.agency,
                dataset=spec.dataset,
                purpose=spec.purpose,
                basis=f"statute:{spec.statute}" if spec.statute else "consent",
                fields=spec.fields,
                pseudonymize_subject=spec.pseudonymize_subject,
                sink=str(spec.sink.get("connector", "")),
                ends_on=spec.ends_on.isoformat() if spec.ends_on else None,
                requested_by=spec.requested_by,
                request_sha256=digest,
            ),
        )
        conn.execute(
            sa.insert(rq).values(
                id=spec.subscription_id,
                agency=spec.agency,
                dataset=spec.dataset,
                purpose=spec.purpose,
                statute=spec.statute,
                fields=list(spec.fields),
                pseudonymize_subject=spec.pseudonymize_subject,
                sink=dict(spec.sink),
                schedule=spec.schedule,
                ends_on=spec.ends_on,
                note=spec.note,
                status=REQUESTED,
                requested_by=spec.requested_by,
                requested_at=now,
                request_sha256=digest,
                ledger_seq=entry.seq,
                decisions=[],
            )
        )
        request = read_request(conn, spec.subscription_id)
    assert request is not None
    return request


def _from_row(row: Any) -> Request:
    spec = RequestSpec(
        agency=row.agency,
        dataset=row.dataset,
        purpose=row.purpose,
        fields=tuple(row.fields or ()),
        sink=dict(row.sink or {}),
        statute=row.statute,
        id=row.id,
        schedule=row.schedule,
        ends_on=row.ends_on,
        pseudonymize_subject=bool(row.pseudonymize_subject),
        note=row.note or "",
        requested_by=row.requested_by,
    )
    return Request(
        spec=spec,
        status=row.status,
        requested_at=as_utc(row.requested_at),
        request_sha256=row.request_sha256,
        ledger_seq=row.ledger_seq,
        decisions=tuple(row.decisions or ()),
        decided_at=as_utc(row.decided_at) if row.decided_at is not None else None,
    )


def read_request(conn: sa.Connection, request_id: str) -> Request | None:
    """The stored request with this id, or None."""
    rq = state.subscription_requests
    row = conn.execute(sa.select(rq).where(rq.c.id == request_id)).first()
    return None if row is None else _from_row(row)


def list_requests(
    conn: sa.Connection, *, agency: str | None = None, dataset: str | None = None, status: str | None = None
) -> list[Request]:
    """Stored requests, newest first, narrowed to an agency, a dataset, a status."""
    rq = state.subscription_requests
    query = sa.select(rq).order_by(rq.c.requested_at.desc(), rq.c.id)
    if agency is not None:
        query = query.where(rq.c.agency == agency)
    if dataset is not None:
        query = query.where(rq.c.dataset == dataset)
    if status is not None:
        query = query.where(rq.c.status == status)
    return [_from_row(row) for row in conn.execute(query)]
