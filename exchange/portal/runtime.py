"""The portal's running state: the bus (opened on first use) and the authenticator.

The bus is opened lazily, not when the app is built: Airflow imports plugins (and so
builds the app) in every process, and mounted sub-applications get no startup event,
so opening the state database at import time would be wrong there. The first request
opens it once (under a lock); `govbus portal` opens it before serving, so a bad
configuration stops the command instead of failing the first page.

FastAPI dependencies here turn a request into a `Principal`: a bearer token first
(`Authorization: Bearer ...`; an invalid one is refused, not ignored), else the
session cookie of the login form. A request that changes something and came with the
session cookie must also carry the session's CSRF token (`form_principal`: the hidden
form field; `api_writer`: the `X-CSRF-Token` header), else it is refused with 403.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Annotated

from fastapi import Depends, Form, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from exchange.bus import Bus
from exchange.portal.auth import CSRF_FIELD, CSRF_HEADER, SESSION_COOKIE, Authenticator, check_agencies
from exchange.views.roles import NotAllowed, Principal

bearer = HTTPBearer(auto_error=False, description="A token from GOVBUS_PORTAL_TOKENS")


class LoginRequired(Exception):
    """A page was asked for without a valid session: the app redirects to the login form."""


class Portal:
    """One per app: opens the bus once and derives the session key from its key store."""

    def __init__(self, bus_factory: Callable[[], Bus], tokens: Mapping[str, Principal]) -> None:
        self._factory = bus_factory
        self._tokens = dict(tokens)
        self._lock = threading.Lock()
        self._bus: Bus | None = None
        self._auth: Authenticator | None = None

    def __repr__(self) -> str:
        return f"Portal(open={self._bus is not None})"

    def bus(self) -> Bus:
        """The bus, opened on the first call (once, under a lock).

        Opening also checks the tokens' agencies against its catalog and derives the session key; if that
        fails the bus is closed again and the error raised, so the next call tries again.
        """
        if self._bus is None:
            with self._lock:
                if self._bus is None:
                    bus = self._factory()
                    try:
                        check_agencies(self._tokens, bus.catalog)
                        key = bus.keys.derive("portal", "session")
                    except BaseException:
                        bus.close()
                        raise
                    self._auth = Authenticator(self._tokens, key)
                    self._bus = bus
        return self._bus

    def auth(self) -> Authenticator:
        """The authenticator; opens the bus first if needed (the session key comes from its key store)."""
        self.bus()
        assert self._auth is not None
        return self._auth

    def close(self) -> None:
        """Close the bus if it is open (at the app's shutdown); a later `bus()` would open it again."""
        with self._lock:
            if self._bus is not None:
                self._bus.close()
                self._bus = None
                self._auth = None


def portal_of(request: Request) -> Portal:
    """The `Portal` that `create_app` keeps in the app's state."""
    portal: Portal = request.app.state.portal
    return portal


def get_bus(portal: Portal = Depends(portal_of)) -> Bus:  # noqa: B008 - FastAPI's idiom
    """FastAPI dependency: the portal's bus, opened on the first request that needs it."""
    return portal.bus()


def caller(request: Request, credentials: HTTPAuthorizationCredentials | None) -> Principal | None:
    """The principal of this request, None if it brought no credentials at all."""
    auth = portal_of(request).auth()
    if credentials is not None:
        principal = auth.by_token(credentials.credentials)
        if principal is None:
            raise HTTPException(
                status_code=401,
                detail="the bearer token is not valid",
                headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
            )
        request.state.principal = principal
        request.state.session = None
        return principal
    cookie = request.cookies.get(SESSION_COOKIE)
    principal = auth.by_session(cookie) if cookie else None
    request.state.principal = principal  # lets error pages keep the caller's menu
    request.state.session = cookie if principal is not None else None  # its CSRF token is checked
    return principal


def csrf_for(request: Request) -> str:
    """The CSRF token forms of this page must carry: empty when the caller did not come by session."""
    cookie = getattr(request.state, "session", None)
    return portal_of(request).auth().csrf_token(cookie) if cookie else ""


def _require_csrf(request: Request, offered: str | None) -> None:
    cookie = getattr(request.state, "session", None)
    if cookie is not None and not portal_of(request).auth().csrf_ok(cookie, offered):
        raise NotAllowed(
            "the form does not carry this session's CSRF token",
            where="form",
            hint="open the page again from the portal and send the form from there",
        )


def api_principal(
    request: Request,
    credentials: HTTPAuthorizationCredentials | None = Depends(bearer),  # noqa: B008
) -> Principal:
    """For /api: a token or session, else 401 with a Bearer challenge."""
    principal = caller(request, credentials)
    if principal is None:
        raise HTTPException(
            status_code=401, detail="authentication required", headers={"WWW-Authenticate": "Bearer"}
        )
    return principal


def page_principal(
    request: Request,
    credentials: HTTPAuthorizationCredentials | None = Depends(bearer),  # noqa: B008
) -> Principal:
    """For HTML pages: a token or session, else the login form."""
    principal = caller(request, credentials)
    if principal is None:
        raise LoginRequired()
    return principal


def form_principal(
    request: Request,
    who: Principal = Depends(page_principal),  # noqa: B008
    csrf_token: Annotated[str, Form(alias=CSRF_FIELD, max_length=128)] = "",
) -> Principal:
    """For HTML forms that change something: `page_principal`, and with a session, its CSRF token."""
    _require_csrf(request, csrf_token)
    return who


def api_writer(request: Request, who: Principal = Depends(api_principal)) -> Principal:  # noqa: B008
    """For /api calls that change something: `api_principal`, and with a session cookie instead of a
    bearer token, the session's CSRF token in the `X-CSRF-Token` header."""
    _require_csrf(request, request.headers.get(CSRF_HEADER))
    return who
