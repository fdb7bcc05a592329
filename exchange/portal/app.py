"""`create_app`: the portal as one FastAPI application (HTML pages + JSON API).

Run it with `govbus portal`, with any ASGI server (`uvicorn --factory
exchange.portal:create_app`), or mounted in Airflow 3's API server (`airflow_plugin.py`).

Errors map to HTTP the same way on pages and API: 401 no/invalid credentials (pages
redirect to the login form instead), 403 `NotAllowed`, 404 `NotVisible`, 409 `NotOpen`
(a decision on a decided request), 400 other `BadInput`, 503 `BadConfiguration` /
`TransientError`, 500 `FatalError`. Validation errors never echo what was sent (a typed
national id must not come back in a 422).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import BaseRoute, Match

from exchange.bus import Bus
from exchange.portal import api, ops_routes, pages, request_pages
from exchange.portal.access_requests import NotOpen
from exchange.portal.auth import parse_tokens, tokens_from_env
from exchange.portal.runtime import LoginRequired, Portal
from exchange.views.roles import NotAllowed, NotVisible, Principal
from govbus.errors import BadConfiguration, BadInput, GovBusError, TransientError

STATIC = Path(__file__).resolve().parent / "static"

_SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'self'; script-src 'none'; frame-ancestors 'none'",
}


def create_app(
    bus_factory: Callable[[], Bus] = Bus.open,
    tokens: Mapping[str, Principal] | str | None = None,
) -> FastAPI:
    """Build the portal. `tokens`: {token: Principal}, a `TOKEN=ROLE[:AGENCY],...` string,
    or None to read `GOVBUS_PORTAL_TOKENS` (BadConfiguration if unset or malformed).

    `bus_factory` is called once, on the first request that needs the bus; the bus is
    closed when the app shuts down.
    """
    if tokens is None:
        resolved = tokens_from_env()
    elif isinstance(tokens, str):
        resolved = parse_tokens(tokens, where="create_app(tokens=...)")
    else:
        resolved = dict(tokens)
    portal = Portal(bus_factory, resolved)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        portal.close()

    app = FastAPI(
        title="GovBus portal",
        summary="Catalog, runs, quarantine counts, the ledger and (for auditors) subject search.",
        version="1",
        docs_url=None,  # the interactive docs load scripts from a CDN; the document stays
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.portal = portal
    app.include_router(api.router)
    app.include_router(pages.router)
    app.include_router(request_pages.router)
    app.include_router(ops_routes.router)  # /metrics, /healthz, /readyz
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    _install_handlers(app)

    @app.middleware("http")
    async def security_headers(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        static = _local_path(request).startswith("/static/")  # before routing rewrites the scope
        response = await call_next(request)
        for name, value in _SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if static:
            response.headers["Cache-Control"] = "public, max-age=3600"  # the stylesheet only
        return response

    return app


def _local_path(request: Request) -> str:
    """The path inside the portal, without the prefix it is mounted at (Airflow: /govbus)."""
    prefix = request.scope.get("root_path", "")
    path = request.url.path
    return path[len(prefix) :] if prefix and path.startswith(prefix) else path


def _allowed_methods(request: Request) -> list[str]:
    """Every method some route takes at this path (one path may have a route per method)."""
    methods: set[str] = set()
    for route in request.app.router.routes:
        match, _ = route.matches(request.scope)
        if match != Match.NONE and isinstance(route, BaseRoute):
            methods.update(getattr(route, "methods", None) or ())
    return sorted(methods)


def _is_api(request: Request) -> bool:
    return _local_path(request).startswith(("/api/", "/openapi.json"))


def _status_of(exc: GovBusError) -> int:
    if isinstance(exc, NotAllowed):
        return 403
    if isinstance(exc, NotVisible):
        return 404
    if isinstance(exc, NotOpen):
        return 409
    if isinstance(exc, BadInput):
        return 400
    if isinstance(exc, BadConfiguration | TransientError):
        return 503
    return 500  # FatalError and anything unforeseen: an operator must look


def _error(request: Request, status: int, message: str, headers: Mapping[str, str] | None = None) -> Response:
    if _is_api(request):
        return JSONResponse({"detail": message}, status_code=status, headers=dict(headers or {}))
    who = getattr(request.state, "principal", None)
    response = pages.render(request, "error.html", who, status, status=status, message=message)
    response.headers.update(dict(headers or {}))
    return response


def _install_handlers(app: FastAPI) -> None:
    @app.exception_handler(LoginRequired)
    async def login_required(request: Request, _exc: LoginRequired) -> Response:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        login = request.url_for("login_page").path
        return RedirectResponse(f"{login}?{urlencode({'next': target})}", status_code=303)

    @app.exception_handler(GovBusError)
    async def govbus_error(request: Request, exc: GovBusError) -> Response:
        return _error(request, _status_of(exc), str(exc))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        headers = dict(exc.headers or {})
        if exc.status_code == 405:  # Starlette names only the first route of the path
            headers["Allow"] = ", ".join(_allowed_methods(request))
        return _error(request, exc.status_code, str(exc.detail), headers)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> Response:
        # Name where and what, never the value sent: it may be a national id.
        errors = [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
            for e in exc.errors()
        ]
        if _is_api(request):
            return JSONResponse({"detail": errors}, status_code=422)
        fields = ", ".join(str(e["loc"][-1]) for e in errors if e["loc"]) or "the request"
        return _error(request, 400, f"{fields}: not a valid value")
