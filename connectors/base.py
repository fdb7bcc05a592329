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


@dataclass(frozen=True)
class DeliveryManifest:
    """A signed delivery manifest handed to a sink to keep where its recipient can check it.

    Built and signed by the bus (`consent.sign_manifest`); the sink only stores it.
    `data` is the exact manifest JSON the raw 64-byte Ed25519 `signature` covers: a sink
    stores both byte for byte. `names` are the file names a folder-like store uses:
    (manifest, signature, public key). For rows in a table, `sorted_leaves` holds the
    batch's record leaf hashes (32 bytes each, ascending) whose RFC 6962 root the manifest
    signs as `records_sorted_root`, and `arrow_schema` the delivered schema (Arrow IPC),
    so the rows a table holds can be re-hashed and matched later.
    """

    batch_id: str
    key_id: str
    data: bytes
    signature: bytes
    public_key_pem: bytes
    names: tuple[str, str, str]
    rows: int = 0
    sorted_root: str | None = None
    sorted_leaves: bytes = b""
    arrow_schema: bytes = b""


@runtime_checkable
class ManifestStore(Protocol):
    """A sink that keeps the signed manifest of each batch beside what it delivered (optional).

    The exchange calls `write_manifest` after `write` returned for the same batch id.
    Contract: idempotent per batch id (a retry replaces the batch's manifest, never adds
    a second one), durable when it returns, and the stored bytes equal `manifest.data`
    and `manifest.signature` exactly. Returns where it went (redacted, no secret).
    A sink without this capability gets no manifest unless it writes local files.
    """

    def write_manifest(self, manifest: DeliveryManifest) -> str:
        """Store `manifest` for its batch; return its location."""
        ...
