"""A stage's subject sets (ADR 0007), written on a thread of their own beside the segments.

Why a thread: grouping a segment's subjects and writing them to the state database costs
about as much as writing the segment itself (0.3 s per 1,000,000 rows on SQLite). On the
stage's write thread it made that thread the stage's slowest; beside it, the work is
mostly in libraries that release the GIL (Arrow's hashing, SQLite), and the write thread
goes on with the next segment.

What a caller must know:

* `add(refs, segment)` after the segment's file is written; at most two sets wait or are
  written at once (the oldest is waited for first), so a slow database holds back the
  stage rather than filling memory with refs.
* `wait()` before the stage closes: it returns once every set is written and raises the
  first failure (the stage then fails: a staged segment always has its set). `close()`
  (always, also after a failure) lets the writes under way end and drops their failures.
"""

from __future__ import annotations

from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING

import pyarrow as pa

import audit

if TYPE_CHECKING:
    from exchange.ctx import StepContext

__all__ = ["SegmentSets"]

_IN_FLIGHT = 2


class SegmentSets:
    """The subject sets of one stage's segments, each written once, in segment order."""

    def __init__(self, ctx: StepContext, stage_id: str) -> None:
        self.ctx, self.stage_id = ctx, stage_id
        self._thread: ThreadPoolExecutor | None = None
        self._pending: deque[Future[None]] = deque()

    def add(self, refs: pa.Array | pa.ChunkedArray, segment: int) -> None:
        """Group segment `segment`'s subjects (its rows' audit pseudonyms) and write them."""
        while len(self._pending) >= _IN_FLIGHT:
            self._pending.popleft().result()
        if self._thread is None:
            self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="govbus-stage-sets")
        self._pending.append(self._thread.submit(self._write, refs, segment))

    def _write(self, refs: pa.Array | pa.ChunkedArray, segment: int) -> None:
        subjects = audit.build_subject_set(refs)
        with self.ctx.engine.begin() as conn:
            audit.write_subject_set(conn, subjects, stage_id=self.stage_id, segment=segment)

    def wait(self) -> None:
        """Until every set added is written; raises the first failure."""
        while self._pending:
            self._pending.popleft().result()

    def close(self) -> None:
        """Let the writes under way end (idempotent; their failures are not raised here)."""
        self._pending.clear()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.shutdown(wait=True)
