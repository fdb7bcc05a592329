"""The HTML pages: server-rendered with Jinja2, plain links and forms, no JavaScript.

Each page calls the same function in `queries.py` / `subjects.py` as its JSON twin in
`api.py`. Links are built with `url_for`, so the pages work at `/` (`govbus portal`)
and under a prefix (mounted in Airflow's API server).

The subject search posts its form (the typed id is not put in a URL, so it stays out
of access logs and browser history), and the page never shows the id back: the field
starts empty and the result names the person by the masked id (`******1234`); its
response, like every page, is sent with `Cache-Control: no-store`.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup

from exchange.bus import Bus
from exchange.portal import charts, citizen, citizen_text, history, queries, subjects
from exchange.portal.auth import SESSION_COOKIE, SESSION_MAX_AGE
from exchange.portal.runtime import csrf_for, get_bus, page_principal, portal_of
from exchange.views.audit_report import audit_report, parse_period
from exchange.views.catalog_entries import CatalogQuery, filter_values
from exchange.views.masked_ids import mask_id
from exchange.views.roles import Principal
from govbus.errors import BadInput

TEMPLATES = Path(__file__).resolve().parent / "templates"
# A path on this site: no scheme, no backslash, no whitespace or control characters
# (browsers drop tabs and newlines, which would turn "/\t/evil" into "//evil").
_LOCAL_PATH = re.compile(r"/[A-Za-z0-9/_.~%?=&+-]*")

Caller = Annotated[Principal, Depends(page_principal)]
TheBus = Annotated[Bus, Depends(get_bus)]
DatasetFilter = Annotated[str | None, Query(max_length=128)]
CatalogFilter = Annotated[str | None, Query(max_length=128)]


def _when(value: datetime | str | None) -> str:
    if isinstance(value, str):  # ISO 8601 text, as the catalog entries hold times
        value = datetime.fromisoformat(value)
    return "never" if value is None else value.strftime("%Y-%m-%d %H:%M:%S UTC")


def _stamp(value: datetime | str | None) -> Markup:
    """A table cell's time: minutes are enough there, and 16 characters fit a narrow column; the
    exact instant stays in the `<time>` element's `datetime` attribute."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value is None:
        return Markup("never")
    return Markup('<time datetime="{}">{}</time>').format(value.isoformat(), value.strftime("%Y-%m-%d %H:%M"))


def _num(value: int | None) -> str:
    return "" if value is None else f"{value:,}"


def _secs(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value:.2f} s" if value < 120 else f"{value / 60:.1f} min"


def _environment() -> Environment:
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=True, undefined=StrictUndefined)
    env.filters.update(when=_when, stamp=_stamp, num=_num, secs=_secs)
    return env


templates = Jinja2Templates(env=_environment())
router = APIRouter(include_in_schema=False)


def render(
    request: Request, name: str, who: Principal | None, status_code: int = 200, **context: Any
) -> Response:
    """Render template `name` with the caller (`who`; None when logged out) for the page header, and
    `csrf`: the session's CSRF token, which every form that changes something must carry."""
    csrf = csrf_for(request) if who is not None else ""
    return templates.TemplateResponse(
        request, name, {"who": who, "csrf": csrf, **context}, status_code=status_code
    )


def safe_next(request: Request, target: str | None) -> str:
    """Where to go after login: a path on this site only (no open redirect)."""
    if target and _LOCAL_PATH.fullmatch(target) and not target.startswith("//"):
        return target
    return str(request.url_for("catalog_page").path)


@router.get("/", name="home")
def home(request: Request) -> Response:
    """The root redirects (303) to the catalog, which asks for a login if needed."""
    return RedirectResponse(request.url_for("catalog_page").path, status_code=303)


@router.get("/login", name="login_page")
def login_page(request: Request, next: str | None = None) -> Response:
    """The login form; `next` is kept only if it is a path on this site."""
    return render(request, "login.html", None, next=safe_next(request, next), failed=False)


