"""Fan-out delivery: every subscription of a dataset fed from one read of each staged piece.

Why: a run delivers each staged segment to every subscription of its dataset. Delivered
one subscription after another, each re-read every segment and recomputed its subjects'
audit pseudonyms and access-index decoding. Here each piece is read once
(`exchange.run.shared_piece`) and handed, in memory, to every subscription that still
needs it; each then decides, minimizes, protects, writes and logs it exactly as
`deliver_subscription` would (`exchange.run.deliver.Delivery`): same plan, sink, batch
ids, ledger entries and checkpoint rows, so the outputs are the same either way.

What a caller must know:

* Each subscription stays independent for failure and retry: a failing one (its sink,
  its lock, its lifecycle) is recorded in the result and dropped from the rest of the run;
  the others go on. Its retry delivers what it lacks, exactly once, as always.
* `guard(sub)` is entered around each subscription's whole delivery (`Bus.deliver_all`
  holds its `deliver:` lock, records its `runs` row and sends its lineage events there);
  it yields the counts dict the report is written into; guards are entered in
  subscription-id order, so two fan-outs never wait on each other's locks crosswise.
* Pieces differ per subscription (initial-load parts vs segments, segments one already
  has): loads are sent first, then segments in stage order, so every subscription still
  receives its own pieces in its own order. Airflow maps one task per subscription and
  keeps calling `deliver_subscription`, which reads each piece once for itself.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, ExitStack
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from exchange import state
from exchange.run.deliver import Delivery
from exchange.run.reports import DeliverReport
from exchange.run.shared_piece import read_key, read_shared

if TYPE_CHECKING:
    from exchange.catalog import Subscription
    from exchange.ctx import StepContext
    from exchange.run.initial_load import Piece

__all__ = ["Guard", "deliver_fanout"]

log = logging.getLogger("govbus.exchange")

Guard = Callable[["Subscription"], AbstractContextManager[dict[str, Any]]]
Outcome = DeliverReport | Exception


class _Running:
    """One subscription of the fan-out: its guard's exit stack, counts and delivery."""

    def __init__(
        self, sub: Subscription, stack: ExitStack, counts: dict[str, Any], delivery: Delivery
    ) -> None:
        self.sub, self.stack, self.counts, self.delivery = sub, stack, counts, delivery


def deliver_fanout(ctx: StepContext, subs: Sequence[Subscription], guard: Guard) -> dict[str, Outcome]:
    """Deliver to every one of `subs` (one dataset's), reading each piece once; by id, a report or
    the exception that stopped that subscription (see the module docstring)."""
    if len({s.dataset for s in subs}) > 1:
        raise ValueError("a fan-out delivers one dataset's subscriptions")
    outcomes: dict[str, Outcome] = {}
    running: dict[str, _Running] = {}
    try:
        for sub in sorted(subs, key=lambda s: s.id):
            _start(ctx, sub, guard, running, outcomes)
        for key, pieces in _schedule(ctx, running):
            shared = None
            for sub_id, piece in pieces:
                run = running.get(sub_id)
                if run is None:  # failed meanwhile
                    continue
                try:
                    if shared is None:
                        shared = read_shared(ctx, run.delivery.dataset, piece)
                    run.delivery.send(piece, shared)
                except Exception as exc:
                    _fail(running.pop(sub_id), exc, outcomes)
            del shared  # the piece's rows go before the next piece is read
            log.debug("piece %s sent to %d subscription(s)", key, len(pieces))
        for sub_id in list(running):
            run = running[sub_id]
            try:
                report = run.delivery.finish()
                run.counts.update(report.counts())
            except Exception as exc:
                _fail(running.pop(sub_id), exc, outcomes)
                continue
            running.pop(sub_id)
            run.stack.close()
            outcomes[sub_id] = report
    except BaseException as exc:  # interrupted: every open guard sees it, as a lone delivery's would
        for run in running.values():
            _leave(run.stack, exc)
        raise
    return {s.id: outcomes[s.id] for s in subs}


def _start(
    ctx: StepContext,
    sub: Subscription,
    guard: Guard,
    running: dict[str, _Running],
    outcomes: dict[str, Outcome],
) -> None:
    """Enter the subscription's guard and start its delivery; record its failure if either fails."""
    stack = ExitStack()
    try:
        counts = stack.enter_context(guard(sub))
    except Exception as exc:
        stack.close()
        outcomes[sub.id] = exc
        return
    try:
        delivery = Delivery.start(ctx, sub)
    except Exception as exc:
        outcomes[sub.id] = _leave(stack, exc)
        return
    stack.callback(delivery.close)  # runs before the guard exits
    run = _Running(sub, stack, counts, delivery)
    if not run.delivery.todo:  # skipped, or nothing new: done now
        try:
            report = run.delivery.finish()
            counts.update(report.counts())
        except Exception as exc:
            _fail(run, exc, outcomes)
            return
        stack.close()
        outcomes[sub.id] = report
        return
    running[sub.id] = run


def _schedule(
    ctx: StepContext, running: dict[str, _Running]
) -> list[tuple[tuple[str, ...], list[tuple[str, Piece]]]]:
    """Each distinct piece once, with the subscriptions that need it: load parts first, then
    segments in stage order — an order in which each subscription's own `todo` is a subsequence."""
    by_key: dict[tuple[str, ...], list[tuple[str, Piece]]] = {}
    for sub_id, run in running.items():
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


def _fail(run: _Running, exc: Exception, outcomes: dict[str, Outcome]) -> None:
    """Record the subscription's failure; its guard sees the exception (runs row, lineage FAIL)."""
    log.debug("delivery to %s stopped: %s", run.sub.id, type(exc).__name__)
    outcomes[run.sub.id] = _leave(run.stack, exc)


def _leave(stack: ExitStack, exc: BaseException) -> Exception:
    """Leave a subscription's guard with `exc`; what it raised instead, if anything else."""
    try:
        stack.__exit__(type(exc), exc, exc.__traceback__)
    except Exception as raised:
        return raised
    return exc if isinstance(exc, Exception) else RuntimeError(type(exc).__name__)
