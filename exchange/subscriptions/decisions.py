"""Decisions on requests: who must approve, the signed decision document, its checks.

Who decides (`required_roles`): the dataset owner's agency always (`owner`, as X-Road's
providers grant access to their services); a request for a field classified `sensitive`
or tagged with a special category of personal data (GDPR art. 9 and 10: health, genetic,
biometric, ethnic origin, political, religious or philosophical beliefs, trade-union
membership, sex life or orientation, criminal offences) also needs the data-protection
officer (`data-protection`). Any approver may reject; one rejection ends the request.
An approval by every required role makes it `approved`: it joins the catalog's
subscriptions the next time the bus opens (see `exchange.subscriptions.merge`).

The decision document (`format: govbus.subscription-decision/1`) names the request and
the SHA-256 of its request document, the decision, the role, the deciding agency, who,
why and when; the bus signs it with its Ed25519 key — the signature is over the
canonical JSON of the document without its `signature` member (`audit.sign_document`),
so `openssl pkeyutl -verify -rawin` checks it (docs/subscribing.md). It is appended to
the ledger whole (`subscription.decision`) and kept with the request; `verify` holds
the two against each other and against the request as stored.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

import audit
import contracts
from exchange import state
from exchange.catalog import Catalog, check_subscription
from exchange.subscriptions.context import SubscriptionContext
from exchange.subscriptions.requests import (
    APPROVED,
    REJECTED,
    REQUESTED,
    Request,
    document_sha256,
    read_request,
    request_document,
)
from govbus.errors import BadInput
from govbus.instants import utc_now

__all__ = [
    "APPROVE",
    "DATA_PROTECTION",
    "DECISION_FORMAT",
    "OWNER",
    "REJECT",
    "SPECIAL_CATEGORY_TAGS",
    "NoApproverRights",
    "decide",
    "required_roles",
    "verify",
]

DECISION_FORMAT = "govbus.subscription-decision/1"
APPROVE, REJECT = "approve", "reject"
OWNER, DATA_PROTECTION = "owner", "data-protection"
SPECIAL_CATEGORY_TAGS = contracts.SPECIAL_CATEGORY_TAGS  # one definition, the contracts part's


class NoApproverRights(BadInput):
    """The caller may not take this decision (the portal answers 403)."""


def required_roles(catalog: Catalog, request: Request) -> tuple[str, ...]:
    """`owner`, plus `data-protection` when a requested field is sensitive or of a special category."""
    dataset = catalog.datasets.get(request.spec.dataset)
    if dataset is None:
        return (OWNER,)
    for name in request.spec.fields:
        spec = dataset.contract.fields.get(name)
        if spec is not None and (spec.classification == "sensitive" or spec.special_category):
            return (OWNER, DATA_PROTECTION)
    return (OWNER,)


def decide(
    ctx: SubscriptionContext,
    request_id: str,
    *,
    decision: str,
    role: str,
    agency: str | None,
    by: str,
    reason: str,
) -> Request:
    """Record one signed decision; the request becomes approved or rejected when it is complete.

    `agency` is the deciding agency for the `owner` role (it must own the dataset); the
    data-protection officer decides for no agency (None). Raises `NoApproverRights` when
    the role or agency may not decide, `BadInput` when the request is not open or a
    rejection gives no reason.
    """
    if decision not in (APPROVE, REJECT):
        raise BadInput(f"unknown decision {decision!r}", where="decision", hint="approve or reject")
    if decision == REJECT and not reason.strip():
        raise BadInput("a rejection needs a reason", where="reason", hint="say what the agency should change")
    if not by.strip():
        raise BadInput("say who decides", where="by", hint="a person or role at the deciding agency")
    if decision == APPROVE:
        _check_disclosure(ctx, request_id, role, agency)
    rq = state.subscription_requests
    with ctx.locked("ledger"), ctx.engine.begin() as conn:
        request = read_request(conn, request_id)
        if request is None:
            raise BadInput(
                f"no request {request_id!r}", where="request", hint="`govbus subscription list --requests`"
            )
        if request.status != REQUESTED:
            raise BadInput(
                f"request {request_id} is {request.status} already",
                where=f"request {request_id}",
                hint="a decided request stays decided; the agency may ask again under another id",
            )
        _check_rights(ctx.catalog, request, role, agency)
        if any(d.get("role") == role for d in request.decisions):
            raise NoApproverRights(
                f"the {role} role has decided on request {request_id} already", where=f"request {request_id}"
            )
        document = audit.sign_document(
            {
                "format": DECISION_FORMAT,
                "request": request_id,
                "request_sha256": request.request_sha256,
                "decision": decision,
                "role": role,
                "agency": agency,
                "by": by,
                "reason": reason,
                "at": utc_now().replace(microsecond=0).isoformat(),
            },
            ctx.keys.signing_key(),
        )
        entry = ctx.ledger.append_entry(conn, audit.SubscriptionDecisionEntry(document))
        decisions = [*request.decisions, {**document, "ledger_seq": entry.seq}]
        roles_approved = {d["role"] for d in decisions if d["decision"] == APPROVE}
        status = REQUESTED
        if decision == REJECT:
            status = REJECTED
        elif roles_approved >= set(required_roles(ctx.catalog, request)):
            status = APPROVED
        conn.execute(
            sa.update(rq)
            .where(rq.c.id == request_id)
            .values(
                decisions=decisions,
                status=status,
                decided_at=utc_now() if status != REQUESTED else None,
            )
        )
        decided = read_request(conn, request_id)
    assert decided is not None
    return decided


def _check_disclosure(ctx: SubscriptionContext, request_id: str, role: str, agency: str | None) -> None:
    """Refuse an approval whose would-be delivery breaks its disclosure policy (docs/privacy.md).

    Who may decide is checked first: a caller without the right learns that, not the risk.
    """
    with ctx.engine.connect() as conn:
        request = read_request(conn, request_id)
    if request is None or request.status != REQUESTED:
        return  # `decide` says why, under the ledger lock
    _check_rights(ctx.catalog, request, role, agency)
    sub, _ = check_subscription(request.spec.as_item(), request.spec.agency, ctx.catalog, where=request_id)
    reasons = ctx.disclosure_refusal(sub) if sub is not None else ()
    if reasons:
        raise BadInput(
            f"approval refused: {'; '.join(reasons)}",
            where=f"request {request_id}",
            hint="the agency may ask for fewer quasi-identifiers, or the purpose's disclosure policy "
            "may coarsen them (`govbus privacy risk` measures it)",
        )


def _check_rights(catalog: Catalog, request: Request, role: str, agency: str | None) -> None:
    needed = required_roles(catalog, request)
    dataset = catalog.datasets.get(request.spec.dataset)
    owner = dataset.contract.owner if dataset is not None else None
    if role not in needed:
        raise NoApproverRights(
            f"request {request.id} needs no {role} decision (it needs: {', '.join(needed)})",
            where=f"request {request.id}",
        )
    if role == OWNER and (agency is None or agency != owner):
        raise NoApproverRights(
            f"only the dataset's owner ({owner}) decides on access to {request.spec.dataset}",
            where=f"request {request.id}",
            hint=f"decide as agency {owner}",
        )
    if role == DATA_PROTECTION and agency is not None:
        raise NoApproverRights(
            "the data-protection officer decides for the bus, not for an agency",
            where=f"request {request.id}",
        )


def verify(conn: sa.Connection, public_keys: Mapping[str, Any]) -> list[str]:
    """Problems with stored requests and decisions; empty when every one checks out.

    Each decision's signature must verify with a trusted key, name its request and that
    request's fingerprint, and equal its ledger entry byte for byte; the request as
    stored must still have that fingerprint; an approved request must hold approvals.
    """
    problems: list[str] = []
    ledger = audit.AUDIT_METADATA.tables["ledger"]
    rq = state.subscription_requests
    for row in conn.execute(sa.select(rq.c.id)).scalars():
        request = read_request(conn, row)
        if request is None:
            continue
        where = f"request {request.id}"
        if document_sha256(request_document(request.spec, request.requested_at)) != request.request_sha256:
            problems.append(f"{where}: the stored request differs from the one decided on (fingerprint)")
        for stored in request.decisions:
            seq = stored.get("ledger_seq")
            document = {k: v for k, v in stored.items() if k != "ledger_seq"}
            check = audit.verify_document(document, public_keys)
            if not check.ok:
                problems.append(f"{where}: decision {seq}: {'; '.join(check.problems)}")
            if (
                document.get("request") != request.id
                or document.get("request_sha256") != request.request_sha256
            ):
                problems.append(f"{where}: decision {seq} is about another request")
            payload = conn.execute(sa.select(ledger.c.payload).where(ledger.c.seq == seq)).scalar()
            if payload is None or payload != audit.canonical_json(document):
                problems.append(f"{where}: decision {seq} differs from its ledger entry")
        if request.status == APPROVED and not any(d.get("decision") == APPROVE for d in request.decisions):
            problems.append(f"{where}: approved without an approving decision")
    return problems
