"""Approved requests join the catalog's subscriptions: both kinds, everywhere a subscription is.

`with_requested(catalog, conn)` adds every approved request to `catalog.subscriptions`
as a `Subscription` with `origin="request"` and `approval_seq` (the ledger seq of the
decision that completed its approval). Each is checked again by the catalog's rules
against the catalog as it is now: a request whose statute, dataset or fields have gone
since it was approved is left out, and `stale_requests` says why (for `govbus check`).
A request whose id a catalog file now uses is left out too: the file wins.

`export_yaml` writes requests as a `catalog/subscriptions/<agency>.yaml` file for teams
that keep every subscription in git.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import sqlalchemy as sa
import yaml

from exchange.catalog import Catalog, Problem, Subscription, check_subscription
from exchange.subscriptions.requests import APPROVED, Request, list_requests

__all__ = ["export_yaml", "requested_subscriptions", "stale_requests", "with_requested"]

STATE_DATABASE = "state database"


def requested_subscriptions(
    catalog: Catalog, requests: Sequence[Request]
) -> tuple[list[Subscription], list[Problem]]:
    """The approved requests as subscriptions, and the problems of those left out."""
    subs: list[Subscription] = []
    problems: list[Problem] = []
    for request in requests:
        if request.status != APPROVED:
            continue
        where = f"{STATE_DATABASE}: request {request.id}"
        if request.id in catalog.subscriptions and catalog.subscriptions[request.id].origin == "catalog":
            problems.append(Problem(where, None, "id", "a catalog file declares this id too; the file wins"))
            continue
        sub, found = check_subscription(request.spec.as_item(), request.spec.agency, catalog, where=where)
        if sub is None:
            problems.extend(found)
            continue
        approvals = [d.get("ledger_seq") for d in request.decisions if d.get("decision") == "approve"]
        seq = max((s for s in approvals if isinstance(s, int)), default=None)
        subs.append(dataclasses.replace(sub, origin="request", approval_seq=seq, file=STATE_DATABASE, line=0))
    return subs, problems


def with_requested(catalog: Catalog, conn: sa.Connection) -> Catalog:
    """The catalog with the approved requests among its subscriptions (modified in place)."""
    subs, _ = requested_subscriptions(catalog, list_requests(conn, status=APPROVED))
    for sub in subs:
        catalog.subscriptions[sub.id] = sub
    return catalog


def stale_requests(catalog: Catalog, conn: sa.Connection) -> list[Problem]:
    """Why approved requests are left out of the catalog (empty when none is)."""
    return requested_subscriptions(catalog, list_requests(conn, status=APPROVED))[1]


def export_yaml(requests: Sequence[Request], agency: str) -> str:
    """The agency's requests as the text of a `catalog/subscriptions/<agency>.yaml` file."""
    items = [r.spec.as_item() for r in requests if r.spec.agency == agency]
    header = (
        f"# Subscriptions of {agency}, exported from the state database (`govbus subscription export`).\n"
        "# Each was requested and approved at run time; its decisions are in the ledger.\n"
    )
    return header + yaml.safe_dump(
        {"agency": agency, "subscriptions": items}, sort_keys=False, allow_unicode=True
    )
