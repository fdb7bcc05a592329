"""Step 2, deliver: decide, minimize, protect, write, log — per subscription.

For every staged segment this subscription has not yet received, in stage order:
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

import logging
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq
import sqlalchemy as sa

import connectors
import consent
from exchange import state

if TYPE_CHECKING:
    from exchange.bus import Bus
    from exchange.catalog import Dataset, Subscription

log = logging.getLogger("govbus.exchange")

PSEUDONYM_COLUMN = "subject_pseudonym"


@dataclass
class DeliverReport:
    subscription: str
    batches: int = 0
    rows_delivered: int = 0
    rows_denied: int = 0
    denials: Counter[str] = field(default_factory=Counter)

    def counts(self) -> dict[str, Any]:
        return {
            "batches": self.batches,
            "rows_delivered": self.rows_delivered,
            "rows_denied": self.rows_denied,
            "denials": dict(self.denials),
        }


def delivered_schema(dataset: Dataset, sub: Subscription) -> pa.Schema:
    """The Arrow schema a subscriber receives: its fields, plus the pseudonym if asked."""
    arrow = dataset.schema.arrow
    fields = [arrow.field(name) for name in sub.fields]
    if sub.pseudonymize_subject:
        fields.append(pa.field(PSEUDONYM_COLUMN, pa.string(), nullable=False))
    return pa.schema(fields)


def deliver_subscription(bus: Bus, sub: Subscription) -> DeliverReport:
    dataset = bus.catalog.dataset(sub.dataset)
    report = DeliverReport(sub.id)
    todo = _pending_segments(bus, sub)
    if not todo:
        return report
    sink = bus.sink_for(sub, delivered_schema(dataset, sub))
    try:
        for stage_id, segment in todo:
            _deliver_segment(bus, sub, dataset, sink, stage_id, segment, report)
    finally:
        sink.close()
    log.info(
        "delivered %s to %s batches=%d rows=%d denied=%d",
        sub.dataset,
        sub.agency,
        report.batches,
        report.rows_delivered,
        report.rows_denied,
    )
    return report


def _pending_segments(bus: Bus, sub: Subscription) -> list[tuple[str, int]]:
    st, dv = state.stages, state.deliveries
    with bus.engine.connect() as conn:
        staged = conn.execute(
            sa.select(st.c.stage_id, st.c.segments)
            .where(st.c.dataset == sub.dataset, st.c.status == "staged")
            .order_by(st.c.seq)
        ).all()
        done = set(
            conn.execute(
                sa.select(dv.c.stage_id, dv.c.segment).where(dv.c.subscription_id == sub.id)
            ).all()
        )
    return [
        (row.stage_id, segment)
        for row in staged
        for segment in range(row.segments)
        if (row.stage_id, segment) not in done
    ]


def _decide(bus: Bus, sub: Subscription, dataset: Dataset, table: pa.Table) -> consent.Decision:
    at = state.utcnow()
    subjects = table[dataset.contract.subject_field]
    if sub.statute is not None:
        return consent.decide(
            None,
            statute=bus.catalog.statutes[sub.statute],
            consents=None,
            dataset=sub.dataset,
            recipient=sub.agency,
            purpose=sub.purpose,
            at=at,
            rows=table.num_rows,
        )
    refs = consent.pseudonymize(subjects, bus.keys.audit_key())
    with bus.engine.connect() as conn:
        active = bus.register.active(
            conn,
            recipient=sub.agency,
            dataset=sub.dataset,
            purpose=sub.purpose,
            fields=sub.fields,
            at=at,
        )
    return consent.decide(
        refs,
        statute=None,
        consents=active,
        dataset=sub.dataset,
        recipient=sub.agency,
        purpose=sub.purpose,
        at=at,
        rows=table.num_rows,
    )


def _deliver_segment(
    bus: Bus,
    sub: Subscription,
    dataset: Dataset,
    sink: connectors.Sink,
    stage_id: str,
    segment: int,
    report: DeliverReport,
) -> None:
    table = pq.read_table(bus.settings.staging_dir / stage_id / f"seg-{segment:05d}.parquet")
    decision = _decide(bus, sub, dataset, table)
    allowed = table.filter(decision.allowed)
    out = consent.minimize(allowed, sub.fields)
    if sub.pseudonymize_subject:
        key = bus.keys.pseudonym_key(sub.agency, sub.purpose)
        pseudonyms = consent.pseudonymize(allowed[dataset.contract.subject_field], key)
        out = out.append_column(pa.field(PSEUDONYM_COLUMN, pa.string(), nullable=False), pseudonyms)
    batch_id = f"{stage_id}-{segment:05d}-{sub.id}"
    files: list[list[str]] = []
    if out.num_rows:
        receipt = sink.write(batch_id, out)
        files = [list(f) for f in receipt.files]
    if bus.hooks.after_sink_write is not None:
        bus.hooks.after_sink_write(batch_id)
    denied_reason = "no legal basis in force" if sub.statute else "no active consent"
    payload = {
        "dataset": sub.dataset,
        "contract_version": dataset.contract.version,
        "schema_sha256": dataset.schema.fingerprint_sha256,
        "subscription": sub.id,
        "recipient": sub.agency,
        "purpose": sub.purpose,
        "basis": sub.basis,
        "consents_used": decision.consents_used,
        "batch_id": batch_id,
        "rows_delivered": out.num_rows,
        "rows_denied": decision.denied_count,
        "denied_reason": denied_reason if decision.denied_count else None,
        "fields": out.column_names,
        "merkle_root": consent.merkle_root(consent.record_leaf_hashes(out)),
        "files": files,
    }
    # The ledger is one chain for all subscriptions: appends are serialized across workers.
    with bus.locked("ledger"), bus.engine.begin() as conn:
        entry = bus.ledger.append(conn, "delivery", payload)
        conn.execute(
            sa.insert(state.deliveries).values(
                subscription_id=sub.id,
                stage_id=stage_id,
                segment=segment,
                dataset=sub.dataset,
                batch_id=batch_id,
                rows_delivered=out.num_rows,
                rows_denied=decision.denied_count,
                ledger_seq=entry.seq,
                delivered_at=state.utcnow(),
            )
        )
    report.batches += 1
    report.rows_delivered += out.num_rows
    report.rows_denied += decision.denied_count
    if decision.denied_count:
        report.denials[denied_reason] += decision.denied_count
    bus.progress(f"deliver:{sub.id}", table.num_rows)
