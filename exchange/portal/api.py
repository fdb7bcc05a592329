"""The JSON API under /api (documented at /openapi.json).

Thin: each route resolves the caller, then calls the same function in `queries.py` /
`subjects.py` that the HTML page calls. Authenticate with `Authorization: Bearer TOKEN`
(or the login form's session cookie). Errors are JSON `{"detail": ...}` with 401 (no
or bad credentials), 403 (role does not cover it), 404 (unknown, or not yours), 400
(a body that is not JSON, a value refused), 422 (a value against the schema, named by
field, never echoed) and 503 (state database unavailable); every one is documented in
the OpenAPI document, which `tests/portal/test_api_fuzz.py` holds the API to.
The subject search is a POST so the typed id travels in the body, not in a URL that
proxies and access logs keep.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.dependencies.utils import get_flat_dependant
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute

from exchange.bus import Bus
from exchange.portal import models, queries, subjects
from exchange.portal.runtime import api_principal, get_bus
from exchange.views.audit_report import AuditReport, audit_report, parse_period
from exchange.views.roles import Principal

Caller = Annotated[Principal, Depends(api_principal)]
TheBus = Annotated[Bus, Depends(get_bus)]
DatasetFilter = Annotated[str | None, Query(max_length=128, description="only this dataset")]
# `runs.run_id` is a 32-bit INTEGER: a larger id cannot exist and must not reach the driver.
RunId = Annotated[int, Path(ge=1, le=2**31 - 1, description="as listed by /api/runs")]
PERIOD_NAMES = ("from", "to")
# Days as text of one shape (pydantic's `date` would also take `0` as 1970-01-01).
_DAY: dict[str, Any] = {"pattern": r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$", "json_schema_extra": {"format": "date"}}
PeriodStart = Annotated[str | None, Query(alias="from", description="first day (UTC), included", **_DAY)]
PeriodEnd = Annotated[str | None, Query(alias="to", description="last day (UTC), included", **_DAY)]

_ERRORS: dict[int | str, dict[str, str]] = {
    400: {"description": "a body that is not JSON, or a value the bus refuses (the detail says which)"},
    401: {"description": "no valid token or session"},
    403: {"description": "the caller's role does not cover this"},
    404: {"description": "unknown, or not visible to the caller"},
    503: {"description": "the state database or the bus's configuration is not available; retry later"},
}


def _declared_query(route: APIRoute) -> frozenset[str]:
    return frozenset(q.alias for q in get_flat_dependant(route.dependant).query_params)


def known_query_only(request: Request, _who: Caller) -> None:
    """Refuse query parameters the call does not declare (422), after authentication.

    A mistyped filter (`?datset=`, `?form=`) must not quietly answer for everything. The
    error names neither the parameters nor their values (either could be an id).
    """
    route = request.scope.get("route")
    declared = _declared_query(route) if isinstance(route, APIRoute) else frozenset()
    if set(request.query_params) - declared:
        takes = ", ".join(sorted(declared)) or "none"
        raise RequestValidationError(
            [
                {
                    "loc": ["query"],
                    "msg": f"unknown query parameter; this call takes: {takes}",
                    "type": "extra_forbidden",
                }
            ]
        )


router = APIRouter(
    prefix="/api", tags=["portal"], responses=_ERRORS, dependencies=[Depends(known_query_only)]
)


@router.get("/me", response_model=models.Me, summary="Who the token or session is")
def me(who: Caller) -> models.Me:
    """The role this token or session grants and, for the agency role, which agency."""
    return models.Me(role=who.role, agency=who.agency)


@router.get("/datasets", response_model=list[models.DatasetSummary], summary="The catalog")
def list_datasets(who: Caller, bus: TheBus) -> list[models.DatasetSummary]:
    """Datasets the caller may see: owner, contract, schema versions, subscribers, freshness."""
    return queries.datasets(bus, who)


@router.get("/datasets/{dataset_id}", response_model=models.DatasetDetail, summary="One dataset")
def get_dataset(who: Caller, bus: TheBus, dataset_id: str) -> models.DatasetDetail:
    """One dataset: contract, fields (name, classification, tags), stage counts and its 20 latest runs.

    Only the subscribers and runs the caller may see; a dataset it may not see is a 404, like an unknown one.
    """
    return queries.dataset_detail(bus, who, dataset_id)


@router.get("/runs", response_model=list[models.Run], summary="Run history, newest first")
def list_runs(
    who: Caller,
    bus: TheBus,
    dataset: DatasetFilter = None,
    limit: Annotated[int, Query(ge=1, le=queries.RUN_LIMIT_MAX)] = 100,
) -> list[models.Run]:
    """Recorded steps, newest first, at most `limit`.

    An agency gets its own datasets' steps and the deliveries to it; a `dataset` it may not see is a 404.
    """
    return queries.runs(bus, who, dataset=dataset, limit=limit)


@router.get("/runs/{run_id}", response_model=models.Run, summary="One run")
def get_run(who: Caller, bus: TheBus, run_id: RunId) -> models.Run:
    """One recorded step; a run the caller may not see is a 404, exactly like one that does not exist."""
    return queries.run(bus, who, run_id)


@router.get(
    "/quarantine", response_model=list[models.QuarantineSummary], summary="Quarantined rows by reason"
)
def list_quarantine(
    who: Caller, bus: TheBus, dataset: DatasetFilter = None
) -> list[models.QuarantineSummary]:
    """Counts only: the quarantined values never leave the state database."""
    return queries.quarantine(bus, who, dataset=dataset)


@router.get("/ledger", response_model=models.LedgerStatus, summary="Ledger head and verification")
def get_ledger(who: Caller, bus: TheBus) -> models.LedgerStatus:
    """Verifies the whole chain on every call (admins and auditors)."""
    return queries.ledger_status(bus, who)


@router.get("/audit/report", response_model=AuditReport, summary="Volumes per agency and purpose")
def get_audit_report(
    who: Caller, bus: TheBus, start: PeriodStart = None, end: PeriodEnd = None
) -> AuditReport:
    """Admins and auditors. Rows delivered, denied (by reason) and quarantined from the first
    day to the last (both included; either may be left open), per agency, purpose, dataset
    and basis, from the ledger and the quarantine table. `govbus audit report` also takes
    instants; here days are enough. A `to` before `from` is a 400."""
    who.require_audit_report()
    begin, until = parse_period(start, end, names=PERIOD_NAMES)
    return audit_report(bus, who, begin, until)


@router.post("/subjects/search", response_model=models.SubjectReport, summary="Deliveries of one person")
def search_subject(who: Caller, bus: TheBus, body: models.SubjectSearch) -> models.SubjectReport:
    """Auditors only. The national id is looked up by its audit pseudonym and not returned."""
    return subjects.subject_deliveries(bus, who, body.national_id)
