"""The REST connectors' HTTP behaviour against real HTTP servers on 127.0.0.1.

`ApiServer` (also used by test_rest_source and test_rest_sink) is a stdlib HTTP server in
a thread whose answers come from a handler function; it records every request it got.
"""

from __future__ import annotations

import email.utils
import itertools
import json
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

from connectors import RestSource, make_source
from connectors.rest.http_client import TokenBucket, redact_url
from govbus.errors import BadConfiguration, TransientError

FAST = {"max_attempts": 4, "backoff_initial": 0.01, "backoff_max": 0.05, "timeout": 2}


@dataclass(frozen=True)
class Seen:
    """One request as the server got it; `at` is time.monotonic() on arrival."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    at: float


Reply = tuple[int, dict[str, str], bytes]


def reply(document: Any, status: int = 200, headers: dict[str, str] | None = None) -> Reply:
    text = json.dumps(document, default=float)  # decimals as JSON numbers
    return status, {"Content-Type": "application/json", **(headers or {})}, text.encode()


class ApiServer:
    """A real HTTP/1.1 server on 127.0.0.1 (a free port) answering with `handle(request)`."""

    def __init__(self, handle: Callable[[Seen], Reply]) -> None:
        self.handle = handle
        self.seen: list[Seen] = []
        lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go in separate writes

            def log_message(self, *args: Any) -> None:
                pass

            def serve(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                split = urlsplit(self.path)
                request = Seen(
                    self.command,
                    split.path,
                    dict(parse_qsl(split.query, keep_blank_values=True)),
                    {name.lower(): value for name, value in self.headers.items()},
                    body,
                    time.monotonic(),
                )
                with lock:
                    server.seen.append(request)
                status, headers, payload = server.handle(request)
                try:
                    self.send_response(status)
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up waiting (a timeout test)

            do_GET = do_POST = serve

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def __enter__(self) -> ApiServer:
        threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


def read_all(settings: dict[str, Any]) -> list[dict[str, Any]]:
    source = make_source({"connector": "rest", **FAST, **settings}, key_fields=["id"], cursor_field=None)
    try:
        return [row for batch in source.read(None) for row in batch.data.to_pylist()]
    finally:
        source.close()


def test_500_twice_then_success_is_retried_with_backoff() -> None:
    def handle(request: Seen) -> Reply:
        if len(api.seen) <= 2:
            return reply({"error": "boom"}, 500)
        return reply([{"id": 1, "amount": 12.50}])

    with ApiServer(handle) as api:
        rows = read_all({"url": f"{api.url}/items"})
    assert rows == [{"id": 1, "amount": Decimal("12.50")}]  # exact: JSON decimals are not floats
    assert [request.path for request in api.seen] == ["/items"] * 3


def test_429_waits_what_retry_after_asks_in_seconds_and_as_an_http_date() -> None:
    def handle(request: Seen) -> Reply:
        if len(api.seen) == 1:
            return reply({}, 429, {"Retry-After": "1"})
        if len(api.seen) == 2:  # an HTTP date 1-2 s ahead (whole seconds)
            return reply({}, 503, {"Retry-After": email.utils.formatdate(time.time() + 2, usegmt=True)})
        return reply([{"id": 7}])

    with ApiServer(handle) as api:
        assert read_all({"url": api.url}) == [{"id": 7}]
    first, second, third = (request.at for request in api.seen)
    assert 0.95 <= second - first < 3  # Retry-After: 1, not the 10-50 ms backoff
    assert 0.9 <= third - second < 3


def test_a_retry_after_beyond_the_maximum_fails_at_once_as_transient() -> None:
    with ApiServer(lambda request: reply({}, 429, {"Retry-After": "3600"})) as api:
        with pytest.raises(TransientError, match="retry after 3600 s") as error:
            read_all({"url": api.url, "retry_after_max": 60})
    assert len(api.seen) == 1
    assert "retry_after_max" in (error.value.hint or "")


def test_an_api_that_never_answers_times_out_then_fails_naming_the_url_without_secrets() -> None:
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)  # accepts connections (in the backlog) and never answers
    port = silent.getsockname()[1]
    started = time.monotonic()
    try:
        with pytest.raises(TransientError) as error:
            read_all(
                {
                    "url": f"http://127.0.0.1:{port}/v1/status?api_key=s3cr3t",
                    "paging": "page",
                    "max_attempts": 2,
                    "timeout": 0.3,
                }
            )
    finally:
        silent.close()
    assert time.monotonic() - started < 5
    assert "failed 2 attempts" in str(error.value) and "no answer within 0.3 s" in str(error.value)
    assert error.value.where == f"http://127.0.0.1:{port}/v1/status?api_key=***&page=1&per_page=100"
    assert "s3cr3t" not in str(error.value)


def test_connection_refused_is_retried_then_transient() -> None:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()  # nothing listens there now
    with pytest.raises(
        TransientError, match=r"failed 4 attempts \(last: connection failed \(ConnectError\)\)"
    ):
        read_all({"url": f"http://127.0.0.1:{port}/x"})


def test_the_token_comes_from_the_named_environment_variable_and_is_never_shown(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HEALTH_API_TOKEN", "tok-123")
    with ApiServer(lambda request: reply({}, 401)) as api:
        with pytest.raises(BadConfiguration, match="refused the credentials") as error:
            read_all({"url": api.url, "token_env": "HEALTH_API_TOKEN"})
        assert len(api.seen) == 1  # 401 is final: no retry
        assert api.seen[0].headers["authorization"] == "Bearer tok-123"
        assert "tok-123" not in str(error.value)
        monkeypatch.delenv("HEALTH_API_TOKEN")
        with pytest.raises(BadConfiguration) as error:
            read_all({"url": api.url, "token_env": "HEALTH_API_TOKEN"})
        assert error.value.where == "token_env" and "HEALTH_API_TOKEN" in str(error.value)
        assert len(api.seen) == 1


def test_the_rate_limit_spaces_requests() -> None:
    def handle(request: Seen) -> Reply:
        page = int(request.query["page"])
        return reply([{"id": page}] if page <= 5 else [])

    with ApiServer(handle) as api:
        read_all({"url": api.url, "paging": "page", "page_size_param": None})  # warm up, no limit
        api.seen.clear()
        rows = read_all({"url": api.url, "paging": "page", "rate_limit": 20, "page_size_param": None})
    assert [row["id"] for row in rows] == [1, 2, 3, 4, 5]
    arrivals = [request.at for request in api.seen]
    gaps = [later - earlier for earlier, later in itertools.pairwise(arrivals)]
    assert len(gaps) == 5 and min(gaps) >= 0.04  # one token per 1/20 s (a little arrival jitter)


def test_token_bucket_allows_bursts_then_the_rate() -> None:
    now = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    bucket = TokenBucket(10, burst=3, clock=lambda: now[0], sleep=sleep)
    for _ in range(5):
        bucket.acquire()
    assert slept == pytest.approx([0.1, 0.1])  # three at once, then one per 1/10 s
    now[0] += 1.0  # idle a second: the bucket refills to its burst, not beyond
    for _ in range(3):
        bucket.acquire()
    assert len(slept) == 2


def test_settings_are_checked_and_never_echo_values() -> None:
    for settings, where in [
        ({"url": "ftp://host/x"}, "url"),
        ({"url": "https://user:pw@host/x"}, "url"),
        ({"url": "https://host/x", "paging": "pages"}, "paging"),
        ({"url": "https://host/x", "paging": "cursor"}, "next_token_path"),
        ({"url": "https://host/x", "max_attempts": 0}, "max_attempts"),
        ({"url": "https://host/x", "password": "hunter2"}, "password"),
        ({"url": "https://host/x", "params": {"q": ["hunter2"]}}, "params.q"),
    ]:
        with pytest.raises(BadConfiguration) as error:
            RestSource.from_settings({"connector": "rest", **settings}, key_fields=["id"], cursor_field=None)
        assert error.value.where == where
        assert "hunter2" not in str(error.value) and "pw@" not in str(error.value)


def test_redacted_urls_keep_small_numbers_only() -> None:
    assert (
        redact_url("https://u:p@api.example:8443/v1/x?page=3&since=2024-01-01&token=99", {"offset": 40})
        == "https://api.example:8443/v1/x?page=3&since=***&token=***&offset=40"
    )


def test_request_urls_are_not_logged(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG", logger="connectors")
    caplog.set_level("INFO")
    with ApiServer(lambda request: reply([{"id": 1}])) as api:
        read_all({"url": f"{api.url}/v1?signature=opaque-link-secret"})
    assert len(api.seen) == 1
    assert "opaque-link-secret" not in caplog.text
