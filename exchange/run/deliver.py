"""Step 2, deliver: decide, minimize, protect, write, log — per subscription.

First (`exchange.run.initial_load`): activate a subscription met for the first time and
pin its initial load, the dataset's current state; skip a suspended or ended one. Then,
for every load part and staged segment it has not yet received, load parts first, then
stages in order:
the policy decides per row (statute, or the subject's active consent at this moment),
allowed rows are cut to the subscription's fields, the subject id is replaced by a
pseudonym for this recipient when the subscription asks for it, the sink writes the
batch under a deterministic batch id, and then — in ONE state-DB transaction — the
ledger entry is appended and the checkpoint row inserted.

`Delivery` is one subscription's run fed a piece at a time: `deliver_subscription` feeds
it alone (what each Airflow task does), `exchange.run.fanout` feeds every subscription of
a dataset from one read of each piece (what `govbus run` does); the batches are the same.

Exactly-once: a crash after the sink write and before that transaction leaves no
checkpoint, so the retry writes the same batch id again, which sinks treat as a no-op
replacement (upsert by key, file replaced atomically); the ledger gets one entry.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from typing import TYPE_CHECKING, Any

import pyarrow as pa

import connectors
import consent
from exchange.run import initial_load
from exchange.run.batch_log import SentBatch, audit_work, record_batch
from exchange.run.columns import PSEUDONYM_COLUMN
from exchange.run.delivery_plan import DeliveryPlan, plan_delivery
from exchange.run.disclosure import delivered_schema, disclose
from exchange.run.initial_load import Piece
from exchange.run.reports import DeliverReport
from exchange.run.shared_piece import ROW_COLUMN, SharedPiece, read_ahead, rows_of
from exchange.run.sink_thread import SinkThread
from exchange.subscriptions import lifecycle
from govbus.instants import utc_now

if TYPE_CHECKING:
    from exchange.catalog.loader import Subscription
    from exchange.ctx import StepContext

__all__ = ["Delivery", "deliver_subscription", "delivered_schema"]

log = logging.getLogger("govbus.exchange")


def deliver_subscription(ctx: StepContext, sub: Subscription) -> DeliverReport:
    """Deliver every staged segment this subscription has not received yet, in stage order.

    One batch and one ledger entry per segment, also when every row is denied (nothing is written
    then; the entry records the denials). The caller holds the subscription's `deliver:` lock
    (`Bus.deliver` does). Run again after a crash, it rewrites a written but unlogged batch under the
    same batch id. Returns the totals: batches, rows delivered and denied by reason. Several
    subscriptions of one dataset at once, each segment read once: `exchange.run.fanout`.
    """
    delivery = Delivery.start(ctx, sub)
    try:
        # the next piece is read during this one's send; closing stops the reader on a failure
        with closing(read_ahead(ctx, delivery.dataset, delivery.todo)) as pieces:
            for piece, shared in pieces:
                delivery.send(piece, shared)
        return delivery.finish()
    finally:
        delivery.close()


class Delivery:
    """One subscription's delivery run, fed one piece at a time (by itself or by a fan-out).

    `start` activates the subscription and pins its load if due (`initial_load.prepare`),
    lists its `todo` pieces and opens its sink; `send` decides, minimizes, protects and
    writes one piece, logging the batch before it; `finish` logs the last batch and marks a
    load delivered; `close` (always, also after a failure) waits for the audit and sink
    threads and closes the sink. A failure in `send` logs the batch already written, then
    raises; a failed write is raised when its batch is logged (by the next `send` or
    `finish`), and nothing after it is logged.
    """

    def __init__(self, ctx: StepContext, sub: Subscription) -> None:
        self.ctx, self.sub = ctx, sub
        self.dataset = ctx.catalog.dataset(sub.dataset)
        self.report = DeliverReport(sub.id)
        self.todo: list[Piece] = []
        self._life: lifecycle.Lifecycle | None = None
        self._plan: DeliveryPlan | None = None
        self._sink: connectors.Sink | None = None
        self._audit: ThreadPoolExecutor | None = None
        self._writer: SinkThread | None = None
        # The audit work of a batch (Merkle root, access-index grouping) runs on a second
        # thread and its sink write on a third (in batch order) while this one prepares the
        # next batch; a batch is logged once both are done, one batch behind. A crash in
        # between leaves at most two batches written but unlogged: the retry rewrites both
        # under the same batch ids.
        self._waiting: SentBatch | None = None

    @classmethod
    def start(cls, ctx: StepContext, sub: Subscription) -> Delivery:
        """Prepare the subscription's run; `todo` is empty when there is nothing to send."""
        self = cls(ctx, sub)
        life = initial_load.prepare(ctx, sub)
        if life is None:
            with ctx.engine.connect() as conn:
                now = lifecycle.read(conn, sub.id)
            self.report.skipped = now.status if now is not None else "not active"
            return self
        self._life = life
        self.todo = initial_load.pieces(ctx, sub, life)
        if not self.todo:
            return self
        self._plan = plan_delivery(ctx, sub, self.dataset)
        self._sink = ctx.sink_for(sub, delivered_schema(self.dataset, sub))
        # A run killed between a file's write and its rename left a hidden temporary copy
        # of a batch in the recipient's folder: remove those of dead writers first.
        connectors.sweep_sink(self._sink)
        self._audit = ThreadPoolExecutor(max_workers=1, thread_name_prefix="govbus-audit")
        self._writer = SinkThread(self._sink)
        return self

    def send(self, piece: Piece, shared: SharedPiece) -> None:
        """Deliver one of `todo` from its rows as read (`shared`); log the batch sent before it."""
        assert self._plan is not None and self._sink is not None
        assert self._audit is not None and self._writer is not None
        try:
            sent = _send(self.ctx, self._plan, (self._audit, self._writer), piece, shared)
        except BaseException:
            if self._waiting is not None:  # written before the failure: log it
                waiting, self._waiting = self._waiting, None
                record_batch(self.ctx, self._plan, waiting, self.report)
            raise
        if self._waiting is not None:
            waiting, self._waiting = self._waiting, None
            record_batch(self.ctx, self._plan, waiting, self.report)
        self._waiting = sent

    def finish(self) -> DeliverReport:
        """Log the last batch, close the sink, mark a load delivered; the run's totals."""
        if self._waiting is not None:
            assert self._plan is not None
            waiting, self._waiting = self._waiting, None
            record_batch(self.ctx, self._plan, waiting, self.report)
        self.close()
        if self._life is not None:
            initial_load.finish(self.ctx, self.sub, self._life)
        if self._plan is not None:
            log.info(
                "delivered %s to %s batches=%d rows=%d denied=%d",
                self.sub.dataset,
                self.sub.agency,
                self.report.batches,
                self.report.rows_delivered,
                self.report.rows_denied,
            )
        return self.report

    def close(self) -> None:
        """Wait for the audit and sink threads and close the sink (idempotent; safe after a failure)."""
        audit_pool, self._audit = self._audit, None
        writer, self._writer = self._writer, None
        sink, self._sink = self._sink, None
        try:
            if writer is not None:
                writer.close()
            if audit_pool is not None:
                audit_pool.shutdown(wait=True)
        finally:
            if sink is not None:
                sink.close()


