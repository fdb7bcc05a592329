"""RestSource against a real paging API on 127.0.0.1: each paging style, incremental reads
by cursor with equal cursor values across batch and page boundaries, full-refresh resume."""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pytest

from connectors import RestSource, make_source
from govbus.errors import BadInput
from tests.connectors.rest.test_rest_http import FAST, ApiServer, Reply, Seen, reply

# 23 records; every three share an `updated_at`, so equal cursor values straddle both the
# API's pages (5 records) and the source's batches (4 rows). Listed in (updated_at, id) order.
RECORDS = [
    {"id": i, "updated_at": f"2024-05-01T08:{i // 3:02d}:00Z", "amount": Decimal(i) / 4, "name": f"n{i}"}
    for i in range(1, 24)
]
PAGE = 5


def collection(records: list[dict[str, Any]]) -> Callable[[Seen], Reply]:
    """An API serving `records` (filtered by an inclusive `since`) in every paging style."""

    def handle(request: Seen) -> Reply:
        rows = records
        if "since" in request.query:
            rows = [r for r in rows if r["updated_at"] >= request.query["since"]]
        body = rows
        if request.path == "/page":
            start = (int(request.query["page"]) - 1) * int(request.query["per_page"])
            return reply({"data": {"items": body[start : start + int(request.query["per_page"])]}})
        if request.path == "/offset":
            start = int(request.query["offset"])
            return reply({"data": {"items": body[start : start + int(request.query["limit"])]}})
        if request.path == "/cursor":
            start = int(request.query.get("cursor", "0"))
            following = str(start + PAGE) if start + PAGE < len(body) else None
            return reply({"data": {"items": body[start : start + PAGE]}, "meta": {"next": following}})
        start = int(request.query.get("from", "0"))  # /link: the next page is in the Link header
        headers = {}
        if start + PAGE < len(body):
            since = f"&since={request.query['since']}" if "since" in request.query else ""
            headers["Link"] = f'</link?from={start + PAGE}{since}>; rel="next", </link?from=0>; rel="first"'
        return reply({"data": {"items": body[start : start + PAGE]}}, headers=headers)

    return handle


PAGINGS = {
    "page": {"paging": "page", "page_size": PAGE},
    "offset": {"paging": "offset", "page_size": PAGE},
    "cursor": {"paging": "cursor", "next_token_path": "meta.next"},
    "link": {"paging": "link"},
}


def source(url: str, paging: str, cursor_field: str | None, **extra: Any) -> RestSource:
    settings = {"connector": "rest", "url": f"{url}/{paging}", "records_path": "data.items", **FAST}
    return make_source({**settings, **PAGINGS[paging], **extra}, key_fields=["id"], cursor_field=cursor_field)


@pytest.mark.parametrize("paging", sorted(PAGINGS))
def test_incremental_reads_page_every_way_and_resume_exactly(
    paging: str, assert_resumes_exactly: Callable[..., dict[str, Any]]
) -> None:
    with ApiServer(collection(RECORDS)) as api:
        src = source(api.url, paging, "updated_at", since_param="since")
        last = assert_resumes_exactly(src, [r["id"] for r in RECORDS], 4, key=lambda row: row["id"])
        [batch] = [b for b in src.read(None, batch_size=100)]
        assert batch.data.to_pylist() == RECORDS  # exact decimals, every field
        assert list(src.read(last)) == []  # nothing new
        src.close()
    assert last["after"] == ["2024-05-01T08:07:00Z", 23]
    resumed = [r for r in api.seen if "since" in r.query]
    assert resumed and all(r.query["since"].startswith("2024-05-01T08:") for r in resumed)


def test_without_since_param_the_source_filters_client_side() -> None:
    with ApiServer(collection(RECORDS)) as api:
        src = source(api.url, "page", "updated_at")
        batches = list(src.read(None, batch_size=10))
        again = list(src.read(batches[0].cursor, batch_size=100))
        src.close()
    assert [b.data.num_rows for b in batches] == [8, 9, 6]  # cut only where updated_at changes
    assert [row["id"] for row in again[0].data.to_pylist()] == list(range(9, 24))
    assert all("since" not in r.query for r in api.seen)


