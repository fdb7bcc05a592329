"""The JSON API under /api (documented at /openapi.json).

Thin: each route resolves the caller, then calls the same function in `queries.py` /
`subjects.py` that the HTML page calls. `/api/catalog` describes every dataset to every
role (`exchange.views.catalog_entries`, the CLI's `govbus catalog ... --format json`);
`/api/datasets` is the exchanges of the datasets the caller takes part in.

Authenticate with `Authorization: Bearer TOKEN` (or the login form's session cookie).
Errors are JSON `{"detail": ...}` with 401 (no or bad credentials), 403 (role does not
cover it: the ledger, subject search, the runs and counts of a dataset the caller takes
no part in), 404 (unknown, or a run not yours), 400 (a body that is not JSON, a value
refused), 422 (a value against the schema, named by field, never echoed) and 503 (state
database unavailable); every one is documented in the OpenAPI document, which
`tests/portal/test_api_fuzz.py` holds the API to.
The subject search is a POST so the typed id travels in the body, not in a URL that
proxies and access logs keep.

Access requests (`/api/requests`) are the one place the API writes: an agency asks, the
dataset's owner and, where needed, the data-protection officer decide
(`access_requests.py`). A request the catalog's rules refuse is a 422 whose `refused`
lists every reason with the key to change; a decision on a decided request is a 409. A
write made with the login form's session cookie instead of a bearer token must carry the
session's CSRF token in the `X-CSRF-Token` header (403 otherwise).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.dependencies.utils import get_flat_dependant
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute

from exchange.bus import Bus
from exchange.portal import access_requests, models, queries, subjects
from exchange.portal.runtime import api_principal, api_writer, get_bus
from exchange.subscriptions.requests import RequestRefused
from exchange.views.audit_report import AuditReport, audit_report, parse_period
from exchange.views.catalog_entries import CatalogEntry, CatalogQuery
from exchange.views.roles import Principal

Caller = Annotated[Principal, Depends(api_principal)]
Writer = Annotated[Principal, Depends(api_writer)]
TheBus = Annotated[Bus, Depends(get_bus)]
DatasetFilter = Annotated[str | None, Query(max_length=128, description="only this dataset")]
CatalogFilter = Annotated[str | None, Query(max_length=128, description="exact; unknown matches nothing")]
# `runs.run_id` is a 32-bit INTEGER: a larger id cannot exist and must not reach the driver.
RunId = Annotated[int, Path(ge=1, le=2**31 - 1, description="as listed by /api/runs")]
RequestId = Annotated[
    str, Path(max_length=128, description="the request's id: the subscription id it becomes")
]
RequestStatus = Annotated[
    Literal["requested", "approved", "rejected"] | None, Query(description="only requests in this state")
]
PERIOD_NAMES = ("from", "to")
# Days as text of one shape (pydantic's `date` would also take `0` as 1970-01-01).
_DAY: dict[str, Any] = {"pattern": r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$", "json_schema_extra": {"format": "date"}}
PeriodStart = Annotated[str | None, Query(alias="from", description="first day (UTC), included", **_DAY)]
PeriodEnd = Annotated[str | None, Query(alias="to", description="last day (UTC), included", **_DAY)]

_ERRORS: dict[int | str, dict[str, str]] = {
    400: {"description": "a body that is not JSON, or a value the bus refuses (the detail says which)"},
    401: {"description": "no valid token or session"},
    403: {"description": "the caller's role does not cover this"},
    404: {"description": "unknown, or (a run) not visible to the caller"},
    503: {"description": "the state database or the bus's configuration is not available; retry later"},
}


def _declared_query(route: APIRoute) -> frozenset[str]:
    return frozenset(q.alias for q in get_flat_dependant(route.dependant).query_params)


def known_query_only(request: Request, _who: Caller) -> None:
    """Refuse query parameters the call does not declare, or given twice (422), after authentication.

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
    # Every parameter takes one value: `?dataset=a&dataset=b` would quietly answer for `b` only.
    if any(len(request.query_params.getlist(name)) > 1 for name in request.query_params):
        raise RequestValidationError(
            [{"loc": ["query"], "msg": "a query parameter is given more than once", "type": "too_long"}]
        )


router = APIRouter(
    prefix="/api", tags=["portal"], responses=_ERRORS, dependencies=[Depends(known_query_only)]
)


@router.get("/me", response_model=models.Me, summary="Who the token or session is")
def me(who: Caller) -> models.Me:
    """The role this token or session grants and, for the agency role, which agency."""
    return models.Me(role=who.role, agency=who.agency)


@router.get("/catalog", response_model=list[CatalogEntry], summary="The catalog: every dataset, described")
def list_catalog(
    who: Caller,
    bus: TheBus,
    owner: CatalogFilter = None,
    tag: CatalogFilter = None,
    purpose: CatalogFilter = None,
    q: Annotated[
        str | None, Query(max_length=128, description="text in the id, the description or a field name")
    ] = None,
) -> list[CatalogEntry]:
    """Every dataset's metadata, for every role: owner, fields with Avro types and descriptions,
    classification and tags, special categories in words (`fields[].special_category`: GDPR
    art. 9, or 10 for criminal offences), the rules in words, SLA and freshness, purposes
    served, the statutes that allow which fields, how many subscribers. Never a data value
    nor who subscribes.

    Filters: `owner` (agency id), `tag` (a field's tag), `purpose` (code), all exact, and `q`;
    a value the catalog does not know matches nothing. The body is `govbus catalog list
    --format json`'s.
    """
    query = CatalogQuery(owner=owner, tag=tag, purpose=purpose, search=q)
    return queries.catalog(bus, who, query)


