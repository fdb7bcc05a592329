"""`/metrics`, `/healthz` and `/readyz`: what a Prometheus server and a load balancer ask.

* `/metrics` — the Prometheus text exposition of the whole bus (`exchange.ops.metrics`),
  read from the state database at each scrape through the portal's bus. Counts and
  catalog ids only; set `GOVBUS_METRICS_TOKEN` to require `Authorization: Bearer <it>`.
* `/healthz` — 200 while the process answers; touches nothing.
* `/readyz` — 200 when the state database answers, its schema is current and the keys
  are there, else 503 naming the failed check (`exchange.ops.readiness`). It opens no bus
  (opening one would migrate the schema and create keys: readiness must only look).

None of them needs a portal login: scrapers and probes carry no session. Their answers
hold no data value, URL or path.
"""

from __future__ import annotations

import hmac
import os

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response

from exchange import ops
from exchange.bus import Bus
from exchange.portal.runtime import get_bus

__all__ = ["METRICS_TOKEN_ENV", "router"]

METRICS_TOKEN_ENV = "GOVBUS_METRICS_TOKEN"  # noqa: S105 - the variable's name, not a token

router = APIRouter(include_in_schema=False)


@router.get("/metrics")
def metrics(request: Request, bus: Bus = Depends(get_bus)) -> Response:  # noqa: B008 - FastAPI's idiom
    """The bus's metrics for Prometheus (a bearer token when GOVBUS_METRICS_TOKEN is set)."""
    expected = os.environ.get(METRICS_TOKEN_ENV, "")
    if expected:
        given = request.headers.get("authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {expected}".encode()):
            return JSONResponse(
                {"detail": f"a bearer token ({METRICS_TOKEN_ENV}) is required"},
                status_code=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
    return Response(ops.exposition(bus.engine, bus.catalog), media_type=ops.CONTENT_TYPE)


@router.get("/healthz")
def healthz() -> JSONResponse:
    """The process is up and serving."""
    return JSONResponse({"status": "ok"})


@router.get("/readyz")
async def readyz() -> JSONResponse:
    """Ready when the state database answers at the expected revision and the keys are present."""
    found = await run_in_threadpool(ops.readiness)
    return JSONResponse(found.to_json(), status_code=200 if found.ok else 503)
