"""The access-request pages: ask for a dataset, list requests, read one, decide on it.

Plain HTML forms posted to the server (the portal runs with JavaScript off). Every form
that changes something carries the session's CSRF token (`runtime.form_principal`). A
refused request comes back as the same form, filled in as sent, with every reason next
to the input it names (`Problem.field`) and HTTP 422; reasons about keys the form has no
input for are listed above it. The work, and who may do it, is `access_requests.py`,
shared with the JSON API.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from exchange.bus import Bus
from exchange.catalog import Problem
from exchange.portal import access_requests, queries
from exchange.portal.pages import render
from exchange.portal.runtime import form_principal, get_bus, page_principal
from exchange.subscriptions.requests import RequestRefused, RequestSpec
from exchange.views.roles import NotAllowed, NotVisible, Principal
from govbus.errors import BadInput

Caller = Annotated[Principal, Depends(page_principal)]
Poster = Annotated[Principal, Depends(form_principal)]
TheBus = Annotated[Bus, Depends(get_bus)]
Text = Annotated[str, Form(max_length=512)]
SINKS = ("parquet", "sql")  # what the form offers; the API takes any connector
# The form's inputs, by the key a refusal names; a reason about any other key goes above the form.
FORM_KEYS = (
    "id",
    "purpose",
    "fields",
    "basis",
    "sink",
    "schedule",
    "ends_on",
    "pseudonymize_subject",
    "note",
)

router = APIRouter(include_in_schema=False)


@dataclass(frozen=True)
class RequestForm:
    """The request form as typed, kept to show it again as sent when it is refused."""

    purpose: str = ""
    fields: tuple[str, ...] = ()
    basis: str = ""  # `consent` or `statute:ID`
    connector: str = SINKS[0]
    directory: str = ""
    url: str = ""
    table: str = ""
    schedule: str = ""
    ends_on: str = ""
    sub_id: str = ""
    pseudonymize: bool = False
    note: str = ""
    problems: tuple[Problem, ...] = field(default=())

    def spec(self, who: Principal, dataset_id: str) -> tuple[RequestSpec, list[Problem]]:
        """The room's `RequestSpec`, and what the form itself could not read (a date, the basis)."""
        where = f"request for {dataset_id}"
        problems: list[Problem] = []
        statute: str | None = None
        if self.basis.startswith("statute:") and self.basis[len("statute:") :].strip():
            statute = self.basis[len("statute:") :].strip()
        elif self.basis != "consent":
            problems.append(
                Problem(where, None, "basis", "choose a statute that names your agency, or consent")
            )
        ends_on = None
        if self.ends_on.strip():
            try:
                ends_on = date.fromisoformat(self.ends_on.strip())
            except ValueError:
                problems.append(
                    Problem(where, None, "ends_on", "not a date: write YYYY-MM-DD, or leave it empty")
                )
        if self.connector not in SINKS:
            problems.append(Problem(where, None, "sink", f"choose one of: {', '.join(SINKS)}"))
        sink = (
            {"connector": "sql", "url": self.url.strip(), "table": self.table.strip()}
            if self.connector == "sql"
            else {"connector": self.connector, "directory": self.directory.strip()}
        )
        assert who.agency is not None  # only agencies reach the form (`require_requester`)
        spec = RequestSpec(
            agency=who.agency,
            dataset=dataset_id,
            purpose=self.purpose,
            fields=self.fields,
            sink=sink,
            statute=statute,
            id=self.sub_id.strip() or None,
            schedule=self.schedule.strip() or None,
            ends_on=ends_on,
            pseudonymize_subject=self.pseudonymize,
            note=self.note.strip(),
            requested_by=who.label,
        )
        return spec, problems


def _by_key(problems: Sequence[Problem]) -> tuple[dict[str, list[str]], list[str]]:
    """Reasons by the form input they name, and those naming a key the form has no input for."""
    by_key: dict[str, list[str]] = defaultdict(list)
    other: list[str] = []
    for p in problems:
        if p.field in FORM_KEYS:
            by_key[p.field].append(p.message)
        else:
            other.append(f"{p.field}: {p.message}" if p.field else p.message)
    return dict(by_key), other


def _form_page(
    request: Request, who: Principal, bus: Bus, dataset_id: str, form: RequestForm, status: int = 200
) -> Response:
    entry = queries.catalog_entry_of(bus, who, dataset_id)
    errors, general = _by_key(form.problems)
    return render(
        request,
        "request_form.html",
        who,
        status,
        e=entry,
        form=form,
        purposes=list(bus.catalog.purposes.values()),
        statutes=[b for b in entry.legal_bases if b.recipient == who.agency],
        sinks=SINKS,
        errors=errors,
        general=general,
    )


