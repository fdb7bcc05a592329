"""Step 3, commit: a stage every subscription has received becomes the committed cursor.

Stages commit strictly in order: the committed cursor of a dataset is the end of the
last stage that every current subscription has in full. A failing subscriber holds back
the committed cursor (so nothing is lost for it) but not the other subscribers, which
keep receiving newer stages.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from exchange import state
from exchange.run.reports import CommitReport
from govbus.errors import GovBusError
from govbus.instants import utc_now

if TYPE_CHECKING:
    from exchange.ctx import StepContext

log = logging.getLogger("govbus.exchange")


def commit_dataset(ctx: StepContext, dataset_id: str) -> CommitReport:
    """Step 3: commit every stage all subscriptions have received, in stage order."""
    st, dv = state.stages, state.deliveries
    subscriptions = [s.id for s in ctx.catalog.subscriptions_for(dataset_id)]
    report = CommitReport(dataset_id)
    committed_cursor: Any = None
    with ctx.engine.begin() as conn:
        staged = conn.execute(
            sa.select(st.c.stage_id, st.c.segments, st.c.to_cursor)
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
            missing = [s for s in subscriptions if have.get(s, 0) < stage.segments]
            if missing:
                report.waiting = missing
                break
            now = utc_now()
            conn.execute(
                sa.update(st)
                .where(st.c.stage_id == stage.stage_id)
                .values(status="committed", committed_at=now)
            )
            _set_cursor(conn, dataset_id, stage.to_cursor, stage.stage_id, now)
            committed_cursor = stage.to_cursor
            report.committed.append(stage.stage_id)
    # Staged segments are only needed until every subscriber has them.
    for stage_id in report.committed:
        ctx.staging.discard(stage_id)
    if report.committed:
        _tell_source(ctx, dataset_id, committed_cursor)
    if report.committed:
        log.info("committed %s stages=%d", dataset_id, len(report.committed))
    if report.waiting:
        log.warning("%s waits for subscriptions %s", dataset_id, ", ".join(report.waiting))
    return report


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