@router.post("/login", name="login")
def login(
    request: Request,
    token: Annotated[str, Form(max_length=512)] = "",
    next: Annotated[str, Form(max_length=2048)] = "",
) -> Response:
    """Check the typed token and set the signed session cookie (HttpOnly, SameSite=Strict).

    The cookie is marked Secure only when this request came over HTTPS. A wrong token gets the form
    again with 401; the token is never shown back.
    """
    cookie = portal_of(request).auth().session_for(token.strip())
    if cookie is None:
        return render(request, "login.html", None, 401, next=safe_next(request, next), failed=True)
    response = RedirectResponse(safe_next(request, next), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        cookie,
        max_age=SESSION_MAX_AGE,
        path=request.scope.get("root_path") or "/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


@router.post("/logout", name="logout")
def logout(request: Request) -> Response:
    """Drop the session cookie and go to the login form.

    Sessions are not stored: a copy of the cookie stays valid until it expires or its token is removed.
    """
    response = RedirectResponse(request.url_for("login_page").path, status_code=303)
    response.delete_cookie(SESSION_COOKIE, path=request.scope.get("root_path") or "/")
    return response


@router.get("/catalog", name="catalog_page")
def catalog_page(
    request: Request,
    who: Caller,
    bus: TheBus,
    owner: CatalogFilter = None,
    tag: CatalogFilter = None,
    purpose: CatalogFilter = None,
    q: CatalogFilter = None,
) -> Response:
    """Every dataset (every role), filtered by owner, tag, purpose and text; rows delivered only
    for the datasets whose exchanges the caller may see. A filter value the catalog does not
    know is said so, with an empty list."""
    query = CatalogQuery(owner=owner or None, tag=tag or None, purpose=purpose or None, search=q or None)
    return render(
        request,
        "catalog.html",
        who,
        entries=queries.catalog(bus, who, query),
        summaries={s.id: s for s in queries.datasets(bus, who)},
        form={"owner": owner or "", "tag": tag or "", "purpose": purpose or "", "q": q or ""},
        choices=filter_values(bus.catalog),
        unknown=query.unknown(bus.catalog),
    )


@router.get("/datasets/{dataset_id}", name="dataset_page")
def dataset_page(request: Request, who: Caller, bus: TheBus, dataset_id: str) -> Response:
    """One dataset's catalog entry for every role (404 if unknown); its exchanges (subscribers,
    stages, runs) only for those who take part in it, its quarantine link only for those who may."""
    entry = queries.catalog_entry_of(bus, who, dataset_id)
    takes_part = who.can_see_dataset(bus.catalog, dataset_id)
    detail = queries.dataset_detail(bus, who, dataset_id) if takes_part else None
    can_quarantine = who.can_see_quarantine(bus.catalog, dataset_id)
    shown: list[charts.Chart] = []
    reports: set[int] = set()
    if detail is not None:
        sla = bus.catalog.datasets[dataset_id].contract.sla.freshness
        hours = sla.total_seconds() / 3600 if sla is not None else None
        shown = charts.dataset_charts(history.stage_history(bus, who, dataset_id), hours)
        reports = history.with_reports(bus, detail.recent_runs)
    return render(
        request,
        "dataset.html",
        who,
        e=entry,
        d=detail,
        can_quarantine=can_quarantine,
        charts=shown,
        reports=reports,
    )


@router.get("/runs", name="runs_page")
def runs_page(request: Request, who: Caller, bus: TheBus, dataset: DatasetFilter = None) -> Response:
    """The latest 100 recorded steps the caller may see, newest first, optionally of one dataset."""
    found = queries.runs(bus, who, dataset=dataset)
    reports = history.with_reports(bus, found)
    return render(
        request, "runs.html", who, runs=found, dataset=dataset, reports=reports, hide_dataset=bool(dataset)
    )


@router.get("/runs/{run_id}/report", name="run_report")
def run_report(request: Request, who: Caller, bus: TheBus, run_id: int) -> Response:
    """The validation report a stage or replay step wrote (counts and rules only, no record's value),
    to whoever may see the run; 404 for a run without one or one the caller may not see.

    The page is the file `govbus report validation` names: self-contained, with its own
    inline style, so it gets the citizen report's policy (inline style, nothing else)."""
    path = history.validation_report(bus, who, run_id)
    return HTMLResponse(
        path.read_text(encoding="utf-8"),
        headers={"Content-Security-Policy": citizen.CONTENT_SECURITY_POLICY},
    )


@router.get("/quarantine", name="quarantine_page")
def quarantine_page(request: Request, who: Caller, bus: TheBus, dataset: DatasetFilter = None) -> Response:
    """Quarantined rows by reason, for the datasets whose quarantine the caller may see (counts only)."""
    return render(request, "quarantine.html", who, summaries=queries.quarantine(bus, who, dataset=dataset))


@router.get("/ledger", name="ledger_page")
def ledger_page(request: Request, who: Caller, bus: TheBus) -> Response:
    """Verify the whole ledger now and show the result (admins and auditors; others get 403)."""
    return render(request, "ledger.html", who, ledger=queries.ledger_status(bus, who))


def _subject(request: Request, who: Principal, bus: Bus, status_code: int = 200, **context: Any) -> Response:
    """The subject search page, with the report languages the deployment declares for its form."""
    codes = citizen_text.declared_languages(bus.settings.catalog_dir)
    languages = [(code, citizen_text.LANGUAGES[code].name) for code in codes]
    return render(request, "subject.html", who, status_code, languages=languages, **context)


@router.get("/subject", name="subject_page")
def subject_page(request: Request, who: Caller, bus: TheBus) -> Response:
    """The empty subject search form (auditors only)."""
    who.require_subject_search()
    return _subject(request, who, bus, masked="", report=None, error=None)


@router.post("/subject", name="subject_search")
def subject_search(
    request: Request,
    who: Caller,
    bus: TheBus,
    national_id: Annotated[str, Form(max_length=256)] = "",
) -> Response:
    """One person's deliveries (auditors only).

    A malformed id is answered with 400 and not shown back; a valid one is shown back only in the
    form's own input field.
    """
    who.require_subject_search()
    try:
        report = subjects.subject_deliveries(bus, who, national_id)
    except BadInput as exc:  # malformed id: say so, and do not show it back
        return _subject(request, who, bus, 400, masked="", report=None, error=exc.message)
    masked = mask_id(national_id)
    return _subject(request, who, bus, masked=masked, report=report, error=None)


@router.post("/subject/report", name="citizen_report")
def citizen_report_page(
    request: Request,
    who: Caller,
    bus: TheBus,
    national_id: Annotated[str, Form(max_length=256)] = "",
    lang: Annotated[str, Form(max_length=16)] = "",
) -> Response:
    """The citizen's access report (the same file as `govbus audit subject ID --format html`),
    shown to save, print and hand over, in the language chosen among those the deployment
    declares; the id appears in it only masked."""
    who.require_subject_search()
    try:
        code = citizen_text.chosen(bus.settings.catalog_dir, lang, where="lang")
        report = citizen.citizen_report(bus, who, national_id, lang=code)
    except BadInput as exc:
        return _subject(request, who, bus, 400, masked="", report=None, error=exc.message)
    return HTMLResponse(
        citizen.render_citizen_report(report),
        headers={
            "Content-Security-Policy": citizen.CONTENT_SECURITY_POLICY,
            "Content-Disposition": 'inline; filename="access-report.html"',
        },
    )


@router.get("/audit/report", name="audit_report_page")
def audit_report_page(
    request: Request,
    who: Caller,
    bus: TheBus,
    start: Annotated[str | None, Query(alias="from", max_length=40)] = None,
    end: Annotated[str | None, Query(alias="to", max_length=40)] = None,
) -> Response:
    """The audit report for a period (admins and auditors); an unreadable or empty period shows the form
    again with 400."""
    who.require_audit_report()
    form = {"start": start or "", "end": end or ""}
    try:
        begin, until = parse_period(start, end, names=("from", "to"))
    except BadInput as exc:
        return render(request, "audit_report.html", who, 400, report=None, error=exc.message, **form)
    report = audit_report(bus, who, begin, until)
    return render(request, "audit_report.html", who, report=report, error=None, **form)