def _decide(plan: DeliveryPlan, shared: SharedPiece, at: Any) -> tuple[consent.Decision, dict[str, int]]:
    """The per-row decision and, for denied rows, the counts by reason."""
    sub, rows = plan.sub, shared.num_rows
    common = {"dataset": sub.dataset, "recipient": sub.agency, "purpose": sub.purpose, "at": at}
    if plan.statute is not None:
        decision = consent.decide(
            None, statute=plan.statute, consents=None, fields=sub.fields, rows=rows, **common
        )
        reasons = {"statute not in force": decision.denied_count} if decision.denied_count else {}
        return decision, reasons
    refs = shared.refs()
    decision = consent.decide(
        refs, statute=None, consents=plan.timeline.active_index(at), fields=sub.fields, **common
    )
    return decision, plan.timeline.denial_reasons(refs, decision.allowed, at)


def _send(
    ctx: StepContext,
    plan: DeliveryPlan,
    threads: tuple[ThreadPoolExecutor, SinkThread],
    piece: Piece,
    shared: SharedPiece,
) -> SentBatch:
    """Decide, minimize and protect one staged segment or load part; start its audit work
    and its write (`threads`: the audit thread and the sink thread).

    `shared` is the piece as read, possibly by a fan-out for several subscriptions: it is
    only read here, never changed.
    """
    sub, dataset = plan.sub, plan.dataset
    subject_field = dataset.contract.subject_field
    table = shared.table
    decision, denials = _decide(plan, shared, utc_now())
    # Copy only what may leave: the subscription's fields (and the subject, to pseudonymize),
    # and the rows' positions in the piece (for the access index; never delivered).
    keep = [*sub.fields, subject_field, ROW_COLUMN]
    allowed = decision.select(table, list(dict.fromkeys(keep)))
    basis_fields = plan.statute.fields if plan.statute is not None else sub.fields
    out = consent.minimize(allowed, sub.fields, basis_fields=basis_fields, sensitive=plan.sensitive)
    batch_id = f"{piece.stage_id}-{piece.segment:05d}-{sub.id}"
    # Disclosure control between minimization and protection (exchange.run.disclosure).
    disclosed = disclose(ctx, sub, dataset, out, allowed, batch_id)
    out, allowed = disclosed.out, disclosed.allowed
    pseudonym_key_id = None
    if sub.pseudonymize_subject:
        key = ctx.keys.pseudonym_key(sub.agency, sub.purpose)
        pseudonym_key_id = ctx.keys.pseudonym_key_id(sub.agency, sub.purpose)
        pseudonyms = consent.pseudonymize(allowed[subject_field], key)
        out = out.append_column(pa.field(PSEUDONYM_COLUMN, pa.string(), nullable=False), pseudonyms)
    out = _encrypt_reversible(plan, out)
    # The root is over what leaves the bus: reversible fields as their ciphertext.
    rows = rows_of(allowed) if allowed.num_rows else None
    audit, writer = threads
    future = audit.submit(audit_work, out, shared, rows)
    receipt = writer.write(batch_id, out) if out.num_rows else None
    if disclosed.suppressed:
        denials = {**denials, consent.suppression_reason(sub.disclosure): disclosed.suppressed}
    return SentBatch(
        piece,
        batch_id,
        shared.num_rows,
        out,
        decision,
        denials,
        receipt,
        pseudonym_key_id,
        future,
        disclosed.suppressed,
        writer.sink,
    )


def _encrypt_reversible(plan: DeliveryPlan, out: pa.Table) -> pa.Table:
    """Replace each reversible field by its AES-SIV ciphertext (base64) under the recipient's key."""
    for name, (_, key) in plan.field_keys.items():
        index = out.schema.get_field_index(name)
        encrypted = consent.encrypt_column(out[name], key, field=name)
        out = out.set_column(index, out.schema.field(index).with_type(pa.string()), encrypted)
    return out
