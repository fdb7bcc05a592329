"""A stage's batches through worker threads: prepare, check and write overlap.

Staging a batch is read → prepare (conform, encode the keys) → check (validate) → write
(the quarantined rows, subject refs, the segment, the key index). Done one after the
other on one thread, a core idles while the other works, though most of the time is
spent in Arrow kernels, the segment writer and the batch HMAC, which release the GIL. `StagePipeline` overlaps
them: the caller reads the next batch from the source (on its own thread, as sources
expect) while a preparer thread prepares batch i+2, a checker thread checks batch i+1
and a writer thread writes batch i. The optional `prepare` step is for work that needs
no other batch (conforming, encoding the keys); splitting it off the checker measured
0.08 s less per 1,000,000 rows (1.43 → 1.35 s), once the writer had become lighter
(ADR 0009).

What a caller must know:

* **Same effects, same order.** Preparing writes nothing and needs no other batch; it
  runs one batch at a time in source order, ahead of the checks. Checks run one at a
  time in source order (stage
  validation spans batches); writes likewise, on one thread, each after its batch is
  checked and the previous batch is written. A check writes nothing: every database write
  and staged file of a batch (its quarantined rows included) is `write`'s, so they come
  in the order a single thread would make them (the crash tests' points stay
  reproducible) and never two at once. A check that must see the previous batch's
  effects (its indexed keys) waits for them with `previous.result()`. The writer thread
  carries the quarantine's inserts so that the checker, the busier of the two, does not:
  on two cores the stage is as fast as its slowest thread.
* **Bounded memory.** At most `depth` batches are in flight beside the one being read:
  `put` waits for the oldest to be written before it returns.
* **Errors.** The first error of a batch, in batch order, is raised by `put`, `finish`
  or on leaving the `with` block. An error of the caller (the source's) lets the batches
  in flight finish first and gives way to an earlier batch's error, as on one thread;
  nothing of a batch after a failed one is written (its write fails with the earlier one). An
  interruption cancels what is queued. Either way no thread outlives the block. Nothing
  is undone: the stage stays `staging` and its retry discards it, as when a single thread
  failed.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from concurrent.futures import CancelledError, Future, ThreadPoolExecutor
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Generic, TypeVar

import pyarrow as pa

Checked = TypeVar("Checked")

__all__ = ["StagePipeline"]


@dataclass
class _InFlight(Generic[Checked]):
    rows: int  # the source batch's
    cursor: Any
    checked: Future[Checked]
    written: Future[None]


class StagePipeline(Generic[Checked]):
    """Runs `prepare(data)` (if given), `check(prepared, previous_written)` and then
    `write(checked)` for each batch `put`, each on its own thread, and
    `landed(checked, rows, cursor)` on the caller's thread once a batch is written, in batch
    order (`rows`: the source batch's; see the module doc). Without `prepare`, `check`
    gets the batch as put."""

    def __init__(
        self,
        check: Callable[[Any, Future[None] | None], Checked],
        write: Callable[[Checked], None],
        landed: Callable[[Checked, int, Any], None],
        *,
        depth: int = 2,
        prepare: Callable[[pa.Table], Any] | None = None,
    ) -> None:
        self._check, self._write, self._landed, self._depth = check, write, landed, depth
        self._prepare = prepare
        self._flight: deque[_InFlight[Checked]] = deque()
        self._preparer = (
            None
            if prepare is None
            else ThreadPoolExecutor(max_workers=1, thread_name_prefix="govbus-stage-prepare")
        )
        self._checker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="govbus-stage-check")
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="govbus-stage-write")

    def __enter__(self) -> StagePipeline[Checked]:
        return self

    def put(self, data: pa.Table, cursor: Any) -> None:
        """Queue one source batch; returns once at most `depth` batches are in flight."""
        previous = self._flight[-1].written if self._flight else None
        if self._preparer is None or self._prepare is None:
            checked = self._checker.submit(self._check, data, previous)
        else:
            prepared = self._preparer.submit(self._prepare, data)
            checked = self._checker.submit(self._check_prepared, prepared, previous)
        written = self._writer.submit(self._write_after, checked, previous)
        self._flight.append(_InFlight(data.num_rows, cursor, checked, written))
        while len(self._flight) > self._depth:
            self._land()

    def finish(self) -> None:
        """Wait until every batch put is written (raising the first error)."""
        while self._flight:
            self._land()

    def _check_prepared(self, prepared: Future[Any], previous: Future[None] | None) -> Checked:
        return self._check(prepared.result(), previous)  # a failed prepare fails its check

    def _write_after(self, checked: Future[Checked], previous: Future[None] | None) -> None:
        if previous is not None:
            previous.result()  # a failed write fails every later one: nothing after it lands
        self._write(checked.result())

    def _land(self) -> None:
        entry = self._flight[0]
        result = entry.checked.result()
        entry.written.result()
        self._flight.popleft()
        self._landed(result, entry.rows, entry.cursor)

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        # After an error of the caller (the source's), the batches in flight still run: one
        # thread would have checked and written them before reading on, and one of them may
        # hold the earlier error. An interruption (KeyboardInterrupt) cancels what waits.
        interrupted = error is not None and not isinstance(error, Exception)
        try:
            if error is None:
                self.finish()
        finally:
            if self._preparer is not None:
                self._preparer.shutdown(wait=True, cancel_futures=interrupted)
            self._checker.shutdown(wait=True, cancel_futures=interrupted)
            self._writer.shutdown(wait=True, cancel_futures=interrupted)
        if not isinstance(error, Exception):
            return  # no error, or KeyboardInterrupt and the like: they pass as they are
        for entry in self._flight:  # the earliest batch's error is the one a single thread raised
            for future in (entry.checked, entry.written):
                failed = None if future.cancelled() else future.exception()
                if failed is None or isinstance(failed, CancelledError):
                    continue  # not run, or stopped by the shutdown above
                if failed is error:
                    return
                raise failed from error
