"""Initial loads: a subscriber first receives the dataset's current state, then its changes.

The deliver step calls `prepare` before anything else. On a subscription's first
delivery it is activated: a `subscription_lifecycle` row and a `subscription.lifecycle`
ledger entry. Then, whenever a load is due (activation, backfill, resume, or a gap found
in what it received), the load is *pinned*: under the dataset's commit lock, so no commit
moves the snapshot meanwhile, the subscription takes the dataset's snapshot (its state as
of the last committed stage P, `exchange.run.snapshots`) as its initial load and will
receive the stages after P. The commit step waits for an active subscription only for
stages after its P, and cannot commit stage P+1 before the subscription has it — which
it gets only after the whole load. So the switch has no gap and no duplicate:

    load = state as of P  (parts, `deliveries.stage_id` = the load id)
    then stages P+1, P+2, …  (as every subscriber receives them)

Each load part is delivered like a staged segment (same decision, minimization,
protection, sink, ledger entry and checkpoint row), so a crash anywhere is retried with
exactly-once effect. A pin is deferred while the subscription holds stages after P it
already received (a backfill asked for mid-run): the load would be older than them.

What a caller must know: `prepare` returns None when the subscription must not be
delivered now (suspended, ended, its end date passed or its statute lapsed: then it
is ended here, with its ledger entry); `pieces` lists what it has not
received, load parts first; `finish` marks a load delivered once all of its parts are.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa

from exchange import state
from exchange.run import snapshots, step_locks
from exchange.subscriptions import lifecycle
from exchange.subscriptions.lifecycle import ACTIVE, Lifecycle
from govbus.instants import parse_instant, utc_now

if TYPE_CHECKING:
    from exchange.catalog import Subscription
    from exchange.ctx import StepContext

__all__ = ["Piece", "finish", "pieces", "prepare", "read_piece"]

log = logging.getLogger("govbus.exchange")


@dataclass(frozen=True)
class Piece:
    """One thing to deliver: a staged segment, or a part of a pinned load.

    `stage_id` is what the checkpoint row records (the stage, or the load id); `part` the
    snapshot part's path for load pieces; `since` a backfill's cursor bound.
    """

    stage_id: str
    segment: int
    fingerprint: str
    part: str | None = None
    since: str | None = None

    @property
    def is_load(self) -> bool:
        """Part of an initial load or backfill (its ledger entry says `load: initial`)."""
        return self.part is not None


def prepare(ctx: StepContext, sub: Subscription) -> Lifecycle | None:
    """Activate the subscription on first sight and pin a due load; None when it must not be delivered."""
    with ctx.engine.connect() as conn:
        life = lifecycle.read(conn, sub.id)
    first = life is None
    if life is None:
        life = _activate(ctx, sub)
    if life.status != ACTIVE:
        return None
    if sub.ends_on is not None and utc_now().date() > sub.ends_on:
        lifecycle.end(ctx, sub.id, by="bus", reason=f"end date {sub.ends_on.isoformat()} reached")
        log.warning("subscription %s ended: its end date %s passed", sub.id, sub.ends_on)
        return None
    statute = ctx.catalog.statutes.get(sub.statute or "")
    if statute is not None and statute.valid_until is not None and statute.valid_until <= utc_now():
        lifecycle.end(ctx, sub.id, by="bus", reason=f"statute {statute.id} lapsed")
        log.warning(
            "subscription %s ended: statute %s lapsed; `govbus consent purge-statute %s` purges "
            "what it received",
            sub.id,
            statute.id,
            statute.id,
        )
        return None
    if not life.needs_pin and not life.load_pending and _missed_stages(ctx, sub, life):
        log.warning(
            "%s missed committed stages (removed and added again?): loading the current state", sub.id
        )
        life = _pin(ctx, sub, life, reason="gap found: loading the current state")
    elif life.needs_pin:
        life = _pin(ctx, sub, life, reason="activated" if first else "load pinned", first=first)
    return life


def pieces(ctx: StepContext, sub: Subscription, life: Lifecycle) -> list[Piece]:
    """What the subscription has not received: its pending load's parts, then newer stages."""
    st, dv = state.stages, state.deliveries
    with ctx.engine.connect() as conn:
        done = set(
            conn.execute(sa.select(dv.c.stage_id, dv.c.segment).where(dv.c.subscription_id == sub.id)).all()
        )
        staged = conn.execute(
            sa.select(st.c.stage_id, st.c.segments, st.c.schema_fingerprint)
            .where(st.c.dataset == sub.dataset, st.c.status == "staged", st.c.seq > life.since_seq)
            .order_by(st.c.seq)
        ).all()
    todo: list[Piece] = []
    if life.load_pending and life.load_id is not None:
        for index, part in enumerate(life.load_parts):
            if (life.load_id, index) not in done:
                path = snapshots.part_path(sub.dataset, str(part["name"]))
                todo.append(Piece(life.load_id, index, str(part["fingerprint"]), path, life.load_since))
    todo.extend(
        Piece(row.stage_id, segment, row.schema_fingerprint)
        for row in staged
        for segment in range(row.segments)
        if (row.stage_id, segment) not in done
    )
    return todo


