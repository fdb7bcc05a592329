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

Exactly-once: a crash after the sink write and before that transaction leaves no
checkpoint, so the retry writes the same batch id again, which sinks treat as a no-op
replacement (upsert by key, file replaced atomically); the ledger gets one entry.
"""

from __future__ import annotations

import json
import logging
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import sqlalchemy as sa

import audit
import connectors
import consent
import schemas
from exchange import state
from exchange.run import initial_load
from exchange.run.columns import PSEUDONYM_COLUMN, SUBJECT_REF_COLUMN
from exchange.run.disclosure import delivered_schema, disclose
from exchange.run.initial_load import Piece
from exchange.run.reports import DeliverReport
from exchange.subscriptions import lifecycle
from govbus.instants import utc_now

if TYPE_CHECKING:
    from exchange.catalog.loader import Dataset, Subscription
    from exchange.ctx import StepContext

__all__ = ["deliver_subscription", "delivered_schema", "subject_refs"]

log = logging.getLogger("govbus.exchange")


@dataclass
class _Plan:
    """What stays the same for every segment of one delivery run."""

    sub: Subscription
    dataset: Dataset
    statute: consent.Statute | None
    timeline: Any  # consent.ConsentTimeline for consent subscriptions, else None
    policy_version: str
    sensitive: tuple[str, ...]
    # {field: (key id, AES-SIV key)} for the recipient's reversible fields, read once per run.
    field_keys: dict[str, tuple[str, bytes]] = field(default_factory=dict)


def deliver_subscription(ctx: StepContext, sub: Subscription) -> DeliverReport:
    """Deliver every staged segment this subscription has not received yet, in stage order.

    One batch and one ledger entry per segment, also when every row is denied (nothing is written
    then; the entry records the denials). The caller holds the subscription's `deliver:` lock
    (`Bus.deliver` does). Run again after a crash, it rewrites a written but unlogged batch under the
    same batch id. Returns the totals: batches, rows delivered and denied by reason.
    """
    dataset = ctx.catalog.dataset(sub.dataset)
    report = DeliverReport(sub.id)
    life = initial_load.prepare(ctx, sub)
    if life is None:
        with ctx.engine.connect() as conn:
            now = lifecycle.read(conn, sub.id)
        report.skipped = now.status if now is not None else "not active"
        return report
    todo = initial_load.pieces(ctx, sub, life)
    if not todo:
        initial_load.finish(ctx, sub, life)
        return report
    statute = ctx.catalog.statutes[sub.statute] if sub.statute else None
    timeline = None
    if statute is None:
        # Loaded once per delivery run; each segment asks it for the consents in force now.
        with ctx.engine.connect() as conn:
            timeline = ctx.register.timeline(
                conn, recipient=sub.agency, dataset=sub.dataset, purpose=sub.purpose, fields=sub.fields
            )
    plan = _Plan(
        sub,
        dataset,
        statute,
        timeline,
        consent.policy_version(
            dataset=sub.dataset,
            recipient=sub.agency,
            purpose=sub.purpose,
            fields=sub.fields,
            statute=statute,
            disclosure=sub.disclosure.fingerprint if sub.disclosure is not None else None,
        ),
        dataset.contract.fields_classified("sensitive"),
        _field_keys(ctx, sub),
    )
    sink = ctx.sink_for(sub, delivered_schema(dataset, sub))
    # A run killed between a file's write and its rename left a hidden temporary copy
    # of a batch in the recipient's folder: remove those of dead writers first.
    connectors.sweep_sink(sink)
    # The audit work of a batch (Merkle root, access-index grouping) runs on a second
    # thread while this one writes it and prepares the next; a batch is logged once its
    # audit work is done, one batch behind the sink. A crash in between leaves at most two
    # batches written but unlogged: the retry rewrites both under the same batch ids.
    waiting: _Sent | None = None
    try:
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="govbus-audit") as audit:
            for piece in todo:
                try:
                    sent = _send(ctx, plan, sink, audit, piece)
                except BaseException:
                    if waiting is not None:  # written before the failure: log it
                        _record(ctx, plan, waiting, report)
                    raise
                if waiting is not None:
                    _record(ctx, plan, waiting, report)
                waiting = sent
            if waiting is not None:
                _record(ctx, plan, waiting, report)
    finally:
        sink.close()
    initial_load.finish(ctx, sub, life)
    log.info(
        "delivered %s to %s batches=%d rows=%d denied=%d",
        sub.dataset,
        sub.agency,
        report.batches,
        report.rows_delivered,
        report.rows_denied,
    )
    return report


def _field_keys(ctx: StepContext, sub: Subscription) -> dict[str, tuple[str, bytes]]:
    keys = {}
    for name in sub.reversible_fields:
        key_id = ctx.keys.field_key_id(sub.agency, name)
        keys[name] = (key_id, ctx.keys.field_key(sub.agency, name, key_id))
    return keys


def _decide(
    ctx: StepContext, plan: _Plan, table: pa.Table, at: Any
) -> tuple[consent.Decision, dict[str, int]]:
    """The per-row decision and, for denied rows, the counts by reason."""
    sub = plan.sub
    common = {"dataset": sub.dataset, "recipient": sub.agency, "purpose": sub.purpose, "at": at}
    if plan.statute is not None:
        decision = consent.decide(
            None, statute=plan.statute, consents=None, fields=sub.fields, rows=table.num_rows, **common
        )
        reasons = {"statute not in force": decision.denied_count} if decision.denied_count else {}
        return decision, reasons
    refs = subject_refs(ctx, plan.dataset, table)
    decision = consent.decide(
        refs, statute=None, consents=plan.timeline.active_index(at), fields=sub.fields, **common
    )
    return decision, plan.timeline.denial_reasons(refs, decision.allowed, at)


def subject_refs(ctx: StepContext, dataset: Dataset, table: pa.Table) -> pa.Array | pa.ChunkedArray:
    """Audit pseudonyms of the rows' subjects: computed at stage time, else now."""
    if SUBJECT_REF_COLUMN in table.column_names:
        return table[SUBJECT_REF_COLUMN]
    return ctx.register.subject_refs(table[dataset.contract.subject_field])


