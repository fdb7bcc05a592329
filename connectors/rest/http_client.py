"""HttpClient: the HTTP calls of the REST connectors — retries, rate limit, auth, redaction.

Built on httpx (connection pooling with keep-alive, separate connect/read timeouts).

* Retries: timeouts, connection errors, HTTP 408/425/429 and 5xx (not 501/505) are
  retried up to `max_attempts` in all, waiting a full-jitter exponential backoff
  (uniform in [0, min(backoff_max, backoff_initial · 2^(n-1))]) — or exactly what a
  `Retry-After` header asks (seconds or an HTTP date), up to `retry_after_max`. Then a
  `TransientError` names the URL (query values other than small numbers redacted) and
  the last failure. Only idempotent calls may be retried: GETs, and POSTs carrying an
  `Idempotency-Key` (the REST sink's).
* Other answers: 401/403 → BadConfiguration (credentials), 3xx/404/405/410 →
  BadConfiguration (address), other 4xx → BadInput (the request or its data was refused).
  A response body is never copied into a message: it may quote personal data.
* Rate limit: a token bucket (`rate_limit` requests/second, bursts of `rate_burst`),
  shared by every call of the client, retries included.
* Auth: the token is read from the environment variable the settings name (settings
  never hold a secret) and sent as `<auth_header>: <auth_scheme> <token>`.
* Bounds: a body longer than `max_response_bytes` is refused (`BadInput`) while it is
  read, never held whole.
* Logs: httpx logs every request's full URL at INFO; importing this module raises the
  `httpx` logger to WARNING, since a next-page link or token may be a secret.
"""

from __future__ import annotations

import email.utils
import logging
import os
import random
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit, urlunsplit

import httpx

from govbus.errors import BadConfiguration, BadInput, GovBusError, TransientError

logging.getLogger("httpx").setLevel(logging.WARNING)

