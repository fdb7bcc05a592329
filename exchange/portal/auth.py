"""Who is calling: bearer tokens, the login form's signed session cookie.

Tokens come from the environment variable `GOVBUS_PORTAL_TOKENS`, never from the
catalog (which is in git): `TOKEN=admin,TOKEN=agency:tax,TOKEN=auditor,TOKEN=dpo`,
entries separated by commas (`dpo`: the data-protection officer). A token is at least
16 characters (`openssl rand -hex 16`). No message ever repeats a token: errors name the
entry's position.

A browser logs in once with its token; the portal then keeps a session cookie signed
with a key derived from the bus's key store (so sessions survive a restart and no extra
secret needs configuring). The cookie holds an HMAC of the token, not the token, and is
re-checked against the configured tokens on every request: removing a token from the
environment and restarting ends its sessions.

Forms that change something (an access request, a decision) carry a CSRF token: an HMAC
of the session cookie under the session key (`csrf_token`), so it is per session, needs
no server-side store, and a page of another site cannot know it. The cookie's
`SameSite=Strict` already keeps it off cross-site posts; the token does not rely on the
browser honouring that. Bearer-token callers carry no ambient credential and need none.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from collections.abc import Iterable, Mapping

from itsdangerous import BadSignature, URLSafeTimedSerializer

from exchange.catalog.loader import Catalog
from exchange.views.roles import AGENCY, ROLES, Principal
from govbus.errors import BadConfiguration

TOKENS_ENV = "GOVBUS_PORTAL_TOKENS"
MIN_TOKEN_LENGTH = 16
SESSION_COOKIE = "govbus_session"
SESSION_MAX_AGE = 8 * 3600  # a working day; then the login form again
CSRF_FIELD = "csrf_token"  # the hidden input of every form that changes something
CSRF_HEADER = "X-CSRF-Token"  # the same token, for an API write made with a session cookie


def parse_tokens(spec: str, *, where: str = f"environment variable {TOKENS_ENV}") -> dict[str, Principal]:
    """`TOKEN=ROLE[:AGENCY],...` → {token: Principal}. Raises BadConfiguration, never echoing a token."""
    tokens: dict[str, Principal] = {}
    entries = [e.strip() for e in spec.split(",") if e.strip()]
    if not entries:
        raise BadConfiguration(
            "no portal tokens are configured",
            where=where,
            hint="set it to TOKEN=admin,TOKEN=agency:ID,TOKEN=auditor,TOKEN=dpo "
            "(tokens from `openssl rand -hex 16`)",
        )
    for number, entry in enumerate(entries, start=1):
        token, _, grant = entry.partition("=")
        token, grant = token.strip(), grant.strip()
        here = f"{where}, entry {number}"
        if len(token) < MIN_TOKEN_LENGTH:
            raise BadConfiguration(
                f"the token is shorter than {MIN_TOKEN_LENGTH} characters",
                where=here,
                hint="generate one with `openssl rand -hex 16`",
            )
        role, _, agency = grant.partition(":")
        if role not in ROLES:
            raise BadConfiguration(f"unknown role {role!r}", where=here, hint=f"one of: {', '.join(ROLES)}")
        if (role == AGENCY) != bool(agency):
            raise BadConfiguration(
                "only the agency role names an agency, and it must",
                where=here,
                hint="write agency:ID, or admin / auditor / dpo alone",
            )
        if token in tokens:
            raise BadConfiguration("the same token is listed twice", where=here)
        tokens[token] = Principal(role=role, agency=agency or None)
    return tokens


def tokens_from_env(env: Mapping[str, str] | None = None) -> dict[str, Principal]:
    """The tokens in `GOVBUS_PORTAL_TOKENS` (of `env`, default the process's); BadConfiguration if unset or
    malformed, never echoing a token."""
    env = os.environ if env is None else env
    return parse_tokens(env.get(TOKENS_ENV, ""))


def demo_tokens(agencies: Iterable[str]) -> dict[str, Principal]:
    """Fresh random tokens for `govbus portal --demo`: admin, auditor, dpo and each agency.

    Made anew for each start and held only in that process (never written, never in the catalog),
    so a demo's tokens end with it; they are for trying the portal out, not for a deployment.
    """
    grants = [Principal(role) for role in ("admin", "auditor", "dpo")]
    grants += [Principal(AGENCY, agency) for agency in sorted(agencies)]
    return {secrets.token_hex(16): principal for principal in grants}


def check_agencies(tokens: Mapping[str, Principal], catalog: Catalog) -> None:
    """Every agency a token names must be a member in the catalog (a typo would lock it out)."""
    for number, principal in enumerate(tokens.values(), start=1):
        if principal.agency is not None and principal.agency not in catalog.agencies:
            raise BadConfiguration(
                f"unknown agency {principal.agency!r}",
                where=f"environment variable {TOKENS_ENV}, entry {number}",
                hint=f"known: {', '.join(sorted(catalog.agencies))}",
            )


class Authenticator:
    """Resolves a bearer token or a session cookie to a `Principal` (or None)."""

    def __init__(self, tokens: Mapping[str, Principal], session_key: bytes) -> None:
        self._tokens = dict(tokens)
        self._key = session_key
        self._by_token_id = {self._token_id(t): p for t, p in self._tokens.items()}
        self._cookies = URLSafeTimedSerializer(session_key, salt="govbus-portal-session")

    def __repr__(self) -> str:  # never show tokens or the key
        return f"Authenticator({len(self._tokens)} tokens)"

    def _token_id(self, token: str) -> str:
        return hmac.new(self._key, token.encode(), hashlib.sha256).hexdigest()

    def by_token(self, token: str) -> Principal | None:
        """Constant-time comparison with every configured token."""
        found: Principal | None = None
        offered = token.encode()
        for known, principal in self._tokens.items():
            if hmac.compare_digest(known.encode(), offered):
                found = principal
        return found

    def session_for(self, token: str) -> str | None:
        """The cookie value for a valid token, or None when the token is not configured."""
        if self.by_token(token) is None:
            return None
        # `sid`: a random id, so two logins with one token are two sessions with two CSRF tokens.
        return self._cookies.dumps({"tid": self._token_id(token), "sid": secrets.token_hex(16)})

    def by_session(self, cookie: str) -> Principal | None:
        """The caller of a session cookie; None if its signature is wrong, it is older than `SESSION_MAX_AGE`,
        or its token is no longer configured."""
        try:
            data = self._cookies.loads(cookie, max_age=SESSION_MAX_AGE)
        except BadSignature:  # also covers expiry (SignatureExpired)
            return None
        if not isinstance(data, dict) or not isinstance(data.get("tid"), str):
            return None
        return self._by_token_id.get(data["tid"])

    def csrf_token(self, cookie: str) -> str:
        """The CSRF token of the session whose cookie this is (a new login, a new token)."""
        return hmac.new(self._key, b"csrf\0" + cookie.encode(), hashlib.sha256).hexdigest()

    def csrf_ok(self, cookie: str, offered: str | None) -> bool:
        """Whether `offered` is this session's CSRF token (constant-time)."""
        return bool(offered) and hmac.compare_digest(self.csrf_token(cookie), str(offered))