def test_a_group_of_equal_cursor_values_larger_than_a_batch_is_cut_by_key() -> None:
    same = [dict(r, updated_at="2024-05-01T08:00:00Z") for r in RECORDS[:10]]
    with ApiServer(collection(same)) as api:
        src = source(api.url, "cursor", "updated_at")
        batches = list(src.read(None, batch_size=4))
        rest = list(src.read(json.loads(json.dumps(batches[0].cursor)), batch_size=4))
        src.close()
    assert [[row["id"] for row in b.data.to_pylist()] for b in batches] == [
        [1, 2, 3, 4],
        [5, 6, 7, 8],
        [9, 10],
    ]
    assert [row["id"] for b in rest for row in b.data.to_pylist()] == list(range(5, 11))


@pytest.mark.parametrize("paging", sorted(PAGINGS))
def test_full_refresh_resumes_at_each_batch_boundary_then_starts_over(paging: str) -> None:
    ids = [r["id"] for r in RECORDS]
    with ApiServer(collection(RECORDS)) as api:
        src = source(api.url, paging, None)
        batches = list(src.read(None, batch_size=4))
        assert [row["id"] for b in batches for row in b.data.to_pylist()] == ids
        assert all(0 < b.data.num_rows <= 4 for b in batches)
        assert batches[-1].cursor["after"] is None  # the next read refreshes everything
        consumed = 0
        for batch in batches[:-1]:
            consumed += batch.data.num_rows
            cursor = json.loads(json.dumps(batch.cursor))
            rest = [row["id"] for b in src.read(cursor, batch_size=4) for row in b.data.to_pylist()]
            assert rest == ids[consumed:]
        assert [row["id"] for b in src.read(batches[-1].cursor) for row in b.data.to_pylist()] == ids
        src.close()


def test_records_out_of_cursor_order_are_refused() -> None:
    shuffled = [RECORDS[5], *RECORDS[:5], *RECORDS[6:]]
    with ApiServer(collection(shuffled)) as api:
        src = source(api.url, "page", "updated_at")
        with pytest.raises(BadInput, match="out of order by updated_at") as error:
            list(src.read(None))
        src.close()
    assert error.value.where is not None and error.value.where.endswith("/page?page=1&per_page=5")


def test_a_next_link_to_another_origin_is_refused() -> None:
    def handle(request: Seen) -> Reply:
        return reply([{"id": 1}], headers={"Link": '<http://evil.example/steal>; rel="next"'})

    with ApiServer(handle) as api:
        src = RestSource.from_settings(
            {"connector": "rest", "url": api.url, "paging": "link", **FAST},
            key_fields=["id"],
            cursor_field=None,
        )
        with pytest.raises(BadInput, match="leaves the configured origin"):
            list(src.read(None))
        src.close()
    assert len(api.seen) == 1  # nothing was sent to the other host


def test_an_api_repeating_its_next_token_is_refused() -> None:
    with ApiServer(lambda request: reply({"items": [{"id": 1}], "next": "same"})) as api:
        src = RestSource.from_settings(
            {"connector": "rest", "url": api.url, "paging": "cursor", "records_path": "items",
             "next_token_path": "next", **FAST},
            key_fields=["id"], cursor_field=None,
        )  # fmt: skip
        with pytest.raises(BadInput, match="same next page twice"):
            list(src.read(None))
        src.close()
    assert len(api.seen) == 2


def test_fields_mixing_json_types_become_text_and_bad_shapes_are_refused() -> None:
    answers = {
        "/mixed": [{"id": 1, "v": "x"}, {"id": 2, "v": 5}, {"id": 3}],
        "/object": {"items": {"id": 1}},
        "/scalars": [1, 2],
    }
    with ApiServer(lambda request: reply(answers[request.path])) as api:
        src = RestSource.from_settings(
            {"connector": "rest", "url": f"{api.url}/mixed"}, key_fields=["id"], cursor_field=None
        )
        [batch] = list(src.read(None))
        src.close()
        assert batch.data.column("v").to_pylist() == ["x", "5", None]
        assert batch.data.schema.field("v").type == pa.string()
        for path, message in [("/object", "no list of records"), ("/scalars", "not a JSON object")]:
            records_path = "items" if path == "/object" else None
            src = RestSource.from_settings(
                {"connector": "rest", "url": f"{api.url}{path}", "records_path": records_path},
                key_fields=["id"],
                cursor_field=None,
            )
            with pytest.raises(BadInput, match=message):
                list(src.read(None))
            src.close()
