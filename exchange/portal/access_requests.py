"""Access requests in the portal: ask, list, read, decide — by the roles' rules.

The subscriptions room does the work (`requests.submit`, `decisions.decide`: the checks,
the signed documents, the ledger entries); this module applies who may see and do what
(`Principal.can_see_request`, `decision_role`), so the HTML pages and the JSON API cannot
disagree. An agency asks only for itself and signs as its principal's label; a request
the caller may not see is answered exactly like one that does not exist (404).

The portal keeps one bus for its whole life, and the bus merges approved requests into
its catalog's subscriptions only when it opens: `refresh_subscriptions` does it again
after an approval here (and before listing, for approvals made with the command line), so
a new subscription shows, and one the state no longer approves leaves, without a restart.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from exchange.bus import Bus
from exchange.catalog import Problem
from exchange.portal import models
from exchange.subscriptions import decisions, lifecycle
from exchange.subscriptions.merge import requested_subscriptions
from exchange.subscriptions.requests import (
    APPROVED,
    REJECTED,
    REQUESTED,
    Request,
    RequestRefused,
    RequestSpec,
    check,
    list_requests,
    read_request,
    submit,
)
from exchange.views.roles import NotAllowed, NotVisible, Principal
from exchange.views.subscriptions import life_state, subscription_rows
from govbus.errors import BadInput

__all__ = [
    "NotOpen",
    "access_request",
    "access_requests",
    "decide_access_request",
    "refresh_subscriptions",
    "sink_problems",
    "spec_from_body",
    "submit_access_request",
    "subscription_listing",
]

# Sink settings whose values are credentials: never shown back, not even to the owner.
_SECRET_WORDS = ("password", "secret", "token", "key")
# The settings each sink the portal's form offers cannot do without.
REQUIRED_SINK_SETTINGS = {"parquet": ("directory",), "sql": ("url", "table")}


class NotOpen(BadInput):
    """The request is decided already: no further decision applies (the portal answers 409)."""


def refresh_subscriptions(bus: Bus) -> None:
    """Bring the bus's catalog in line with the approved requests in the state database.

    A request approved since (here or by another process) joins; one left out now (its
    statute or dataset gone, or a catalog file declaring its id) leaves, as it would at
    the next `Bus.open`. The catalog is shared by every request the portal serves, so
    the subscriptions are replaced by a new dict in one assignment, never changed in place:
    a reader mid-iteration keeps the dict it started with.
    """
    catalog = bus.catalog
    with bus.engine.connect() as conn:
        wanted, _ = requested_subscriptions(catalog, list_requests(conn, status=APPROVED))
    held = {s.id: s for s in catalog.subscriptions.values() if s.origin == "request"}
    if {s.id: s for s in wanted} == held:
        return
    kept = {sid: s for sid, s in catalog.subscriptions.items() if s.origin != "request"}
    catalog.subscriptions = {**kept, **{s.id: s for s in wanted}}


def _needs_data_protection(bus: Bus, request: Request) -> bool:
    return decisions.DATA_PROTECTION in decisions.required_roles(bus.catalog, request)


def _visible(bus: Bus, who: Principal, request: Request) -> bool:
    return who.can_see_request(
        bus.catalog,
        agency=request.spec.agency,
        dataset_id=request.spec.dataset,
        needs_data_protection=_needs_data_protection(bus, request),
    )


def _shown_sink(sink: Mapping[str, Any]) -> dict[str, Any]:
    """The sink's settings with credentials hidden: a URL's password, any secret-looking key."""
    shown: dict[str, Any] = {}
    for key, value in sink.items():
        if any(word in key.lower() for word in _SECRET_WORDS):
            shown[key] = "***"
        elif key == "url" and isinstance(value, str):
            try:
                shown[key] = sa.engine.make_url(value).render_as_string(hide_password=True)
            except (sa.exc.ArgumentError, ValueError):
                shown[key] = "(not shown: not a database URL)"
        else:
            shown[key] = value
    return shown


def _decision(stored: Mapping[str, Any]) -> models.Decision:
    signature = stored.get("signature")
    return models.Decision(
        decision=str(stored.get("decision", "")),
        role=str(stored.get("role", "")),
        agency=stored.get("agency"),
        by=str(stored.get("by", "")),
        reason=str(stored.get("reason", "")),
        at=datetime.fromisoformat(str(stored.get("at"))),
        ledger_seq=stored.get("ledger_seq"),
        key_id=signature.get("keyId") if isinstance(signature, Mapping) else None,
    )


def _view(
    bus: Bus, who: Principal, request: Request, lives: Mapping[str, lifecycle.Lifecycle]
) -> models.AccessRequest:
    spec = request.spec
    dataset = bus.catalog.datasets.get(spec.dataset)
    needs = list(decisions.required_roles(bus.catalog, request))
    decided = {d.get("role") for d in request.decisions}
    awaiting = [r for r in needs if r not in decided] if request.status == REQUESTED else []
    mine = who.decision_role(bus.catalog, spec.dataset)
    sub_state = None
    if request.status == APPROVED:
        sub = bus.catalog.subscriptions.get(request.id)
        valid = sub is not None and sub.origin == "request"
        sub_state = life_state(lives.get(request.id)) if valid else "approved, not valid now"
    return models.AccessRequest(
        id=request.id,
        agency=spec.agency,
        dataset=spec.dataset,
        owner=dataset.contract.owner if dataset is not None else None,
        purpose=spec.purpose,
        basis=f"statute:{spec.statute}" if spec.statute else "consent",
        fields=list(spec.fields),
        pseudonymize_subject=spec.pseudonymize_subject,
        sink=_shown_sink(spec.sink),
        schedule=spec.schedule,
        ends_on=spec.ends_on,
        note=spec.note,
        requested_by=spec.requested_by,
        requested_at=request.requested_at,
        status=request.status,
        request_sha256=request.request_sha256,
        ledger_seq=request.ledger_seq,
        needs=needs,
        awaiting=awaiting,
        decisions=[_decision(d) for d in request.decisions],
        you_decide_as=mine if mine in awaiting else None,
        subscription_state=sub_state,
    )


def access_requests(
    bus: Bus, who: Principal, *, dataset: str | None = None, status: str | None = None
) -> list[models.AccessRequest]:
    """The requests the caller may see, newest first, narrowed to a dataset (404 if unknown) and a status."""
    if dataset is not None:
        who.require_catalog_entry(bus.catalog, dataset)
    refresh_subscriptions(bus)
    with bus.engine.connect() as conn:
        found = list_requests(conn, dataset=dataset, status=status)
        lives = lifecycle.lifecycles(conn)
    return [_view(bus, who, r, lives) for r in found if _visible(bus, who, r)]


def access_request(bus: Bus, who: Principal, request_id: str) -> models.AccessRequest:
    """One request; NotVisible (404) when there is none or the caller may not see it."""
    refresh_subscriptions(bus)
    with bus.engine.connect() as conn:
        found = read_request(conn, request_id)
        lives = lifecycle.lifecycles(conn)
    if found is None or not _visible(bus, who, found):
        raise NotVisible("no such request", where="request", hint="the requests page lists yours")
    return _view(bus, who, found, lives)


def spec_from_body(who: Principal, body: models.RequestBody) -> RequestSpec:
    """The API body as the room's `RequestSpec`: the caller's agency asks, its label is `requested_by`."""
    who.require_requester()
    if body.agency is not None and body.agency != who.agency:
        raise NotAllowed(
            "an agency asks for itself: the recipient is the calling agency",
            where="agency",
            hint="leave `agency` out, or sign in as the agency that will receive the data",
        )
    assert who.agency is not None  # require_requester
    return RequestSpec(
        agency=who.agency,
        dataset=body.dataset,
        purpose=body.purpose,
        fields=tuple(body.fields),
        sink=body.sink.model_dump(),
        statute=body.statute,
        id=body.id,
        schedule=body.schedule,
        ends_on=body.ends_on,
        pseudonymize_subject=body.pseudonymize_subject,
        note=body.note,
        requested_by=who.label,
    )


def sink_problems(spec: RequestSpec) -> list[Problem]:
    """What the portal's sinks cannot do without (the catalog checks only `connector`)."""
    where = f"request {spec.subscription_id}"
    connector = spec.sink.get("connector")
    missing = [
        key
        for key in REQUIRED_SINK_SETTINGS.get(str(connector), ())
        if not str(spec.sink.get(key) or "").strip()
    ]
    if not missing:
        return []
    return [Problem(where, None, "sink", f"a {connector} sink needs {' and '.join(missing)}")]


