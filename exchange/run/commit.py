"""Step 3, commit: a stage every subscription has received becomes the committed cursor.

Stages commit strictly in order: the committed cursor of a dataset is the end of the
last stage that every receiving subscription has in full — an active one whose initial
load is older than the stage (`exchange.run.initial_load`); a subscription not yet
activated, suspended or ended holds nothing back, since it will load the snapshot the
commit keeps (`exchange.run.snapshots`). A failing subscriber holds back
the committed cursor (so nothing is lost for it) but not the other subscribers, which
keep receiving newer stages.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from exchange import state
from exchange.run import snapshots
from exchange.run.reports import CommitReport
from exchange.subscriptions import lifecycle
from govbus.errors import GovBusError
from govbus.instants import utc_now

if TYPE_CHECKING:
    from exchange.ctx import StepContext

log = logging.getLogger("govbus.exchange")


def commit_dataset(ctx: StepContext, dataset_id: str) -> CommitReport:
    """Step 3: commit every stage all receiving subscriptions have, in stage order.

    Before a stage is marked committed (and its segments deleted) it is folded into the
    dataset's snapshot; the new manifest is stored in the same transaction as the cursor.
    """
    dataset = ctx.catalog.dataset(dataset_id)
    st, dv = state.stages, state.deliveries
    report = CommitReport(dataset_id)
    committable: list[Any] = []
    with ctx.engine.connect() as conn:
        lives = lifecycle.lifecycles(conn, dataset_id)
        # Who a stage waits for: active subscriptions whose load is older than the stage.
        receivers = {
            s.id: lives[s.id].since_seq
            for s in ctx.catalog.subscriptions_for(dataset_id)
            if s.id in lives and lives[s.id].status == lifecycle.ACTIVE
        }
        staged = conn.execute(
            sa.select(st.c.stage_id, st.c.seq, st.c.segments, st.c.to_cursor, st.c.schema_fingerprint)
            .where(st.c.dataset == dataset_id, st.c.status == "staged")
            .order_by(st.c.seq)
        ).all()
        for stage in staged:
            have = dict(  # (subscription, segments delivered)
                conn.execute(
                    sa.select(dv.c.subscription_id, sa.func.count())
                    .where(dv.c.stage_id == stage.stage_id)
                    .group_by(dv.c.subscription_id)
                ).all()
            )
            missing = [
                s for s, since in receivers.items() if since < stage.seq and have.get(s, 0) < stage.segments
            ]
            if missing:
                report.waiting = sorted(missing)
                break
            committable.append(stage)
        snapshot = snapshots.current(conn, dataset_id)
    if committable:
        folded = snapshots.fold(
            ctx.staging,
            snapshot,
            [snapshots.StageToFold(s.stage_id, s.seq, s.segments, s.schema_fingerprint) for s in committable],
            dataset.contract.key_fields,
        )
        _commit(ctx, dataset_id, committable, folded, list(receivers))
        report.committed = [s.stage_id for s in committable]
        snapshots.collect_garbage(ctx.staging, folded, _pinned_parts(ctx, dataset_id))
        # Staged segments are only needed until every subscriber has them.
        for stage in committable:
            ctx.staging.discard(stage.stage_id)
        _tell_source(ctx, dataset_id, committable[-1].to_cursor)
        log.info("committed %s stages=%d", dataset_id, len(report.committed))
    else:
        _finish_interrupted(ctx, dataset_id)
    if report.waiting:
        log.warning("%s waits for subscriptions %s", dataset_id, ", ".join(report.waiting))
    return report


def _commit(
    ctx: StepContext, dataset_id: str, stages: list[Any], folded: snapshots.Snapshot, receivers: list[str]
) -> None:
    """Mark the stages committed, move the cursor, store the snapshot: one transaction."""
    st, lc = state.stages, state.subscription_lifecycle
    now = utc_now()
    with ctx.engine.begin() as conn:
        for stage in stages:
            conn.execute(
                sa.update(st)
                .where(st.c.stage_id == stage.stage_id)
                .values(status="committed", committed_at=now)
            )
        _set_cursor(conn, dataset_id, stages[-1].to_cursor, stages[-1].stage_id, now)
        snapshots.store(conn, folded)
        if receivers:
            # Every receiver has these stages: it now holds the state as of the last one.
            conn.execute(
                sa.update(lc)
                .where(lc.c.subscription_id.in_(receivers), lc.c.since_seq < stages[-1].seq)
                .values(since_seq=stages[-1].seq)
            )


def _finish_interrupted(ctx: StepContext, dataset_id: str) -> None:
    """A commit killed after its transaction left the newest committed stage's segments (and,
    for a drop folder, its files unarchived): finish that work now. Both are idempotent."""
    st = state.stages
    with ctx.engine.connect() as conn:
        last = conn.execute(
            sa.select(st.c.stage_id, st.c.to_cursor)
            .where(st.c.dataset == dataset_id, st.c.status == "committed")
            .order_by(st.c.seq.desc())
            .limit(1)
        ).first()
    if last is None or not ctx.staging.names_in(last.stage_id):
        return
    ctx.staging.discard(last.stage_id)
    _tell_source(ctx, dataset_id, last.to_cursor)
    log.info("%s: finished the commit of %s that was interrupted", dataset_id, last.stage_id)


def _pinned_parts(ctx: StepContext, dataset_id: str) -> list[str]:
    """Snapshot parts named by loads not yet delivered: kept until they are."""
    with ctx.engine.connect() as conn:
        lives = lifecycle.lifecycles(conn, dataset_id)
    return [str(part["name"]) for life in lives.values() if life.load_pending for part in life.load_parts]


def _set_cursor(conn: sa.Connection, dataset_id: str, cursor: Any, stage_id: str, now: Any) -> None:
    cur = state.cursors
    updated = conn.execute(
        sa.update(cur)
        .where(cur.c.dataset == dataset_id)
        .values(cursor=cursor, stage_id=stage_id, updated_at=now)
    ).rowcount
    if not updated:
        conn.execute(
            sa.insert(cur).values(dataset=dataset_id, cursor=cursor, stage_id=stage_id, updated_at=now)
        )


def _tell_source(ctx: StepContext, dataset_id: str, cursor: Any) -> None:
    """Let a source that keeps files (drop folders) archive what is now committed.

    `after_commit(cursor)` is an optional extension of the Source protocol; it must be
    idempotent. If it fails, the data is already committed and will not be read again
    (the cursor remembers it), so the run stays successful and the failure is logged.
    """
    source = ctx.source_for(ctx.catalog.dataset(dataset_id))
    try:
        after_commit = getattr(source, "after_commit", None)
        if after_commit is not None:
            after_commit(cursor)
    except GovBusError as exc:
        log.warning("%s: committed, but the source could not archive: %s", dataset_id, exc)
    finally:
        source.close()
