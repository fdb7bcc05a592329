"""Fan-out delivery: every subscription of a dataset fed from one read of each staged piece.

Why: a run delivers each staged segment to every subscription of its dataset. Delivered
one subscription after another, each re-read every segment and recomputed its subjects'
audit pseudonyms and access-index decoding. Here each piece is read once
(`exchange.run.shared_piece`) and handed, in memory, to every subscription that still
needs it; each then decides, minimizes, protects, writes and logs it exactly as
`deliver_subscription` would (`exchange.run.deliver.Delivery`): same plan, sink, batch
ids, ledger entries and checkpoint rows, so the outputs are the same either way.

The subscriptions are sent to at the same time, each on its own thread: the work of a
send is mostly in libraries that release the GIL (Arrow kernels, the Parquet writer,
SQLite and ADBC, HMAC and SHA-256 in C), so a slow sink no longer holds up the others and
the cores share the run. The calling thread reads the next piece meanwhile.

What a caller must know:

* Each subscription stays independent for failure and retry: a failing one (its sink,
  its lock, its lifecycle) is recorded in the result and dropped from the rest of the run;
  the others go on. Its retry delivers what it lacks, exactly once, as always.
* `guard(sub)` is entered around each subscription's whole delivery (`Bus.deliver_all`
  holds its `deliver:` lock, records its `runs` row and sends its lineage events there);
  it yields the counts dict the report is written into; guards are entered in
  subscription-id order, so two fan-outs never wait on each other's locks crosswise, and
  entered and left on the calling thread only. An interruption (KeyboardInterrupt, any
  BaseException, on the calling thread or a subscription's) waits for the sends under way
  to end, then every open guard sees it, as a lone delivery's would, and it is raised.
* Pieces differ per subscription (initial-load parts vs segments, segments one already
  has): loads are sent first, then segments in stage order, and each subscription's
  pieces are sent one after another on its one thread, so every subscription still
  receives its own pieces in its own order. At most two pieces are held at once (the one
  being sent, the next being read): a subscription may be one piece ahead of a slower one.
* Each batch's ledger entry is appended under the ledger lock (`exchange.run.step_locks`),
  so the ledger stays one chain; the order of the subscriptions' entries in it depends on
  timing, each subscription's own entries keep its order. Airflow maps one task per
  subscription and keeps calling `deliver_subscription`, which reads each piece once for
  itself.
"""

from __future__ import annotations

import concurrent.futures
import logging
import threading
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager, ExitStack
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from exchange import ops, state
from exchange.run.deliver import Delivery
from exchange.run.reports import DeliverReport
from exchange.run.shared_piece import SharedPiece, read_key, read_shared

if TYPE_CHECKING:
    from exchange.catalog import Subscription
    from exchange.ctx import StepContext
    from exchange.run.initial_load import Piece

__all__ = ["MAX_PARALLEL", "Guard", "deliver_fanout"]

log = logging.getLogger("govbus.exchange")

Guard = Callable[["Subscription"], AbstractContextManager[dict[str, Any]]]
Outcome = DeliverReport | Exception

# Sends running at once. More threads than cores still help while some wait on a disk or a
# database; many more would only queue for the cores and hold more batches in memory.
MAX_PARALLEL = 4


class _Gate:
    """What every subscription's thread obeys: how many may send at once, and a stop signal."""

    def __init__(self, parallel: int) -> None:
        self.slots = threading.BoundedSemaphore(max(1, parallel))
        self.stopped = threading.Event()


