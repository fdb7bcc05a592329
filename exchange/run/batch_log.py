"""Logging a delivered batch: its signed manifest, then its ledger entry, checkpoint row and
access-index rows in one state-DB transaction.

What a caller must know: `record_batch` runs once the sink wrote the batch (on the
delivery's sink thread) and its audit work (`audit_work`, on the delivery's audit
thread) is done; it waits for both, and raises the write's failure.
A crash before its transaction commits leaves the batch written but unlogged: the retry
rewrites it under the same batch id, and the ledger gets one entry.
"""

from __future__ import annotations

from concurrent.futures import Future
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import sqlalchemy as sa

import audit
import connectors
import consent
from exchange import state
from exchange.run import manifests, step_locks
from exchange.run.shared_piece import SharedPiece
from govbus.instants import utc_now

if TYPE_CHECKING:
    from exchange.ctx import StepContext
    from exchange.run.delivery_plan import DeliveryPlan
    from exchange.run.initial_load import Piece
    from exchange.run.reports import DeliverReport

__all__ = ["AuditWork", "SentBatch", "audit_work", "record_batch"]

# (Merkle root, the piece's subject set and which of its subjects the batch carried, leaves)
AuditWork = tuple[str, "tuple[audit.SubjectSet, np.ndarray] | None", bytes]


@dataclass
class SentBatch:
    """A batch sent to the sink (written, or being written on the sink thread), waiting
    for its write and its audit work to be logged."""

    piece: Piece
    batch_id: str
    rows_read: int
    out: pa.Table
    decision: consent.Decision
    denials: dict[str, int]
    receipt: Future[connectors.SinkReceipt] | None  # None: nothing to write (every row denied)
    pseudonym_key_id: str | None
    audit: Future[AuditWork]
    suppressed: int = 0  # rows the disclosure step removed (classes smaller than k)
    sink: connectors.Sink | connectors.ManifestStore | None = None  # where its manifest goes


def audit_work(out: pa.Table, shared: SharedPiece, rows: np.ndarray | None) -> AuditWork:
    """The Merkle root over what leaves the bus, the delivered subjects for the access index,
    and the record leaves (hashed once: a table sink's manifest signs them sorted)."""
    leaves = audit.record_leaf_block(out)
    subjects = shared.subjects_of(rows) if rows is not None and len(rows) else None
    return audit.block_merkle_root(leaves), subjects, leaves


def record_batch(ctx: StepContext, plan: DeliveryPlan, sent: SentBatch, report: DeliverReport) -> None:
    """Sign the manifest, then log the batch: ledger entry, checkpoint and index in one transaction."""
    entry, subjects = _signed_entry(ctx, plan, sent)
    _append(ctx, plan, sent, entry, subjects)
    _count(ctx, plan, sent, report)


def _signed_entry(
    ctx: StepContext, plan: DeliveryPlan, sent: SentBatch
) -> tuple[audit.DeliveryEntry, tuple[audit.SubjectSet, np.ndarray] | None]:
    """Sign the batch's manifest; the ledger entry that records it and the subjects it carried."""
    sub, dataset, out, decision = plan.sub, plan.dataset, sent.out, sent.decision
    receipt = sent.receipt.result() if sent.receipt is not None else None  # a failed write raises
    merkle_root, subjects, leaves = sent.audit.result()
    files: list[list[str]] = []
    manifest_sha256 = None
    if receipt is not None:
        files = [list(f) for f in receipt.files]
        assert sent.sink is not None
        manifest_sha256, files = manifests.write_manifest(
            ctx,
            sub=sub,
            dataset=dataset,
            policy_version=plan.policy_version,
            field_keys=plan.field_keys,
            sink=sent.sink,
            receipt=receipt,
            out=out,
            rows_denied=decision.denied_count + sent.suppressed,
            merkle_root=merkle_root,
            leaf_block=leaves,
        )
    if ctx.hooks.after_sink_write is not None:
        ctx.hooks.after_sink_write(sent.batch_id)
    entry = audit.DeliveryEntry(
        dataset=sub.dataset,
        contract_version=dataset.contract.version,
        schema_sha256=dataset.schema.fingerprint_sha256,
        subscription=sub.id,
        recipient=sub.agency,
        purpose=sub.purpose,
        basis=sub.basis,
        policy_version=plan.policy_version,
        consents_used=decision.consents_used,
        batch_id=sent.batch_id,
        rows_delivered=out.num_rows,
        rows_denied=decision.denied_count + sent.suppressed,
        denials=sent.denials,
        fields=tuple(out.column_names),
        pseudonym_key_id=sent.pseudonym_key_id,
        merkle_root=merkle_root,
        files=tuple((name, digest) for name, digest in files),
        manifest_sha256=manifest_sha256,
        # Named in the payload only when used: plain deliveries keep their exact form.
        reversible_fields=tuple(sub.reversible_fields),
        encrypted_files=bool(sub.encrypt_files),
        load="initial" if sent.piece.is_load else None,
    )
    return entry, subjects


def _append(
    ctx: StepContext,
    plan: DeliveryPlan,
    sent: SentBatch,
    entry: audit.DeliveryEntry,
    subjects: tuple[audit.SubjectSet, np.ndarray] | None,
) -> None:
    """Ledger entry, checkpoint row and access index in one transaction (on the log thread)."""
    sub = plan.sub
    rows_denied = sent.decision.denied_count + sent.suppressed
    # The ledger is one chain for all subscriptions: appends are serialized across workers
    # and across a fan-out's threads.
    with step_locks.locked(ctx, "ledger"), ctx.engine.begin() as conn:
        logged = ctx.ledger.append_entry(conn, entry)
        conn.execute(
            sa.insert(state.deliveries).values(
                subscription_id=sub.id,
                stage_id=sent.piece.stage_id,
                segment=sent.piece.segment,
                dataset=sub.dataset,
                batch_id=sent.batch_id,
                rows_delivered=sent.out.num_rows,
                rows_denied=rows_denied,
                ledger_seq=logged.seq,
                delivered_at=utc_now(),
            )
        )
        if subjects is not None and subjects[1].any():
            subject_set, carried = subjects
            # A piece without a set of its own from the stage gets one, for this delivery.
            set_id = subject_set.set_id
            if set_id is None:
                set_id = audit.write_subject_set(conn, subject_set)
            audit.write_access_delivery(conn, logged.seq, set_id, carried)


def _count(ctx: StepContext, plan: DeliveryPlan, sent: SentBatch, report: DeliverReport) -> None:
    """Add a logged batch to the run's totals and progress."""
    report.batches += 1
    report.rows_delivered += sent.out.num_rows
    report.rows_denied += sent.decision.denied_count + sent.suppressed
    report.denials.update(sent.denials)
    if sent.piece.is_load:
        report.load_rows += sent.out.num_rows
    step_locks.progress(ctx, f"deliver:{plan.sub.id}", sent.rows_read)
