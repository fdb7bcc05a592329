"""The two seams every connector implements: `Source` (read since a cursor) and `Sink`.

The exchange drives them and owns nothing inside them: it stores a source's cursor
as an opaque JSON document and hands it back unchanged, and it relies on a sink's
idempotency per batch id to make a retried delivery exactly-once.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import pyarrow as pa

Cursor = dict[str, Any]
"""A resume point: JSON-serialisable, owned (shaped and interpreted) by the source that made it."""


@dataclass(frozen=True)
class SourceBatch:
    """One bounded batch read from a source.

    `cursor` is the resume point AFTER this batch: passing it to `Source.read` yields
    exactly the rows that follow this batch, none of its own and none skipped.
    """

    data: pa.Table
    cursor: Cursor


@runtime_checkable
class Source(Protocol):
    """Reads what changed since a cursor, as Arrow batches of bounded size.

    Contract:
    * `read(None)` starts from the beginning.
    * Reading from the cursor of the last yielded batch resumes exactly after it, also
      after a JSON round trip of the cursor and in a new process.
    * Every batch has at most `batch_size` rows; memory does not grow with the source.
    * Nothing new: no batch is yielded (the caller keeps the cursor it had).
    """

    def read(self, cursor: Cursor | None, *, batch_size: int = 50_000) -> Iterator[SourceBatch]:
        """Yield batches of rows strictly after `cursor`."""
        ...

    def close(self) -> None:
        """Release connections and files; the source is not used afterwards."""
        ...


@dataclass(frozen=True)
class SinkReceipt:
    """What a sink wrote for one batch.

    `location` says where (a redacted URL and table, or a path); never holds a secret.
    `files` lists (file name, sha256 hex) for file sinks, empty for database sinks.
    """

    batch_id: str
    rows: int
    location: str
    files: tuple[tuple[str, str], ...] = ()


@runtime_checkable
class Sink(Protocol):
    """Writes batches into a recipient's system, idempotently per batch id.

    Contract: writing the same `batch_id` again (a retry after a crash, say) has no
    additional effect: no duplicate rows, no duplicate files. `write` returns only once
    the data is durable (committed, or the file renamed into place and fsynced).
    """

    def write(self, batch_id: str, data: pa.Table) -> SinkReceipt:
        """Write `data` as batch `batch_id` and return what was written."""
        ...

    def close(self) -> None:
        """Release connections; the sink is not used afterwards."""
        ...
