"""Moving a dataset's cursor back: its next stage reads the source again from there.

An operator's tool for when data must be read again (a source fixed in place, a
snapshot that lacks history from before snapshots were kept): `reset_cursor` makes the
next stage read from the start (`to=None`) or from a given cursor value. Every
subscriber then receives the rows read again as changes — upserted by key in a database
sink, new files in a folder — so for one subscriber's history prefer a backfill
(`exchange.subscriptions.lifecycle.request_backfill`), which reads the bus's snapshot
and leaves the source alone.

What a caller must know: refused while a stage is staged but not committed (its
subscribers have not all received it; deliver and commit first, or the reset would read
those rows twice); one `dataset.cursor-reset` ledger entry, with the cursor only as a
fingerprint. The new cursor is held in `dataset_cursors` with `stage_id` =
`reset@<seq of the newest stage>`, which `open_stage` takes as where to read from.
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

import audit
from exchange import state
from govbus.errors import BadInput
from govbus.instants import utc_now

if TYPE_CHECKING:
    from exchange.ctx import StepContext

__all__ = ["RESET_PREFIX", "reset_cursor", "reset_marker"]

RESET_PREFIX = "reset@"


def reset_marker(seq: int) -> str:
    """The `dataset_cursors.stage_id` of a cursor reset after stage `seq`."""
    return f"{RESET_PREFIX}{seq}"


def reset_cursor(ctx: StepContext, dataset_id: str, *, to: Any = None, by: str, reason: str) -> int:
    """Make the dataset's next stage read from `to` (None: from the start). Returns the ledger seq."""
    ctx.catalog.dataset(dataset_id)  # unknown: a clear error
    if not by.strip() or not reason.strip():
        raise BadInput(
            "say who resets the cursor and why", where="cursor reset", hint="--by NAME --reason TEXT"
        )
    st, cur = state.stages, state.cursors
    with ctx.locked(f"stage:{dataset_id}"), ctx.locked(f"commit:{dataset_id}"), ctx.locked("ledger"):
        with ctx.engine.begin() as conn:
            waiting = conn.execute(
                sa.select(st.c.stage_id)
                .where(st.c.dataset == dataset_id, st.c.status != "committed")
                .limit(1)
            ).first()
            if waiting is not None:
                raise BadInput(
                    f"{dataset_id} has a stage not yet committed ({waiting.stage_id})",
                    where=f"dataset {dataset_id}",
                    hint="run `govbus run` until it is delivered and committed, then reset",
                )
            last = conn.execute(sa.select(sa.func.max(st.c.seq)).where(st.c.dataset == dataset_id)).scalar()
            after = int(last or 0)
            now = utc_now()
            values = {"cursor": to, "stage_id": reset_marker(after), "updated_at": now}
            if not conn.execute(sa.update(cur).where(cur.c.dataset == dataset_id).values(**values)).rowcount:
                conn.execute(sa.insert(cur).values(dataset=dataset_id, **values))
            digest = None
            if to is not None:
                digest = hashlib.sha256(json.dumps(to, sort_keys=True, default=str).encode()).hexdigest()
            entry = ctx.ledger.append_entry(
                conn,
                audit.CursorResetEntry(
                    dataset=dataset_id,
                    to="start" if to is None else "value",
                    cursor_sha256=digest,
                    after_seq=after,
                    by=by,
                    reason=reason,
                ),
            )
    return entry.seq
