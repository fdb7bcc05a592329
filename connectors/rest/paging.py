"""Fetching a REST collection page by page, each page's records as an Arrow table.

Paging (setting `paging`) and when it stops:
* `none`: one request.
* `page` / `offset`: the page number (from `first_page`) or the offset (from 0, advanced
  by the records received) goes in the query; it stops at the first empty page — not at
  a short one, since an API may cap the page size below what was asked.
* `cursor`: the next token is read at `next_token_path` in the answer and sent as
  `token_param`; it stops when the token is absent, null or empty.
* `link`: it follows the `Link: <url>; rel="next"` header, which must stay on the
  configured URL's origin (the token is never sent elsewhere); it stops without one.
A token or link seen twice is refused (an API looping would otherwise never end).

Bounds: an answer nesting deeper than `max_depth` is refused before it is parsed, a
record holding a value over `max_field_bytes` refuses its page (`BadInput` naming the
page, record and field); the answer's length is bounded by the client.

Records are parsed exactly: JSON numbers with a fraction become decimals, not floats.
A page's records become one table (fields united over the records); a field whose values
differ in JSON type across records (or whose types the pages of one batch cannot share,
`concat_pages`) becomes text, so conforming it to the schema
quarantines the rows that do not fit instead of failing the page.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx
import numpy as np
import pyarrow as pa

from connectors.files.bounds import Limits, value_problems
from connectors.files.json_depth import max_depth
from connectors.rest.http_client import HttpClient, redact_url
from connectors.rest.settings import RestSourceSettings
from govbus.errors import BadInput


@dataclass(frozen=True)
class Page:
    """One answer: `state` fetches this page again (page number, offset, token or URL;
    None for the first page of token and link paging); `where` is its redacted URL."""

    state: Any
    records: pa.Table
    where: str


def fetch_pages(
    client: HttpClient, settings: RestSourceSettings, *, since: str | None, start: Any = None
) -> Iterator[Page]:
    """The pages from `start` (a Page.state; None: the first page) to the last."""
    params = dict(settings.params)
    if since is not None and settings.since_param:
        params[settings.since_param] = since
    paging = settings.paging
    state = start
    if state is None and paging in ("page", "offset"):
        state = settings.first_page if paging == "page" else 0
    seen: set[str] = set()
    while True:
        url, query = _request_of(settings, params, state)
        response = client.request("GET", url, params=query)
        where = redact_url(url, query)
        body = _json(response, where, settings.limits)
        table = records_table(_dig(body, settings.records_path, where, "records_path"), where)
        _check_values(table, where, settings.limits)
        yield Page(state, table, where)
        if paging == "none" or (paging in ("page", "offset") and table.num_rows == 0):
            return
        if paging in ("page", "offset"):
            state = state + 1 if paging == "page" else state + table.num_rows
            continue
        following = (
            _next_token(body, settings, where) if paging == "cursor" else _next_link(response, settings)
        )
        if following is None:
            return
        if following in seen:
            raise BadInput(
                "the API sent the same next page twice", where=where, hint="check the paging settings"
            )
        seen.add(following)
        state = following


def records_table(records: object, where: str) -> pa.Table:
    """The records (a list of JSON objects) as a table; the Python objects stop here."""
    if not isinstance(records, list):
        raise BadInput(
            "the answer holds no list of records at records_path", where=where, hint="check records_path"
        )
    if not all(isinstance(record, dict) for record in records):
        raise BadInput("a record is not a JSON object", where=where, hint="check records_path")
    if not records:
        return pa.table({})
    try:
        return pa.Table.from_struct_array(pa.array(records))
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, OverflowError):
        return _column_by_column(records)


def _column_by_column(records: list[dict[str, Any]]) -> pa.Table:
    """The slow path for pages mixing JSON types in a field: such a field becomes text."""
    names = list(dict.fromkeys(name for record in records for name in record))
    columns = []
    for name in names:
        values = [record.get(name) for record in records]
        try:
            columns.append(pa.array(values))
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, OverflowError):
            columns.append(pa.array([None if v is None else _text(v) for v in values], pa.string()))
    return pa.Table.from_arrays(columns, names=names)


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, Decimal):  # a JSON number: its own digits, not a quoted string
        return str(value)
    return json.dumps(value, default=str)


def concat_pages(tables: list[pa.Table]) -> pa.Table:
    """Records of several pages as one table. A field whose types the pages cannot share
    (text on one page, decimals of another scale on the next) becomes text on every page,
    as a field mixing JSON types within one page does."""
    try:
        return pa.concat_tables(tables, promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        pass
    types: dict[str, set[pa.DataType]] = {}
    for table in tables:
        for field in table.schema:
            if not pa.types.is_null(field.type):
                types.setdefault(field.name, set()).add(field.type)
    mixed = {name for name, seen in types.items() if len(seen) > 1}
    texts = [
        pa.Table.from_arrays(
            [_text_column(table[name]) if name in mixed else table[name] for name in table.column_names],
            names=table.column_names,
        )
        for table in tables
    ]
    return pa.concat_tables(texts, promote_options="permissive")


def _text_column(column: pa.ChunkedArray) -> pa.Array:
    if pa.types.is_string(column.type):
        return column.combine_chunks()
    try:
        return column.combine_chunks().cast(pa.string())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):  # nested values: their JSON text
        return pa.array([None if v is None else _text(v) for v in column.to_pylist()], pa.string())


def _request_of(
    settings: RestSourceSettings, params: dict[str, str], state: Any
) -> tuple[str, dict[str, Any]]:
    query: dict[str, Any] = dict(params)
    if settings.paging in ("page", "offset"):
        query[settings.page_param if settings.paging == "page" else settings.offset_param] = state
        if settings.page_size_param:
            query[settings.page_size_param] = settings.page_size
    elif settings.paging == "cursor" and state is not None:
        query[settings.token_param] = state
    elif settings.paging == "link" and state is not None:
        return state, {}
    return settings.http.url, query


def _json(response: httpx.Response, where: str, limits: Limits) -> Any:
    """The answer parsed; nesting is measured first (`json` recurses once per level)."""
    content = response.content
    if max_depth(content) > limits.max_depth:
        raise BadInput(
            f"the API's answer nests deeper than max_depth ({limits.max_depth} levels)",
            where=where,
            hint="raise max_depth in the source's settings if the API really nests so deep",
        )
    try:
        return json.loads(content, parse_float=Decimal)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise BadInput("the API's answer is not JSON", where=where, hint="check the url setting") from None


def _check_values(table: pa.Table, where: str, limits: Limits) -> None:
    """Refuse a page holding a value over max_field_bytes, naming the record and field."""
    problems = value_problems(table, limits)
    if problems.any:
        row = int(np.flatnonzero(problems.codes >= 0)[0])
        raise BadInput(
            f"record {row + 1} of the page: {problems.reasons[problems.codes[row]]}",
            where=where,
            hint="raise max_field_bytes in the source's settings, or ask the API's owner to fix the record",
        )


def _dig(body: Any, path: tuple[str, ...], where: str, setting: str, *, optional: bool = False) -> Any:
    for part in path:
        if not isinstance(body, dict) or part not in body:
            if optional:
                return None
            raise BadInput(f"the answer has nothing at {setting}", where=where, hint=f"check {setting}")
        body = body[part]
    return body


def _next_token(body: Any, settings: RestSourceSettings, where: str) -> str | None:
    token = _dig(body, settings.next_token_path, where, "next_token_path", optional=True)
    if token is None or token == "":
        return None
    if isinstance(token, bool) or not isinstance(token, str | int):
        raise BadInput("the next page token is not a text or a number", where=where)
    return str(token)


def _next_link(response: httpx.Response, settings: RestSourceSettings) -> str | None:
    link = response.links.get("next", {}).get("url")
    if not link:
        return None
    following = urljoin(str(response.request.url), link)
    if _origin(following) != _origin(settings.http.url):
        raise BadInput(
            "the API's next link leaves the configured origin",
            where=redact_url(settings.http.url),
            hint="links are followed on the url's scheme, host and port only",
        )
    return following


def _origin(url: str) -> tuple[str, str | None, int | None]:
    parts = urlsplit(url)
    return parts.scheme, parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)
