"""The Health Ministry's API in the sample deployment: a small HTTP JSON API on 127.0.0.1.

`GET /v1/disability-assessments` answers `{"data": [assessment, ...]}`, oldest change
first (ties by assessment id). Query: `since` — an ISO 8601 instant; only assessments
changed at or after it (inclusive, as the `rest` connector's resume expects); `limit` —
a page's size, 1 to 1000 (default 100). While more remain, a `Link: <…>; rel="next"`
header names the next page (an opaque keyset token `after`, so pages never skip or
repeat rows even when many share a timestamp). Every request needs
`Authorization: Bearer <token>`; without the right one the answer is 401. Dates are ISO
dates; `updated_at` is UTC with microseconds (`2026-05-01T06:00:00.000000Z`).

`serving(bus)` runs the API in a thread on a free port for the length of a run and points
`GOVBUS_HEALTH_API_URL` / `GOVBUS_HEALTH_TOKEN` at it (what the catalog's source names).
`python -m exchange.demo.health_api [--port 8765]` serves it alone, for Airflow workers.
"""

from __future__ import annotations

import base64
import datetime as dt
import errno
import hmac
import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import sqlalchemy as sa
from fastapi import Depends, FastAPI, HTTPException, Query, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from exchange.demo import health as demo_health
from exchange.demo.health import TOKEN_ENV, URL_ENV, assessments
from govbus.errors import BadConfiguration, FatalError

if TYPE_CHECKING:
    from exchange.bus import Bus

__all__ = ["PATH", "TOKEN_ENV", "URL_ENV", "create_app", "main", "running", "serving"]

PATH = "/v1/disability-assessments"
MAX_LIMIT = 1000
STANDALONE_PORT = 8765
_START_TIMEOUT = 10.0  # seconds to wait for the server thread to listen
_BEARER = HTTPBearer(auto_error=False)


def create_app(db: Path, token: str) -> FastAPI:
    """The API over the Ministry's SQLite file (opened read-only), accepting `token` only."""
    engine = sa.create_engine(f"sqlite:///file:{db}?mode=ro&uri=true")
    app = FastAPI(title="Health Ministry: disability assessments (GovBus sample)", version="1")
    app.state.engine = engine
    app.state.token = token.encode("utf-8")

    @app.get(PATH, dependencies=[Depends(_authorized)])
    def list_assessments(
        request: Request,
        response: Response,
        since: Annotated[dt.datetime | None, Query(description="changed at or after (ISO 8601)")] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
        after: Annotated[str | None, Query(description="the next link's page token")] = None,
    ) -> dict[str, list[dict[str, Any]]]:
        t = assessments.c
        query = sa.select(assessments).order_by(t.updated_at, t.assessment_id).limit(limit + 1)
        if since is not None:
            query = query.where(t.updated_at >= _naive_utc(since))
        if after is not None:
            position = _position(after)
            if position is None:
                raise HTTPException(400, detail="after is not a page token this API made")
            query = query.where(sa.tuple_(t.updated_at, t.assessment_id) > position)
        with engine.connect() as conn:
            rows = conn.execute(query).all()
        if len(rows) > limit:
            rows = rows[:limit]
            following = request.url.include_query_params(after=_token(rows[-1]))
            response.headers["Link"] = f'<{following}>; rel="next"'
        return {"data": [_record(row) for row in rows]}

    return app


def _authorized(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_BEARER)]
) -> None:
    """401 unless the request carries the app's bearer token (compared in constant time)."""
    given = credentials.credentials.encode("utf-8") if credentials is not None else b""
    if not hmac.compare_digest(given, request.app.state.token):
        raise HTTPException(
            401, detail="a valid bearer token is required", headers={"WWW-Authenticate": "Bearer"}
        )


def _naive_utc(value: dt.datetime) -> dt.datetime:
    """The register keeps naive UTC; a zone-less `since` is taken as UTC."""
    return value if value.tzinfo is None else value.astimezone(dt.UTC).replace(tzinfo=None)


def _record(row: Any) -> dict[str, Any]:
    return {
        "assessment_id": row.assessment_id,
        "national_id": row.national_id,
        "disability_degree": row.disability_degree,
        "diagnosis_group": row.diagnosis_group,
        "assessed_on": row.assessed_on.isoformat(),
        "review_on": row.review_on.isoformat() if row.review_on is not None else None,
        "board_code": row.board_code,
        "updated_at": row.updated_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
    }


def _token(row: Any) -> str:
    text = json.dumps([row.updated_at.isoformat(), row.assessment_id], separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode("utf-8")).decode("ascii").rstrip("=")


def _position(token: str) -> tuple[dt.datetime, str] | None:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        when, key = json.loads(raw)
        return dt.datetime.fromisoformat(when), str(key)
    except (ValueError, TypeError):
        return None


@contextmanager
def running(db: Path, token: str, *, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Serve the API from a thread while the block runs; yields its base URL.

    Port 0 takes a free port. A taken port is a BadConfiguration naming it.
    """
    import uvicorn

    sock = _bound(host, port)
    app = create_app(db, token)
    server = uvicorn.Server(
        uvicorn.Config(app, log_config=None, log_level="warning", access_log=False, lifespan="off")
    )
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="health-ministry-api", daemon=True
    )
    thread.start()
    try:
        deadline = time.monotonic() + _START_TIMEOUT
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise FatalError(
                    "the Health Ministry's demo API did not start",
                    where=f"{host}:{sock.getsockname()[1]}",
                    hint="rerun with --verbose to see the server's log",
                )
            time.sleep(0.01)
        yield f"http://{host}:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=_START_TIMEOUT)
        sock.close()
        app.state.engine.dispose()


def _bound(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise BadConfiguration(
                f"port {port} is taken by another program",
                where=f"the Health Ministry's demo API on {host}",
                hint="choose another with --port",
            ) from None
        raise
    return sock


@contextmanager
def serving(bus: Bus) -> Iterator[str | None]:
    """Run the Ministry's API for a run of the sample deployment; yield its URL (or None).

    Does nothing (yields None) when the catalog has no `health.disability`, this home
    has no seeded Ministry, or GOVBUS_HEALTH_API_URL already names an API to use. Else
    sets GOVBUS_HEALTH_API_URL (and GOVBUS_HEALTH_TOKEN, if unset, to the seeded token)
    for the block and puts them back after.
    """
    settings = bus.settings
    if not demo_health.serves_api(bus):
        yield None
        return
    token = demo_health.api_token(settings)
    saved = {name: os.environ.get(name) for name in (URL_ENV, TOKEN_ENV)}
    with running(demo_health.db_path(settings), token) as url:
        os.environ[URL_ENV] = url
        os.environ.setdefault(TOKEN_ENV, token)
        try:
            yield url
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value


def main(
    port: int = STANDALONE_PORT,
    host: str = "127.0.0.1",
) -> None:
    """Serve the seeded Health Ministry's API until interrupted (Ctrl-C)."""
    from exchange.state.settings import Settings

    settings = Settings.from_env()
    if not demo_health.is_seeded(settings):
        raise BadConfiguration(
            "the Health Ministry is not seeded", where=str(settings.home), hint="run `govbus demo` first"
        )
    with running(demo_health.db_path(settings), demo_health.api_token(settings), host=host, port=port) as url:
        print(f"export {URL_ENV}={url}", flush=True)
        print(f"export {TOKEN_ENV}=$(cat {demo_health.token_path(settings)})", flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    import sys

    import typer

    from govbus.errors import GovBusError

    try:
        typer.run(main)
    except GovBusError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)