class _Running:
    """One subscription of the fan-out: its guard's exit stack, counts, thread and delivery.

    Its work (start, each send, finish) runs on its own single thread, in submission order.
    The first `Exception` is kept in `error` and the work submitted after it is skipped; a
    BaseException goes to the future (the calling thread re-raises it).
    """

    def __init__(self, sub: Subscription, stack: ExitStack, counts: dict[str, Any]) -> None:
        self.sub, self.stack, self.counts = sub, stack, counts
        self.delivery: Delivery | None = None
        self.report: DeliverReport | None = None
        self.error: Exception | None = None
        self._error_lock = threading.Lock()
        self._pending: list[Future[None]] = []
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="govbus-deliver")

    def submit(self, gate: _Gate, work: Callable[..., None], *args: Any) -> Future[None]:
        """Run `work(*args)` on the subscription's thread after what was submitted before."""
        future = self._thread.submit(self._run, gate, work, *args)
        self._pending.append(future)
        return future

    def _run(self, gate: _Gate, work: Callable[..., None], *args: Any) -> None:
        if self.error is not None or gate.stopped.is_set():
            return
        with gate.slots:
            try:
                work(*args)
            except Exception as exc:
                self.fail(exc)

    def fail(self, exc: Exception) -> None:
        """Keep the first failure: the subscription stops there."""
        with self._error_lock:
            if self.error is None:
                self.error = exc

    def settle(self) -> None:
        """Wait for all work submitted so far; a BaseException one raised is raised here."""
        pending, self._pending = self._pending, []
        for future in pending:
            future.result()

    def quiet(self) -> None:
        """Wait for the work under way, raising nothing (the fan-out is being interrupted)."""
        pending, self._pending = self._pending, []
        try:
            concurrent.futures.wait(pending)
        except BaseException:  # interrupted again: leave the guards all the same
            log.debug("stopped waiting for %s's send", self.sub.id)

    def close(self) -> None:
        """End the subscription's thread (its work is done or skipped)."""
        self._thread.shutdown(wait=True, cancel_futures=True)

    # -- the work, on the subscription's thread ----------------------------------------

    def start(self, ctx: StepContext) -> None:
        """Start the delivery; done already when there is nothing to send."""
        delivery = Delivery.start(ctx, self.sub)
        self.delivery = delivery
        self.stack.callback(delivery.close)  # runs before the guard exits
        if not delivery.todo:  # skipped, or nothing new
            self.finish()

    def send(self, piece: Piece, shared: SharedPiece) -> None:
        assert self.delivery is not None
        self.delivery.send(piece, shared)

    def finish(self) -> None:
        assert self.delivery is not None
        report = self.delivery.finish()
        self.counts.update(report.counts())
        self.report = report


def deliver_fanout(
    ctx: StepContext, subs: Sequence[Subscription], guard: Guard, *, parallel: int = MAX_PARALLEL
) -> dict[str, Outcome]:
    """Deliver to every one of `subs` (one dataset's), reading each piece once and sending to
    up to `parallel` of them at a time; by id, a report or the exception that stopped that
    subscription (see the module docstring)."""
    if len({s.dataset for s in subs}) > 1:
        raise ValueError("a fan-out delivers one dataset's subscriptions")
    outcomes: dict[str, Outcome] = {}
    running: dict[str, _Running] = {}
    started: list[_Running] = []
    gate = _Gate(parallel)
    try:
        for sub in sorted(subs, key=lambda s: s.id):
            run = _enter(sub, guard, outcomes)
            if run is not None:
                running[sub.id] = run
                started.append(run)
        for run in running.values():
            run.submit(gate, run.start, ctx)
        _settle(running, outcomes)
        in_flight: deque[list[Future[None]]] = deque()
        done = 0
        for key, pieces in _schedule(ctx, running):
            in_flight.append(_dispatch(ctx, gate, running, pieces))
            log.debug("piece %s sent to %d subscription(s)", key, len(pieces))
            if len(in_flight) == 2:  # the piece before this one: its sends end before the next read
                for future in in_flight.popleft():
                    future.result()
                _drop_failed(running, outcomes)
                done += 1
                ops.release_free_memory(done)  # pieces sent are freed (exchange.ops.process_memory)
        _settle(running, outcomes)
        for run in running.values():
            run.submit(gate, run.finish)
        _settle(running, outcomes)
    except BaseException as exc:  # interrupted: every open guard sees it, as a lone delivery's would
        gate.stopped.set()
        for run in running.values():
            run.quiet()
        for run in running.values():
            _leave(run.stack, exc)
        raise
    finally:
        for run in started:
            run.close()
    return {s.id: outcomes[s.id] for s in subs}