def submit_access_request(
    bus: Bus, who: Principal, spec: RequestSpec, problems: Sequence[Problem] = ()
) -> models.AccessRequest:
    """Store the request as `requested`; `RequestRefused` with every reason — the catalog's rules,
    the sink's settings and `problems` (what the form could not read) — otherwise."""
    who.require_requester()
    if spec.agency != who.agency:
        raise NotAllowed("an agency asks for itself", where="agency")
    early = [*problems, *sink_problems(spec)]
    if early:
        with bus.engine.connect() as conn:
            taken = {r.id for r in list_requests(conn)}
        raise RequestRefused(spec.subscription_id, [*early, *check(bus.catalog, spec, taken=taken)])
    made = submit(bus, spec)
    with bus.engine.connect() as conn:
        lives = lifecycle.lifecycles(conn)
    return _view(bus, who, made, lives)


def decide_access_request(
    bus: Bus, who: Principal, request_id: str, *, decision: str, reason: str
) -> models.AccessRequest:
    """Approve or reject as the role the caller holds for the request's dataset.

    404 for a request the caller may not see, 409 (`NotOpen`) for a decided one, 403 when it
    may not decide it (an admin, an auditor, an agency not the owner, a role that decided
    already, the dpo on a request needing no data-protection decision).
    """
    current = access_request(bus, who, request_id)
    if current.status != REQUESTED:
        raise NotOpen(
            f"request {request_id} is {current.status} already",
            where=f"request {request_id}",
            hint="a decided request stays decided; the agency may ask again under another id",
        )
    role = who.decision_role(bus.catalog, current.dataset)
    if role is None:
        raise NotAllowed(
            "only the dataset's owner and, where needed, the data-protection officer decide",
            where=f"request {request_id}",
            hint="admins and auditors read requests; they do not decide them",
        )
    try:
        decided = decisions.decide(
            bus,
            request_id,
            decision=decision,
            role=role,
            agency=who.agency if role == decisions.OWNER else None,
            by=who.label,
            reason=reason,
        )
    except decisions.NoApproverRights as exc:
        raise NotAllowed(exc.message, where=exc.where, hint=exc.hint) from exc
    if decided.status == APPROVED:
        refresh_subscriptions(bus)
    return access_request(bus, who, request_id)


def subscription_listing(
    bus: Bus, who: Principal, *, dataset: str | None = None
) -> list[models.SubscriptionListing]:
    """Both kinds of subscription with their origin and state, as the caller may see them.

    Admins and auditors see all; an agency its own and those to datasets it owns; the dpo
    none (it reads requests, not exchanges). Open and rejected requests are the requests'.
    An unknown `dataset` is a 404.
    """
    if dataset is not None:
        who.require_catalog_entry(bus.catalog, dataset)
    refresh_subscriptions(bus)
    listing = []
    for row in subscription_rows(bus, dataset=dataset):
        if row.state in (REQUESTED, REJECTED):
            continue
        mine = who.agency is not None and (row.agency == who.agency or who.owns(bus.catalog, row.dataset))
        if who.sees_everything or mine:
            listing.append(
                models.SubscriptionListing(
                    id=row.id,
                    agency=row.agency,
                    dataset=row.dataset,
                    purpose=row.purpose,
                    basis=row.basis,
                    origin=row.origin,
                    state=row.state,
                    since=row.since,
                )
            )
    return listing
