"""The conformance kit on the REST connector: its sink POSTs records to a real HTTP API on
127.0.0.1 and its source pages through them.

`Collection` is that API's state: it applies each `Idempotency-Key` once (as `RestSink`
requires), keeps every record as the JSON text it received, serves them sorted by
(`updated_at`, `id`) with offset paging and an inclusive `since` filter, and answers a
page in time independent of the collection's size (so a million records page quickly).
JSON carries text and numbers: what the source reads is checked after the bus's conform
step (`schemas.conform`).
"""

from __future__ import annotations

import bisect
import json
import threading
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import pyarrow as pa
import pytest

import schemas
from connectors import Sink, Source, make_sink, make_source
from connectors.testing import CURSOR, KEY, ConnectorConformance, ConnectorHarness
from tests.connectors.rest.test_rest_http import FAST, ApiServer, Reply, Seen, reply

SMALL_PAGE = 4  # cuts the kit's batches (5 rows) and cursor groups (7 rows) everywhere
LARGE_PAGE = 5_000  # for the memory check's million rows


class Collection:
    """The API's records (see the module doc); `handle` answers one request."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.keys: set[str] = set()
        self.order: list[tuple[str, str]] = []  # (updated_at or "", id) of each record, sorted
        self.texts: list[bytes] = []  # the records' JSON, in the same order
        self.pending: list[tuple[tuple[str, str], bytes]] = []

    def handle(self, request: Seen) -> Reply:
        if request.method == "POST":
            return self._post(request)
        return self._get(request)

    def __len__(self) -> int:
        with self.lock:
            return len(self.texts) + len(self.pending)

    def _post(self, request: Seen) -> Reply:
        key = request.headers.get("idempotency-key")
        if not key:
            return reply({"error": "Idempotency-Key required"}, 400)
        with self.lock:
            if key in self.keys:
                return reply({"status": "duplicate"}, 200)
            for record in json.loads(request.body)["records"]:
                text = json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode()
                self.pending.append(((record.get(CURSOR) or "", record[KEY]), text))
            self.keys.add(key)
        return reply({"status": "applied"}, 201)

    def settle(self) -> None:
        """Sort the records posted since the last GET in (done by a GET if not before)."""
        with self.lock:
            if self.pending:
                merged = sorted([*zip(self.order, self.texts, strict=True), *self.pending])
                self.order = [key for key, _ in merged]
                self.texts = [text for _, text in merged]
                self.pending = []

    def _get(self, request: Seen) -> Reply:
        self.settle()
        with self.lock:
            since = request.query.get("since")
            first = bisect.bisect_left(self.order, (since, "")) if since else 0
            start = first + int(request.query.get("offset", "0"))
            page = self.texts[start : start + int(request.query["limit"])]
        body = b'{"data":{"items":[' + b",".join(page) + b"]}}"
        return 200, {"Content-Type": "application/json"}, body


class RestHarness(ConnectorHarness):
    """An empty collection behind `api`: RestSink posts to it, RestSource pages through it."""

    def __init__(self, api: ApiServer, collection: Collection) -> None:
        self.api, self.collection = api, collection
        # JSON's one true limit: it has no number for NaN or infinity. Binary (as hex text),
        # maps (as objects) and nanosecond timestamps come back exactly.
        self.types_not_supported = {
            "double-nan-inf": "JSON has no NaN or infinity: RestSink refuses them",
        }

    def make_source(self, *, key_fields: Sequence[str], cursor_field: str | None) -> Source:
        self.collection.settle()  # the API's own work, done before a read is measured
        page = SMALL_PAGE if len(self.collection) < 10_000 else LARGE_PAGE
        settings: dict[str, Any] = {
            "connector": "rest",
            "url": f"{self.api.url}/records",
            "records_path": "data.items",
            "paging": "offset",
            "page_size": page,
            "since_param": "since",
            **FAST,
        }
        return make_source(settings, key_fields=key_fields, cursor_field=cursor_field)

    def make_sink(self, *, schema: pa.Schema, key_fields: Sequence[str]) -> Sink:
        settings = {"connector": "rest", "url": f"{self.api.url}/records", **FAST}
        return make_sink(settings, key_fields=key_fields, schema=schema)

    def seed(self, table: pa.Table, *, key_fields: Sequence[str], cursor_field: str | None) -> None:
        super().seed(table, key_fields=key_fields, cursor_field=cursor_field)
        self.api.seen.clear()  # the server's request log would hold every body

    def conform(self, table: pa.Table, avro_schema: Mapping[str, Any]) -> pa.Table:
        result = schemas.conform(table, schemas.parse_schema(dict(avro_schema)))
        assert result.issues.num_rows == 0, result.issues.to_pylist()
        return result.table


class TestRest(ConnectorConformance):
    @pytest.fixture
    def harness(self) -> Iterator[RestHarness]:
        collection = Collection()
        with ApiServer(collection.handle) as api:
            yield RestHarness(api, collection)
