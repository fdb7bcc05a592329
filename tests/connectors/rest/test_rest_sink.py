"""RestSink against a real API on 127.0.0.1 that applies each idempotency key once."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pytest

from connectors import RestSink, make_sink
from govbus.errors import BadInput, TransientError
from tests.connectors.rest.test_rest_http import FAST, ApiServer, Reply, Seen, reply

SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("amount", pa.decimal128(14, 2)),
        ("at", pa.timestamp("us", tz="Europe/Oslo")),
        ("day", pa.date32()),
        ("ok", pa.bool_()),
        ("scan", pa.binary()),
        ("tags", pa.list_(pa.string())),
    ]
)
MOMENT = dt.datetime(2024, 3, 1, 12, 30, 0, 123_456, tzinfo=dt.UTC)
ROWS = [
    {"id": f"r{i}", "amount": Decimal("1234.50") + i, "at": MOMENT, "day": dt.date(2024, 2, 29),
     "ok": i % 2 == 0, "scan": b"\x00\xff", "tags": ["a", "b"]}
    for i in range(5)
] + [{"id": "r5", **dict.fromkeys(["amount", "at", "day", "ok", "scan", "tags"])}]  # fmt: skip
BATCH = pa.Table.from_pylist(ROWS, schema=SCHEMA)


class Ingest:
    """The receiving API: applies a key's records once; a repeat is answered 200, not applied.

    `lose_first_answer`: the first request of each key is applied, then its answer is
    lost (the server stalls past the client's timeout) — the case retries exist for.
    """

    def __init__(self, *, lose_first_answer: bool = False) -> None:
        self.applied: dict[str, list[dict[str, Any]]] = {}
        self.lose_first_answer = lose_first_answer
        self.lock = threading.Lock()

    def __call__(self, request: Seen) -> Reply:
        key = request.headers.get("idempotency-key")
        if key is None:
            return reply({"error": "Idempotency-Key required"}, 400)
        with self.lock:
            repeat = key in self.applied
            if not repeat:
                self.applied[key] = json.loads(request.body)["records"]
        if not repeat and self.lose_first_answer:
            time.sleep(0.6)
        return reply({"status": "duplicate" if repeat else "applied"}, 200 if repeat else 201)


def sink(url: str, **extra: Any) -> RestSink:
    return make_sink({"connector": "rest", "url": url, **FAST, **extra}, key_fields=["id"], schema=SCHEMA)


def test_a_retried_post_is_applied_once_because_it_carries_the_same_key() -> None:
    api_state = Ingest(lose_first_answer=True)
    with ApiServer(api_state) as api:
        out = sink(f"{api.url}/ingest", timeout=0.3)
        receipt = out.write("stage7-0-health", BATCH)
        out.write("stage7-0-health", BATCH)  # a re-delivery after a crash
        out.close()
    posts = [request for request in api.seen if request.method == "POST"]
    assert [request.headers["idempotency-key"] for request in posts] == ["stage7-0-health"] * 3
    assert posts[0].body == posts[1].body == posts[2].body
    assert list(api_state.applied) == ["stage7-0-health"]
    assert len(api_state.applied["stage7-0-health"]) == 6
    assert (receipt.batch_id, receipt.rows, receipt.location) == ("stage7-0-health", 6, f"{api.url}/ingest")


def test_values_are_sent_as_exact_json() -> None:
    api_state = Ingest()
    with ApiServer(api_state) as api:
        out = sink(api.url)
        out.write("b-1", BATCH)
        out.close()
    [records] = api_state.applied.values()
    assert records[0] == {
        "id": "r0",
        "amount": "1234.50",
        "at": "2024-03-01T12:30:00.123456Z",
        "day": "2024-02-29",
        "ok": True,
        "scan": "00ff",
        "tags": ["a", "b"],
    }
    assert records[5] == {**dict.fromkeys(SCHEMA.names), "id": "r5"}  # nulls stay null
    assert api.seen[0].headers["content-type"] == "application/json"


def test_a_large_batch_goes_in_parts_with_stable_keys_and_a_bare_list_body() -> None:
    bodies: dict[str, Any] = {}

    def handle(request: Seen) -> Reply:
        bodies[request.headers["idempotency-key"]] = json.loads(request.body)
        return reply({}, 204 if len(bodies) % 2 else 200)

    with ApiServer(handle) as api:
        out = sink(api.url, max_records=4, records_key=None)
        assert out.write("b-9", BATCH).rows == 6
        assert out.write("empty", BATCH.slice(0, 0)).rows == 0
        out.close()
    assert list(bodies) == ["b-9.0", "b-9.1"]
    assert [len(body) for body in bodies.values()] == [4, 2]
    assert [row["id"] for body in bodies.values() for row in body] == [f"r{i}" for i in range(6)]


def test_refusals_are_final_and_unavailability_is_transient() -> None:
    with ApiServer(lambda request: reply({"error": "r0 is invalid"}, 422)) as api:
        out = sink(api.url)
        with pytest.raises(BadInput, match="HTTP 422") as error:
            out.write("b", BATCH)
        out.close()
    assert len(api.seen) == 1 and "r0" not in str(error.value)
    with ApiServer(lambda request: reply({}, 409)) as api:  # the key is still being processed
        out = sink(api.url)
        with pytest.raises(TransientError, match="failed 4 attempts"):
            out.write("b", BATCH)
        out.close()
    assert len(api.seen) == 4


def test_nan_cannot_be_sent_as_json() -> None:
    schema = pa.schema([("x", pa.float64())])
    with ApiServer(Ingest()) as api:
        out = RestSink.from_settings({"connector": "rest", "url": api.url}, key_fields=(), schema=schema)
        with pytest.raises(BadInput, match="NaN"):
            out.write("b", pa.table({"x": [float("nan")]}))
        out.close()
    assert api.seen == []


def test_maps_are_json_objects_and_nested_binary_is_hex() -> None:
    """The wire form the REST source and the conform step read back (docs/connectors.md)."""
    kind = pa.map_(pa.field("key", pa.string(), nullable=False), pa.string())
    table = pa.table(
        {
            "id": ["a", "b", "c"],
            "labels": pa.array([[("k", "v"), ("ключ", 'q"uote')], [], None], kind),
            "parts": pa.array([[b"\x00\x01"], [], None], pa.list_(pa.binary())),
        }
    )
    api_state = Ingest()
    with ApiServer(api_state) as api:
        out = sink(api.url)
        out.write("b-m", table)
        out.close()
    [records] = api_state.applied.values()
    assert records == [
        {"id": "a", "labels": {"k": "v", "ключ": 'q"uote'}, "parts": ["0001"]},
        {"id": "b", "labels": {}, "parts": []},
        {"id": "c", "labels": None, "parts": None},
    ]


def test_a_nan_inside_a_nested_value_is_refused_naming_the_column() -> None:
    table = pa.table({"id": ["a"], "scores": pa.array([[1.0, float("inf")]], pa.list_(pa.float64()))})
    with ApiServer(Ingest()) as api:
        out = sink(api.url)
        with pytest.raises(BadInput, match="NaN or infinite") as error:
            out.write("b", table)
        out.close()
    assert "scores" in str(error.value)
    assert api.seen == []