def read_piece(ctx: StepContext, piece: Piece, cursor_field: str | None) -> pa.Table:
    """The piece's rows as staged; a backfill's part keeps the rows changed at or after `since`."""
    if piece.part is None:
        return ctx.staging.read_segment(piece.stage_id, piece.segment)
    table = ctx.staging.read_table(piece.part)
    if piece.since is not None and cursor_field and cursor_field in table.column_names:
        bound = pa.scalar(parse_instant(piece.since, where="backfill --since"))
        column = table[cursor_field]
        if pa.types.is_date(column.type):
            bound = pa.scalar(parse_instant(piece.since, where="backfill --since").date())
        else:
            bound = bound.cast(column.type) if pa.types.is_timestamp(column.type) else bound
        table = table.filter(pc.fill_null(pc.greater_equal(column, bound), False))
    return table


def finish(ctx: StepContext, sub: Subscription, life: Lifecycle) -> None:
    """Mark the pinned load delivered once every one of its parts has its checkpoint row."""
    if not life.load_pending or life.load_id is None:
        return
    dv, lc = state.deliveries, state.subscription_lifecycle
    with ctx.engine.begin() as conn:
        have = conn.execute(
            sa.select(sa.func.count()).where(dv.c.subscription_id == sub.id, dv.c.stage_id == life.load_id)
        ).scalar()
        if int(have or 0) >= len(life.load_parts):
            conn.execute(
                sa.update(lc)
                .where(lc.c.subscription_id == sub.id, lc.c.load_id == life.load_id)
                .values(loaded_at=utc_now())
            )


def _activate(ctx: StepContext, sub: Subscription) -> Lifecycle:
    """First sight: the lifecycle row and its ledger entry; a load is pinned right after."""
    lc, dv = state.subscription_lifecycle, state.deliveries
    with (
        step_locks.locked(ctx, f"commit:{sub.dataset}"),
        step_locks.locked(ctx, "ledger"),
        ctx.engine.begin() as conn,
    ):
        existing = lifecycle.read(conn, sub.id)
        if existing is not None:
            return existing
        now = utc_now()
        received_before = conn.execute(
            sa.select(dv.c.stage_id).where(dv.c.subscription_id == sub.id).limit(1)
        ).first()
        values: dict[str, Any] = {
            "subscription_id": sub.id,
            "dataset": sub.dataset,
            "origin": sub.origin,
            "status": ACTIVE,
            "activated_at": now,
            "changed_at": now,
            "since_seq": 0,
        }
        if received_before is not None:
            # Delivered to before lifecycles were recorded: it has every committed stage.
            reason = "active before lifecycles were recorded"
            values.update(since_seq=snapshots.last_committed_seq(conn, sub.dataset), loaded_at=now)
            ctx.ledger.append_entry(conn, lifecycle.lifecycle_entry(sub, None, ACTIVE, reason, by="bus"))
        else:
            reason = "activated"  # its entry is written when its load is pinned, right after
        conn.execute(sa.insert(lc).values(**values, reason=reason))
        life = lifecycle.read(conn, sub.id)
    assert life is not None
    return life


def _pin(
    ctx: StepContext, sub: Subscription, life: Lifecycle, *, reason: str, first: bool = False
) -> Lifecycle:
    """Take the dataset's snapshot as the subscription's load (see the module docstring)."""
    lc, st, dv = state.subscription_lifecycle, state.stages, state.deliveries
    with (
        step_locks.locked(ctx, f"commit:{sub.dataset}"),
        step_locks.locked(ctx, "ledger"),
        ctx.engine.begin() as conn,
    ):
        snapshot = snapshots.current(conn, sub.dataset)
        ahead = conn.execute(
            sa.select(dv.c.stage_id)
            .join(st, st.c.stage_id == dv.c.stage_id)
            .where(dv.c.subscription_id == sub.id, st.c.seq > snapshot.seq, st.c.status == "staged")
            .limit(1)
        ).first()
        if ahead is not None:
            log.info("%s: its load waits until the stages it already received are committed", sub.id)
            return life
        now = utc_now()
        load_id = f"{sub.dataset}.load.{snapshot.seq:06d}.{secrets.token_hex(3)}"
        parts = [p.to_json() for p in snapshot.parts]
        conn.execute(
            sa.update(lc)
            .where(lc.c.subscription_id == sub.id)
            .values(
                since_seq=snapshot.seq,
                load_id=load_id,
                load_parts=parts,
                loaded_at=None if parts else now,
                changed_at=now,
            )
        )
        if not snapshot.complete:
            log.warning(
                "%s: the snapshot of %s lacks the stages committed before snapshots were kept; "
                "reset the dataset's cursor (`govbus cursor reset`) to load them too",
                sub.id,
                sub.dataset,
            )
        entry = lifecycle.lifecycle_entry(
            sub,
            None if first else life.status,
            ACTIVE,
            reason,
            by="bus",
            load=(snapshot.seq, snapshot.rows, life.load_since),
        )
        ctx.ledger.append_entry(conn, entry)
        pinned = lifecycle.read(conn, sub.id)
    assert pinned is not None
    return pinned


def _missed_stages(ctx: StepContext, sub: Subscription, life: Lifecycle) -> bool:
    """Whether a stage after `since_seq` was committed without this subscription having it all."""
    st, dv = state.stages, state.deliveries
    delivered = (
        sa.select(sa.func.count())
        .where(dv.c.subscription_id == sub.id, dv.c.stage_id == st.c.stage_id)
        .scalar_subquery()
    )
    with ctx.engine.connect() as conn:
        missed = conn.execute(
            sa.select(st.c.stage_id)
            .where(
                st.c.dataset == sub.dataset,
                st.c.status == "committed",
                st.c.seq > life.since_seq,
                st.c.segments > delivered,
            )
            .limit(1)
        ).first()
    return missed is not None