RETRY_STATUSES = frozenset({408, 425, 429} | (set(range(500, 600)) - {501, 505}))
_SECRET_NAME = re.compile(r"(?i)token|key|secret|pass|auth|sig|session|code|credential|jwt|bearer")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry; seconds throughout."""

    max_attempts: int = 5
    backoff_initial: float = 0.5
    backoff_max: float = 30.0
    retry_after_max: float = 120.0

    def backoff(self, failures: int, rng: random.Random) -> float:
        """Full jitter: uniform in [0, min(backoff_max, backoff_initial · 2^(failures-1))]."""
        return rng.uniform(0.0, min(self.backoff_max, self.backoff_initial * 2 ** (failures - 1)))


class TokenBucket:
    """At most `rate` acquisitions per second on average, `burst` at once; thread-safe.

    A caller that finds the bucket empty sleeps (holding the lock, so waiters queue up)
    until its token has accrued. `rate=None` disables the limit.
    """

    def __init__(
        self,
        rate: float | None,
        burst: int = 1,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._rate, self._burst = rate, max(1, burst)
        self._tokens = float(self._burst)
        self._clock, self._sleep = clock, sleep
        self._last = clock()
        self._lock = threading.Lock()

    def acquire(self) -> None:
        """Take one token, sleeping until it accrues when the bucket is empty; no-op if `rate` is None."""
        if self._rate is None:
            return
        with self._lock:
            now = self._clock()
            self._tokens = min(self._burst, self._tokens + (now - self._last) * self._rate)
            self._last = now
            if self._tokens >= 1:
                self._tokens -= 1
                return
            wait = (1 - self._tokens) / self._rate
            self._sleep(wait)
            self._tokens, self._last = 0.0, now + wait


def auth_headers(token_env: str | None, header: str, scheme: str) -> dict[str, str]:
    """The auth header from the environment variable named `token_env` ({} when None)."""
    if token_env is None:
        return {}
    if not _ENV_NAME.fullmatch(token_env):
        raise BadConfiguration("must name an environment variable", where="token_env")
    token = os.environ.get(token_env, "")
    if not token:
        raise BadConfiguration(
            f"the environment variable {token_env} is not set",
            where="token_env",
            hint=f"export {token_env} with the API token before running",
        )
    return {header: f"{scheme} {token}" if scheme else token}


def redact_url(url: str, params: Mapping[str, Any] | None = None) -> str:
    """`url` (plus `params`) safe for messages: no user info, query values elided.

    A query value is kept only when it is a small number under a harmless name (a page
    or offset); every other value becomes `***`, since it may be a secret or a datum.
    """
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    query = parse_qsl(parts.query, keep_blank_values=True) + [(k, str(v)) for k, v in (params or {}).items()]
    shown = [
        f"{name}={value if value.isdigit() and len(value) <= 12 and not _SECRET_NAME.search(name) else '***'}"
        for name, value in query
    ]
    return urlunsplit((parts.scheme, host, parts.path, "&".join(shown), ""))


class HttpClient:
    """One pooled HTTP connection set with the retry, rate-limit and auth rules above."""

    def __init__(
        self,
        *,
        timeout: float,
        retry: RetryPolicy,
        rate_limit: float | None = None,
        rate_burst: int = 1,
        headers: Mapping[str, str] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
        max_response_bytes: int | None = None,
    ) -> None:
        self._timeout, self._retry, self._sleep = timeout, retry, sleep
        self._max_bytes = max_response_bytes
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not cryptography
        self._bucket = TokenBucket(rate_limit, rate_burst, sleep=sleep)
        self._client = httpx.Client(timeout=timeout, headers=dict(headers or {}), follow_redirects=False)

    def request(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | None = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        retry_statuses: frozenset[int] = RETRY_STATUSES,
    ) -> httpx.Response:
        """Send until a 2xx answer (returned, body read) or a final failure (raised)."""
        where = redact_url(url, params)
        failure = ""
        for attempt in range(1, self._retry.max_attempts + 1):
            self._bucket.acquire()
            response, failure = self._send(method, url, params, content, headers)
            if response is not None:
                if response.is_success:
                    return response
                if response.status_code not in retry_statuses:
                    raise _refused(response.status_code, where)
            if attempt < self._retry.max_attempts:
                self._sleep(self._wait(response, attempt, failure, where))
        raise TransientError(
            f"the API failed {self._retry.max_attempts} attempts (last: {failure})",
            where=where,
            hint="retry later; check that the API is up and the url setting",
        )

    def _send(
        self,
        method: str,
        url: str,
        params: Mapping[str, Any] | None,
        content: bytes | None,
        headers: Mapping[str, str] | None,
    ) -> tuple[httpx.Response | None, str]:
        """One attempt: the response (any status) or None, and what failed."""
        try:
            # params=None, not {}: httpx replaces the URL's own query with an empty mapping.
            request = self._client.build_request(
                method, url, params=params or None, content=content, headers=headers
            )
            streamed = self._client.send(request, stream=True)
            try:
                body = self._body(streamed, redact_url(url, params))
            finally:
                streamed.close()
            # A fresh response over the read (already decoded) body: httpx links a response
            # and its stream in a reference cycle, which only a full garbage collection
            # frees, so every page's body would otherwise stay in memory until then.
            headers = [
                (key, value)
                for key, value in streamed.headers.multi_items()
                if key.lower() not in ("content-encoding", "content-length", "transfer-encoding")
            ]
            response = httpx.Response(streamed.status_code, headers=headers, content=body, request=request)
        except httpx.TimeoutException as exc:
            return None, f"no answer within {self._timeout:g} s ({type(exc).__name__})"
        except httpx.UnsupportedProtocol:
            raise BadConfiguration("is not an http or https URL", where="url") from None
        except httpx.TransportError as exc:
            return None, f"connection failed ({type(exc).__name__})"
        return response, f"HTTP {response.status_code}"

    def _body(self, response: httpx.Response, where: str) -> bytes:
        """The (decoded) body, refused with `BadInput` once longer than max_response_bytes."""
        limit = self._max_bytes
        declared = response.headers.get("Content-Length", "")
        if limit is not None and declared.isdigit() and int(declared) > limit:
            raise _too_long(limit, where)
        pieces, size = [], 0
        for piece in response.iter_bytes():
            size += len(piece)
            if limit is not None and size > limit:
                raise _too_long(limit, where)
            pieces.append(piece)
        return b"".join(pieces)

    def _wait(self, response: httpx.Response | None, failures: int, failure: str, where: str) -> float:
        """Retry-After when the API sent one (refused beyond retry_after_max), else the backoff."""
        asked = None if response is None else _retry_after(response.headers.get("Retry-After"))
        if asked is None:
            return self._retry.backoff(failures, self._rng)
        if asked > self._retry.retry_after_max:
            raise TransientError(
                f"the API asks to retry after {asked:.0f} s ({failure})",
                where=where,
                hint=f"that is more than retry_after_max ({self._retry.retry_after_max:g} s): rerun later",
            )
        return asked

    def close(self) -> None:
        """Close the pooled connections; the client is not used afterwards."""
        self._client.close()


def _retry_after(value: str | None, *, now: Callable[[], float] = time.time) -> float | None:
    """Seconds to wait from a Retry-After header (delta seconds or HTTP date); None if absent."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None  # unreadable: fall back to the backoff
    return max(0.0, moment.timestamp() - now())


def _too_long(limit: int, where: str) -> BadInput:
    return BadInput(
        f"the API's answer is longer than max_response_bytes ({limit} bytes)",
        where=where,
        hint="ask for smaller pages (page_size), or raise max_response_bytes",
    )


def _refused(status: int, where: str) -> GovBusError:
    if status in (401, 403):
        return BadConfiguration(
            f"the API refused the credentials (HTTP {status})",
            where=where,
            hint="check the token in the environment variable named by token_env, and its rights",
        )
    if status < 400 or status in (404, 405, 410):
        return BadConfiguration(
            f"the API has no such resource here (HTTP {status})",
            where=where,
            hint="check the url setting (redirects are not followed)",
        )
    return BadInput(f"the API refused the request (HTTP {status})", where=where)