_Audit = tuple[str, list[tuple[int, bytes]]]  # (Merkle root, access-index groups)


@dataclass
class _Sent:
    """A batch the sink has written, waiting for its audit work to be logged."""

    piece: Piece
    batch_id: str
    rows_read: int
    out: pa.Table
    decision: consent.Decision
    denials: dict[str, int]
    receipt: connectors.SinkReceipt | None
    pseudonym_key_id: str | None
    audit: Future[_Audit]
    suppressed: int = 0  # rows the disclosure step removed (classes smaller than k)


def _audit_work(
    out: pa.Table, refs: pa.Array | pa.ChunkedArray | None
) -> tuple[str, list[tuple[int, bytes]]]:
    """The Merkle root over what leaves the bus and the delivered subjects grouped for the index."""
    root = audit.record_merkle_root(out)
    return root, audit.group_subject_refs(refs) if refs is not None else []


def _send(
    ctx: StepContext,
    plan: _Plan,
    sink: connectors.Sink,
    audit: ThreadPoolExecutor,
    piece: Piece,
) -> _Sent:
    """Decide, minimize and protect one staged segment or load part, start its audit work, write it."""
    sub, dataset = plan.sub, plan.dataset
    subject_field = dataset.contract.subject_field
    table = initial_load.read_piece(ctx, piece, dataset.contract.cursor_field)
    # Staged under an older schema version? Read it as the current one (Avro resolution).
    table = schemas.resolve_staged(table, piece.fingerprint, dataset.versions, dataset.schema)
    decision, denials = _decide(ctx, plan, table, utc_now())
    # Copy only what may leave: the subscription's fields (and the subject, to pseudonymize).
    keep = [
        *sub.fields,
        subject_field,
        *([SUBJECT_REF_COLUMN] if SUBJECT_REF_COLUMN in table.column_names else []),
    ]
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
    refs = subject_refs(ctx, dataset, allowed) if allowed.num_rows else None
    future = audit.submit(_audit_work, out, refs)
    receipt = sink.write(batch_id, out) if out.num_rows else None
    if disclosed.suppressed:
        denials = {**denials, consent.suppression_reason(sub.disclosure): disclosed.suppressed}
    return _Sent(
        piece,
        batch_id,
        table.num_rows,
        out,
        decision,
        denials,
        receipt,
        pseudonym_key_id,
        future,
        disclosed.suppressed,
    )


