"""Fuzzing the REST source's JSON pages against Python's `json` (issue 16's fuzz suite).

A real HTTP server on 127.0.0.1 answers with random bodies: lists of objects, other
JSON, garbage, bytes that are not UTF-8, nesting far deeper than `max_depth`, values
over `max_field_bytes`, bodies over `max_response_bytes`. The source must deliver
exactly the records `json.loads` reads — or refuse the page with a `GovBusError`
naming it when a bound or the shape is broken. Never another exception, never a hang.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connectors import make_source
from connectors.files.json_depth import max_depth
from govbus.errors import BadInput, GovBusError
from tests.connectors.fuzz_budget import fuzz
from tests.connectors.rest.test_rest_http import ApiServer, Seen

EXAMPLES = 120
BOUNDS = {"max_depth": 6, "max_field_bytes": 16, "max_response_bytes": 4000}
FAST = {"max_attempts": 1, "timeout": 5}

objects = st.lists(
    st.fixed_dictionaries(
        {"id": st.integers(0, 10**6)},
        optional={"b": st.one_of(st.none(), st.text(alphabet='xé€"\\', max_size=24))},
    ),
    max_size=12,
).map(lambda value: json.dumps(value).encode())
deep = st.integers(1, 50_000).map(lambda n: b"[" * n + b"]" * n)
garbage = st.one_of(
    st.binary(max_size=40), st.sampled_from([b"", b"{}", b"[1]", b"null", b'[{"id":1}', b"[{}]"])
)
large = st.integers(3000, 9000).map(lambda n: json.dumps([{"id": 1, "b": "x" * n}]).encode())
bodies = st.one_of(objects, objects, deep, garbage, large)


class Answer:
    """The body the server answers with next."""

    body = b"[]"


@pytest.fixture(scope="module")
def api() -> Iterator[str]:
    def handle(_: Seen) -> tuple[int, dict[str, str], bytes]:
        return 200, {"Content-Type": "application/json"}, Answer.body

    with ApiServer(handle) as server:
        yield server.url


def reference(body: bytes) -> list[dict[str, Any]] | None:
    """The records json reads, or None when the page breaks a rule (shape or bound)."""
    if len(body) > BOUNDS["max_response_bytes"] or max_depth(body) > BOUNDS["max_depth"]:
        return None
    try:
        records = json.loads(body, parse_float=Decimal)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        return None
    for record in records:
        if any(isinstance(v, str) and len(v.encode()) > BOUNDS["max_field_bytes"] for v in record.values()):
            return None
    return records


@fuzz(EXAMPLES)
@given(body=bodies)
def test_rest_delivers_exactly_what_json_reads_or_refuses_the_page(api: str, body: bytes) -> None:
    Answer.body = body
    source = make_source(
        {"connector": "rest", "url": f"{api}/items", **FAST, **BOUNDS}, key_fields=["id"], cursor_field=None
    )
    expected = reference(body)
    refused: GovBusError | None = None
    try:
        tables = [batch.data for batch in source.read(None)]
    except GovBusError as exc:
        refused = exc
    finally:
        source.close()
    if refused is not None:
        assert not expected, (body, refused)
        assert isinstance(refused, BadInput) and "127.0.0.1" in str(refused.where)
        return
    assert expected is not None, body
    # A record with no field at all carries nothing (pyarrow drops the rows of tables
    # without columns when it joins pages); every other record must arrive as json read it.
    expected = [record for record in expected if record]
    keys = {key for record in expected for key in record}
    rows = [row for table in tables for row in table.to_pylist() if any(v is not None for v in row.values())]
    assert rows == [
        {key: record.get(key) for key in keys}
        for record in expected
        if any(v is not None for v in record.values())
    ]
    assert sum(table.num_rows for table in tables) >= len(expected)