@router.get("/catalog/{dataset_id}", response_model=CatalogEntry, summary="One dataset, described")
def get_catalog_entry(who: Caller, bus: TheBus, dataset_id: str) -> CatalogEntry:
    """One dataset's metadata, for every role (`govbus catalog show DATASET --format json`); 404: unknown."""
    return queries.catalog_entry_of(bus, who, dataset_id)


@router.get("/datasets", response_model=list[models.DatasetSummary], summary="Datasets you take part in")
def list_datasets(who: Caller, bus: TheBus) -> list[models.DatasetSummary]:
    """The datasets whose exchanges the caller may see (all for admins and auditors; an agency's
    own and those it receives): owner, contract, schema versions, subscribers, freshness.
    Every dataset's metadata is `/api/catalog`."""
    return queries.datasets(bus, who)


@router.get("/datasets/{dataset_id}", response_model=models.DatasetDetail, summary="One dataset's exchanges")
def get_dataset(who: Caller, bus: TheBus, dataset_id: str) -> models.DatasetDetail:
    """One dataset: contract, fields (name, classification, tags), stage counts and its 20 latest runs.

    Only the subscribers and runs the caller may see. 404 for an unknown dataset; 403 for one whose
    exchanges the caller takes no part in (its metadata is `/api/catalog/{dataset_id}`).
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


_REFUSED: dict[int | str, dict[str, Any]] = {
    422: {
        "model": models.Unprocessable,
        "description": "a body against the schema (`detail`), or a request the catalog's rules refuse "
        "(`refused`: every reason, each naming the key to change)",
    }
}
_DECIDED: dict[int | str, dict[str, Any]] = {409: {"description": "the request is decided already"}}


@router.post(
    "/requests",
    status_code=201,
    response_model=models.AccessRequest,
    responses=_REFUSED,
    summary="Ask for a dataset (agencies)",
)
def post_request(who: Writer, bus: TheBus, body: models.RequestBody) -> Any:
    """An agency asks for a dataset, for itself: purpose, fields, statute (or consent), sink,
    schedule, end date. Checked at once against the catalog's rules (`govbus subscription
    request`'s); refused with 422 and every reason, or stored as `requested` with a ledger
    entry. Admins, auditors and the dpo do not ask (403)."""
    spec = access_requests.spec_from_body(who, body)
    try:
        return access_requests.submit_access_request(bus, who, spec)
    except RequestRefused as exc:
        refused = [models.Refusal(field=p.field or None, message=p.message) for p in exc.problems]
        content = models.Unprocessable(
            detail="the catalog's rules refuse this request: change what each reason names",
            refused=refused,
        )
        return JSONResponse(content.model_dump(mode="json"), status_code=422)


@router.get("/requests", response_model=list[models.AccessRequest], summary="Access requests you may see")
def list_requests(
    who: Caller, bus: TheBus, dataset: DatasetFilter = None, status: RequestStatus = None
) -> list[models.AccessRequest]:
    """Newest first. An agency: its own requests and those for the datasets it owns (which it
    decides on); the dpo: those needing a data-protection decision; admins and auditors: all."""
    return access_requests.access_requests(bus, who, dataset=dataset, status=status)


@router.get("/requests/{request_id}", response_model=models.AccessRequest, summary="One access request")
def get_request(who: Caller, bus: TheBus, request_id: RequestId) -> models.AccessRequest:
    """With its signed decisions and what it waits for; 404 when unknown or not yours to see."""
    return access_requests.access_request(bus, who, request_id)


@router.post(
    "/requests/{request_id}/decisions",
    response_model=models.AccessRequest,
    responses=_DECIDED,
    summary="Approve or reject a request",
)
def post_decision(
    who: Writer, bus: TheBus, request_id: RequestId, body: models.DecisionBody
) -> models.AccessRequest:
    """The dataset's owner decides as `owner`, the dpo as `data-protection` (only where a
    requested field is sensitive or of a special category); each decision is signed and in
    the ledger. 403: the caller may not decide it; 404: not visible; 409: decided already.
    Approved by every required role, it is a subscription at once (state `new`)."""
    return access_requests.decide_access_request(
        bus, who, request_id, decision=body.decision, reason=body.reason
    )


@router.get(
    "/subscriptions", response_model=list[models.SubscriptionListing], summary="Subscriptions you may see"
)
def list_subscriptions(
    who: Caller, bus: TheBus, dataset: DatasetFilter = None
) -> list[models.SubscriptionListing]:
    """Both kinds — declared in catalog files and approved requests — with origin and lifecycle
    state. An agency: its own and those to datasets it owns; the dpo: none; admins, auditors: all."""
    return access_requests.subscription_listing(bus, who, dataset=dataset)
