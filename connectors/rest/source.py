"""RestSource: reads a JSON API's collection as bounded Arrow batches, resumable by cursor.

Two modes, chosen by the dataset's cursor field:

* Incremental (`cursor_field` set): the API must return records sorted by the cursor
  field ascending (checked page by page: a violation is refused, never guessed around).
  Records at or before the cursor — (cursor value, key fields) compared as SqlSource
  does — are dropped client-side, so resuming never repeats a row even when the API's
  `since_param` filter is inclusive; without `since_param` every read fetches all
  pages and filters. A batch ends only where the cursor value changes, so rows sharing
  a cursor value are never split by a resume point — but a group larger than
  `batch_size` is cut by key, and resuming inside it needs an inclusive `since_param`
  (>=) or none. Cursor:
  `{"version": 1, "mode": "incremental", "fields": [cursor, *keys], "kind": …,
  "after": [values as the API sent them]}` — `kind` in `rest_order`.
* Full refresh (no cursor field): every read fetches everything. Each batch's cursor
  records where it ended — the page (`Page.state`) and the records of it consumed —
  so an interrupted read resumes there; the last batch's cursor has `after: null`, so
  the next read starts over. Resuming assumes the collection did not change meanwhile.

Memory: a batch plus one page (plus the largest group of equal cursor values).
Nothing connects, and the token is not read, before the first `read`.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from connectors.base import Cursor, SourceBatch
from connectors.rest.http_client import HttpClient
from connectors.rest.order import (
    KINDS,
    ORDER,
    after_mask,
    check_ascending,
    json_value,
    order_value,
    sort_keys,
    with_order,
)
from connectors.rest.paging import concat_pages, fetch_pages
from connectors.rest.settings import RestSourceSettings, source_settings
from govbus.errors import BadConfiguration, BadInput

_RESET = "the source's settings changed since this cursor was made: reset the dataset's cursor"


class RestSource:
    """Reads the collection at `settings.http.url`; see the module doc for the two modes."""

    def __init__(
        self, settings: RestSourceSettings, *, key_fields: Sequence[str] = (), cursor_field: str | None = None
    ) -> None:
        self._settings = settings
        self._keys = tuple(key for key in key_fields if key != cursor_field)
        self._cursor_field = cursor_field
        self._client: HttpClient | None = None

    @classmethod
    def from_settings(
        cls, settings: Mapping[str, Any], *, key_fields: Sequence[str], cursor_field: str | None
    ) -> RestSource:
        """Validate the connector's settings (see `rest_settings`) and build the source."""
        return cls(source_settings(settings), key_fields=key_fields, cursor_field=cursor_field)

    def read(self, cursor: Cursor | None, *, batch_size: int = 50_000) -> Iterator[SourceBatch]:
        """Yield batches of at most `batch_size` rows strictly after `cursor`."""
        if not isinstance(batch_size, int) or batch_size < 1:
            raise BadConfiguration("must be a positive whole number", where="batch_size")
        if self._client is None:
            self._client = self._settings.http.client()
        if self._cursor_field is None:
            yield from self._read_full(cursor, batch_size)
        else:
            yield from self._read_incremental(cursor, batch_size)

    def close(self) -> None:
        """Close the HTTP connections."""
        if self._client is not None:
            self._client.close()
            self._client = None

    # -- incremental ----------------------------------------------------------------

    def _read_incremental(self, cursor: Cursor | None, batch_size: int) -> Iterator[SourceBatch]:
        assert self._client is not None and self._cursor_field is not None
        fields = [self._cursor_field, *self._keys]
        kind, after = self._parse_incremental(cursor, fields)
        since = None if after is None else str(after[0])
        resume = None if after is None or kind is None else [order_value(after[0], kind), *after[1:]]
        buffer: list[pa.Table] = []
        buffered, previous = 0, None
        for page in fetch_pages(self._client, self._settings, since=since):
            if not page.records.num_rows:
                continue
            table, kind = with_order(page.records, fields, kind, page.where)
            check_ascending(table[ORDER], previous, page.where, fields[0])
            previous = table[ORDER][-1]
            if resume is not None:
                table = table.filter(after_mask(table, fields, resume))
            buffer.append(table)
            buffered += table.num_rows
            if buffered >= batch_size:
                rest = yield from self._emit(buffer, fields, kind, batch_size, complete_only=True)
                buffer, buffered = [rest], rest.num_rows
        if buffered:
            yield from self._emit(buffer, fields, kind, batch_size, complete_only=False)

    def _emit(
        self,
        buffer: list[pa.Table],
        fields: list[str],
        kind: str | None,
        batch_size: int,
        *,
        complete_only: bool,
    ) -> Iterator[SourceBatch]:
        """Yield buffered rows as batches in (cursor, key) order; return the rows kept.

        A batch ends where the cursor value changes (several whole groups of equal
        values per batch), so a resume point never splits a group — except a group
        larger than `batch_size`, which is cut by key. With `complete_only`, only rows
        before the last cursor value's group (which the next page may continue) are
        emitted, and only while a full batch's worth remains. The buffer is in cursor
        order already (checked per page); sorting the emitted part orders the keys.
        """
        table = concat_pages(buffer)
        ready = table.num_rows
        if complete_only:
            ready = pc.sum(pc.less(table[ORDER], table[ORDER][-1])).as_py() or 0
        head = table.slice(0, ready).sort_by(sort_keys(fields))
        order = head[ORDER]
        changes = pc.not_equal(order[1:], order[:-1]).to_numpy(zero_copy_only=False)
        group_ends = np.append(np.flatnonzero(changes) + 1, ready)
        offset = 0
        while offset < ready and (not complete_only or ready - offset >= batch_size):
            index = np.searchsorted(group_ends, offset + batch_size, side="right") - 1
            fitting = int(group_ends[index]) if index >= 0 else offset
            end = fitting if fitting > offset else offset + batch_size  # else: cut a big group
            yield self._batch(head.slice(offset, end - offset), fields, kind)
            offset = end
        return pa.concat_tables([head.slice(offset), table.slice(ready)])

    @staticmethod
    def _batch(batch: pa.Table, fields: list[str], kind: str | None) -> SourceBatch:
        end = batch.slice(batch.num_rows - 1, 1).select(fields).to_pylist()[0]
        cursor = {
            "version": 1,
            "mode": "incremental",
            "fields": fields,
            "kind": kind,
            "after": [json_value(end[name]) for name in fields],
        }
        return SourceBatch(data=batch.drop_columns([ORDER]), cursor=cursor)

    def _parse_incremental(
        self, cursor: Cursor | None, fields: list[str]
    ) -> tuple[str | None, list[Any] | None]:
        if cursor is None:
            return None, None
        if not isinstance(cursor, dict) or cursor.get("version") != 1:
            raise BadInput("not a cursor made by this source", where="cursor", hint=_RESET)
        if (
            cursor.get("mode") != "incremental"
            or cursor.get("fields") != fields
            or cursor.get("kind") not in KINDS
        ):
            raise BadConfiguration(
                "the cursor was made for other fields or another mode", where="cursor", hint=_RESET
            )
        after = cursor.get("after")
        if not isinstance(after, list) or len(after) != len(fields):
            raise BadInput("the cursor's position is malformed", where="cursor", hint=_RESET)
        return cursor["kind"], after

    # -- full refresh ---------------------------------------------------------------

    def _read_full(self, cursor: Cursor | None, batch_size: int) -> Iterator[SourceBatch]:
        assert self._client is not None
        start, skip = self._parse_full(cursor)
        pending: deque[list[Any]] = deque()  # [page state, records, records consumed]
        buffered = 0
        for page in fetch_pages(self._client, self._settings, since=None, start=start):
            used = min(skip, page.records.num_rows) if not pending and skip else 0
            skip = 0
            pending.append([page.state, page.records, used])
            buffered += page.records.num_rows - used
            while buffered > batch_size:  # strictly more: the last batch is yielded at the end
                yield self._take(pending, batch_size, last=False)
                buffered -= batch_size
        if buffered:
            yield self._take(pending, buffered, last=True)

    def _take(self, pending: deque[list[Any]], count: int, *, last: bool) -> SourceBatch:
        pieces = []
        position: dict[str, Any] | None = None
        while count:
            entry = pending[0]
            state, records, used = entry
            taken = min(count, records.num_rows - used)
            pieces.append(records.slice(used, taken))
            entry[2] = used = used + taken
            count -= taken
            position = {"page": state, "skip": used}
            if used == records.num_rows:
                pending.popleft()
        data = concat_pages(pieces)
        after = None if last else position
        cursor = {"version": 1, "mode": "full", "paging": self._settings.paging, "after": after}
        return SourceBatch(data=data, cursor=cursor)

    def _parse_full(self, cursor: Cursor | None) -> tuple[Any, int]:
        if cursor is None:
            return None, 0
        if not isinstance(cursor, dict) or cursor.get("version") != 1:
            raise BadInput("not a cursor made by this source", where="cursor", hint=_RESET)
        if cursor.get("mode") != "full" or cursor.get("paging") != self._settings.paging:
            raise BadConfiguration(
                "the cursor was made for another mode or paging", where="cursor", hint=_RESET
            )
        after = cursor.get("after")
        if after is None:
            return None, 0
        skip = after.get("skip") if isinstance(after, dict) else None
        if isinstance(skip, bool) or not isinstance(skip, int) or skip < 0:
            raise BadInput("the cursor's position is malformed", where="cursor", hint=_RESET)
        return after.get("page"), skip