def _record(ctx: StepContext, plan: _Plan, sent: _Sent, report: DeliverReport) -> None:
    """Sign the manifest, then log the batch: ledger entry, checkpoint and index in one transaction."""
    sub, dataset, out, decision = plan.sub, plan.dataset, sent.out, sent.decision
    merkle_root, groups = sent.audit.result()
    files: list[list[str]] = []
    manifest_sha256 = None
    if sent.receipt is not None:
        files = [list(f) for f in sent.receipt.files]
        if sent.receipt.files:
            manifest_sha256, files = _write_manifest(
                ctx, plan, sent.receipt, sent.batch_id, out, decision, merkle_root, sent.suppressed
            )
    if ctx.hooks.after_sink_write is not None:
        ctx.hooks.after_sink_write(sent.batch_id)
    record = audit.DeliveryEntry(
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
    # The ledger is one chain for all subscriptions: appends are serialized across workers.
    with ctx.locked("ledger"), ctx.engine.begin() as conn:
        entry = ctx.ledger.append_entry(conn, record)
        conn.execute(
            sa.insert(state.deliveries).values(
                subscription_id=sub.id,
                stage_id=sent.piece.stage_id,
                segment=sent.piece.segment,
                dataset=sub.dataset,
                batch_id=sent.batch_id,
                rows_delivered=out.num_rows,
                rows_denied=decision.denied_count + sent.suppressed,
                ledger_seq=entry.seq,
                delivered_at=utc_now(),
            )
        )
        audit.write_access_index(conn, groups, entry.seq)
    report.batches += 1
    report.rows_delivered += out.num_rows
    report.rows_denied += decision.denied_count + sent.suppressed
    report.denials.update(sent.denials)
    if sent.piece.is_load:
        report.load_rows += out.num_rows
    ctx.progress(f"deliver:{sub.id}", sent.rows_read)


def _write_manifest(
    ctx: StepContext,
    plan: _Plan,
    receipt: connectors.SinkReceipt,
    batch_id: str,
    out: pa.Table,
    decision: consent.Decision,
    merkle_root: str,
    sent_suppressed: int = 0,
) -> tuple[str, list[list[str]]]:
    """Sign a manifest next to a file delivery; the recipient checks it with verify-delivery.

    Seals the reversible fields' keys and, with `encrypt_files`, replaces each file by its
    `<name>.enc` (the plaintext file is removed). Returns the manifest's SHA-256 and the
    [name, sha256] of the files now in the folder (the encrypted ones, if encrypted).
    """
    sub, dataset = plan.sub, plan.dataset
    details: dict[str, Any] = {
        "subscription": sub.id,
        "recipient": sub.agency,
        "purpose": sub.purpose,
        "basis": sub.basis,
        "fields": out.column_names,
        "merkle_root": merkle_root,
    }
    if sub.disclosure is not None:  # how the rows were coarsened, for the recipient to read them
        details["disclosure"] = sub.disclosure.describe()
    protect: dict[str, Any] = {}
    if sub.encrypt_files or plan.field_keys:
        details["reversible_fields"] = list(sub.reversible_fields)
        protect = {
            "recipient_keys": {sub.agency: ctx.catalog.agencies[sub.agency].delivery_key},
            "encrypt": sub.encrypt_files,
            "field_keys": plan.field_keys or None,
        }
    manifest = consent.write_manifest(
        Path(receipt.location).parent,
        batch_id,
        signing_key=ctx.keys.signing_key(),
        contract_id=dataset.id,
        contract_version=dataset.contract.version,
        schema_sha256=dataset.schema.fingerprint_sha256,
        rows_delivered=out.num_rows,
        rows_denied=decision.denied_count + sent_suppressed,
        files=receipt.files,
        policy_version=plan.policy_version,
        details=details,
        **protect,
    )
    listed = json.loads(manifest.read_bytes())["files"]
    return consent.file_sha256(manifest)[0], [[entry["name"], entry["sha256"]] for entry in listed]


def _encrypt_reversible(plan: _Plan, out: pa.Table) -> pa.Table:
    """Replace each reversible field by its AES-SIV ciphertext (base64) under the recipient's key."""
    for name, (_, key) in plan.field_keys.items():
        index = out.schema.get_field_index(name)
        encrypted = consent.encrypt_column(out[name], key, field=name)
        out = out.set_column(index, out.schema.field(index).with_type(pa.string()), encrypted)
    return out
