"""A delivery's sink on a thread of its own: each batch written while the next is prepared.

Why: writing a batch (the Parquet encoder, SQLite's inserts, a REST request) is a third
to a half of a send. On its own thread it overlaps the next batch's decisions,
minimization, disclosure control and pseudonyms (`exchange.run.deliver`). For 1,000,000
rows the Statistics Office's Parquet delivery went from 0.49 to 0.47 s and the Benefits
Agency's SQLite one from 1.59 to 1.53 s (medians of 4 alternated runs): both were near
their CPU's floor on two cores already, so the overlap gains little there.

What a caller must know:

* Every call into the sink runs on this one thread, one at a time and in the order made:
  `write` (queued, the receipt comes as a future) and, through `sink`, the batch's
  `write_manifest` (waited for). A SQLite sink writes its rows through ADBC's own SQLite
  library and its manifest table through Python's: two SQLite libraries in one process do
  not see each other's file locks (sqlite.org/howtocorrupt.html, 2.2.1), so the two must
  never overlap; here they cannot.
* Once a write fails, no later write reaches the sink: each fails with the first, as if
  that failure had stopped a single thread (a REST recipient never gets batch i+1
  without batch i). The failure is raised where the batch is logged (`record_batch`).
* `close` waits for what is queued; the caller then closes the sink itself.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor

import pyarrow as pa

import connectors

__all__ = ["SinkThread"]


class SinkThread:
    """One delivery's sink writes, on a thread of their own, in batch order (module doc)."""

    def __init__(self, sink: connectors.Sink) -> None:
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="govbus-sink")
        self._last: Future[connectors.SinkReceipt] | None = None
        self._sink = sink
        # What the batch log hands the manifest to: the sink itself, or, when it keeps
        # manifests, a stand-in that stores them on this thread.
        self.sink: connectors.Sink | connectors.ManifestStore = (
            _ManifestsOnThread(sink, self._thread) if isinstance(sink, connectors.ManifestStore) else sink
        )

    def write(self, batch_id: str, out: pa.Table) -> Future[connectors.SinkReceipt]:
        """Queue the batch's write; the future holds its receipt, or its (or an earlier) failure."""
        self._last = self._thread.submit(self._write_after, self._last, batch_id, out)
        return self._last

    def _write_after(
        self, previous: Future[connectors.SinkReceipt] | None, batch_id: str, out: pa.Table
    ) -> connectors.SinkReceipt:
        if previous is not None:
            previous.result()  # done (one thread, in order): raises its failure
        return self._sink.write(batch_id, out)

    def close(self) -> None:
        """Wait for the writes queued (their failures are raised where their batches are logged)."""
        self._thread.shutdown(wait=True)


class _ManifestsOnThread:
    """The sink's manifests as the batch log sees them: stored on the sink's thread."""

    def __init__(self, sink: connectors.ManifestStore, thread: ThreadPoolExecutor) -> None:
        self._sink, self._thread = sink, thread

    def write_manifest(self, manifest: connectors.DeliveryManifest) -> str:
        """Store the batch's manifest, after the writes queued before it."""
        return str(self._thread.submit(self._sink.write_manifest, manifest).result())