@router.get("/datasets/{dataset_id}/request", name="request_form")
def request_form(request: Request, who: Caller, bus: TheBus, dataset_id: str) -> Response:
    """The empty request form for a dataset (agencies; 403 for other roles, 404 for an unknown dataset)."""
    who.require_requester()
    return _form_page(request, who, bus, dataset_id, RequestForm())


@router.post("/datasets/{dataset_id}/request", name="request_submit")
def request_submit(
    request: Request,
    who: Poster,
    bus: TheBus,
    dataset_id: str,
    purpose: Annotated[str, Form(max_length=128)] = "",
    fields: Annotated[list[str] | None, Form()] = None,
    basis: Annotated[str, Form(max_length=160)] = "",
    sink_connector: Annotated[str, Form(max_length=64)] = SINKS[0],
    sink_directory: Text = "",
    sink_url: Text = "",
    sink_table: Annotated[str, Form(max_length=128)] = "",
    schedule: Annotated[str, Form(max_length=128)] = "",
    ends_on: Annotated[str, Form(max_length=32)] = "",
    sub_id: Annotated[str, Form(alias="id", max_length=128)] = "",
    pseudonymize_subject: Annotated[str, Form(max_length=8)] = "",
    note: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """Ask: stored as `requested` (303 to the request's page), or the form again with every reason (422)."""
    who.require_requester()
    queries.catalog_entry_of(bus, who, dataset_id)  # 404 for an unknown dataset
    form = RequestForm(
        purpose=purpose,
        fields=tuple(f for f in (fields or []) if f),
        basis=basis,
        connector=sink_connector,
        directory=sink_directory,
        url=sink_url,
        table=sink_table,
        schedule=schedule,
        ends_on=ends_on,
        sub_id=sub_id,
        pseudonymize=bool(pseudonymize_subject),
        note=note,
    )
    spec, problems = form.spec(who, dataset_id)
    try:
        made = access_requests.submit_access_request(bus, who, spec, problems)
    except RequestRefused as exc:
        refused = dataclasses.replace(form, problems=tuple(exc.problems))
        return _form_page(request, who, bus, dataset_id, refused, 422)
    return RedirectResponse(request.url_for("request_page", request_id=made.id).path, status_code=303)


@router.get("/requests", name="requests_page")
def requests_page(
    request: Request,
    who: Caller,
    bus: TheBus,
    status: Annotated[Literal["requested", "approved", "rejected"] | None, Query()] = None,
) -> Response:
    """The requests the caller may see (those it decides on first) and the subscriptions it may see."""
    found = access_requests.access_requests(bus, who, status=status)
    return render(
        request,
        "requests.html",
        who,
        to_decide=[r for r in found if r.you_decide_as],
        others=[r for r in found if not r.you_decide_as],
        subscriptions=access_requests.subscription_listing(bus, who),
        status=status,
    )


def _request_page(
    request: Request, who: Principal, bus: Bus, request_id: str, status: int = 200, error: str | None = None
) -> Response:
    found = access_requests.access_request(bus, who, request_id)
    return render(request, "request.html", who, status, r=found, error=error)


@router.get("/requests/{request_id}", name="request_page")
def request_page(request: Request, who: Caller, bus: TheBus, request_id: str) -> Response:
    """One request: what it asks, its signed decisions, and the decision form for whoever decides now."""
    return _request_page(request, who, bus, request_id)


@router.post("/requests/{request_id}/decisions", name="request_decide")
def request_decide(
    request: Request,
    who: Poster,
    bus: TheBus,
    request_id: str,
    decision: Annotated[Literal["approve", "reject"], Form()],
    reason: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """Approve or reject (303 back to the request); a rejection without a reason shows the page
    again with 400. 403 when the caller may not decide, 404 when it may not see, 409 when decided."""
    if decision == "approve" and not reason.strip():
        reason = "approved"
    try:
        access_requests.decide_access_request(bus, who, request_id, decision=decision, reason=reason)
    except (NotAllowed, NotVisible, access_requests.NotOpen):
        raise
    except BadInput as exc:
        return _request_page(request, who, bus, request_id, 400, error=exc.message)
    return RedirectResponse(request.url_for("request_page", request_id=request_id).path, status_code=303)