def _enter(sub: Subscription, guard: Guard, outcomes: dict[str, Outcome]) -> _Running | None:
    """Enter the subscription's guard; record its failure if that fails."""
    stack = ExitStack()
    try:
        counts = stack.enter_context(guard(sub))
    except Exception as exc:
        stack.close()
        outcomes[sub.id] = exc
        return None
    return _Running(sub, stack, counts)


def _dispatch(
    ctx: StepContext, gate: _Gate, running: dict[str, _Running], pieces: list[tuple[str, Piece]]
) -> list[Future[None]]:
    """Read one piece (once) and hand it to each subscription still running that needs it.

    A failed read stops the subscription it was read for; the next one tries again, as each
    would alone.
    """
    shared: SharedPiece | None = None
    futures = []
    for sub_id, piece in pieces:
        run = running.get(sub_id)
        if run is None or run.error is not None:  # failed meanwhile
            continue
        if shared is None:
            assert run.delivery is not None
            try:
                shared = read_shared(ctx, run.delivery.dataset, piece)
            except Exception as exc:
                run.fail(exc)
                continue
        futures.append(run.submit(gate, run.send, piece, shared))
    return futures


def _settle(running: dict[str, _Running], outcomes: dict[str, Outcome]) -> None:
    """Wait for every subscription's work so far; leave the guards of those done or failed."""
    for run in running.values():
        run.settle()
    _drop_failed(running, outcomes)
    for sub_id in [s for s, run in running.items() if run.report is not None]:
        run = running.pop(sub_id)
        assert run.report is not None
        run.stack.close()
        outcomes[sub_id] = run.report


def _drop_failed(running: dict[str, _Running], outcomes: dict[str, Outcome]) -> None:
    """Leave each failed subscription's guard with its exception (runs row, lineage FAIL)."""
    for sub_id in [s for s, run in running.items() if run.error is not None]:
        run = running.pop(sub_id)
        run.settle()  # its thread skips what is left; nothing may run while its guard is left
        assert run.error is not None
        log.debug("delivery to %s stopped: %s", sub_id, type(run.error).__name__)
        outcomes[sub_id] = _leave(run.stack, run.error)


def _schedule(
    ctx: StepContext, running: dict[str, _Running]
) -> list[tuple[tuple[str, ...], list[tuple[str, Piece]]]]:
    """Each distinct piece once, with the subscriptions that need it: load parts first, then
    segments in stage order — an order in which each subscription's own `todo` is a subsequence."""
    by_key: dict[tuple[str, ...], list[tuple[str, Piece]]] = {}
    for sub_id, run in running.items():
        assert run.delivery is not None
        for piece in run.delivery.todo:
            by_key.setdefault(read_key(piece), []).append((sub_id, piece))
    stage_ids = {key[1] for key in by_key if key[0] == "segment"}
    seq: dict[str, int] = {}
    if stage_ids:
        st = state.stages
        with ctx.engine.connect() as conn:
            seq = dict(
                conn.execute(sa.select(st.c.stage_id, st.c.seq).where(st.c.stage_id.in_(stage_ids))).all()
            )
    loads = [key for key in by_key if key[0] == "part"]  # first-seen order: each subscription's own
    segments = sorted(
        (key for key in by_key if key[0] == "segment"), key=lambda k: (seq.get(k[1], 0), int(k[2]))
    )
    return [(key, by_key[key]) for key in [*loads, *segments]]


def _leave(stack: ExitStack, exc: BaseException) -> Exception:
    """Leave a subscription's guard with `exc`; what it raised instead, if anything else."""
    try:
        stack.__exit__(type(exc), exc, exc.__traceback__)
    except Exception as raised:
        return raised
    return exc if isinstance(exc, Exception) else RuntimeError(type(exc).__name__)
