"""The JSON API under /api (documented at /openapi.json).

Thin: each route resolves the caller, then calls the same function in `queries.py` /
`subjects.py` that the HTML page calls. Authenticate with `Authorization: Bearer TOKEN`
(or the login form's session cookie). Errors are JSON `{"detail": ...}` with 401 (no
or bad credentials), 403 (role does not cover it), 404 (unknown, or not yours), 400.
The subject search is a POST so the typed id travels in the body, not in a URL that
proxies and access logs keep.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from exchange.bus import Bus
from exchange.portal import models, queries, subjects
from exchange.portal.roles import Principal
from exchange.portal.runtime import api_principal, get_bus

Caller = Annotated[Principal, Depends(api_principal)]
TheBus = Annotated[Bus, Depends(get_bus)]
DatasetFilter = Annotated[str | None, Query(max_length=128, description="only this dataset")]

_ERRORS: dict[int | str, dict[str, str]] = {
    401: {"description": "no valid token or session"},
    403: {"description": "the caller's role does not cover this"},
    404: {"description": "unknown, or not visible to the caller"},
}

router = APIRouter(prefix="/api", tags=["portal"], responses=_ERRORS)


@router.get("/me", response_model=models.Me, summary="Who the token or session is")
def me(who: Caller) -> models.Me:
    return models.Me(role=who.role, agency=who.agency)


@router.get("/datasets", response_model=list[models.DatasetSummary], summary="The catalog")
def list_datasets(who: Caller, bus: TheBus) -> list[models.DatasetSummary]:
    """Datasets the caller may see: owner, contract, schema versions, subscribers, freshness."""
    return queries.datasets(bus, who)


@router.get("/datasets/{dataset_id}", response_model=models.DatasetDetail, summary="One dataset")
def get_dataset(who: Caller, bus: TheBus, dataset_id: str) -> models.DatasetDetail:
    return queries.dataset_detail(bus, who, dataset_id)


@router.get("/runs", response_model=list[models.Run], summary="Run history, newest first")
def list_runs(
    who: Caller,
    bus: TheBus,
    dataset: DatasetFilter = None,
    limit: Annotated[int, Query(ge=1, le=queries.RUN_LIMIT_MAX)] = 100,
) -> list[models.Run]:
    return queries.runs(bus, who, dataset=dataset, limit=limit)


@router.get("/runs/{run_id}", response_model=models.Run, summary="One run")
def get_run(who: Caller, bus: TheBus, run_id: int) -> models.Run:
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


@router.post("/subjects/search", response_model=models.SubjectReport, summary="Deliveries of one person")
def search_subject(who: Caller, bus: TheBus, body: models.SubjectSearch) -> models.SubjectReport:
    """Auditors only. The national id is looked up by its audit pseudonym and not returned."""
    return subjects.subject_deliveries(bus, who, body.national_id)
