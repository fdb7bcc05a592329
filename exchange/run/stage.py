"""Step 1, stage: read what changed since the last stage, conform, validate, stage.

A stage is the unit of exactly-once: its rows are read once from the source (from the
previous stage's end cursor), conformed to the dataset's current Avro schema,
validated against the contract on whole columns, and written as Parquet segments
under `staging/<stage id>/`. Rows that break a row-level rule go to quarantine with
every reason. The stage row turns from `staging` to `staged` only when all of it is on
disk; a `staging` row found later is a crashed attempt and is discarded whole.

Validation is per stage (`contracts.StageValidation`): a key read twice in one stage is
a duplicate even across batches; referential rules ask the key index
(`exchange.run.key_index`), which this step feeds for datasets others refer to. An open
quarantined row whose key now arrives valid is superseded (`exchange.quarantine.store`). Each
stage writes its validation report (`exchange.quarantine.reports`). `StageRun`, `open_stage` and
`close_stage` are shared with `exchange.run.replay`.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

import audit
import contracts
import schemas
from exchange import ops, state
from exchange.quarantine import reports
from exchange.quarantine import store as quarantine
from exchange.quarantine.rows import jsonable_rows
from exchange.run import key_index
from exchange.run.columns import SUBJECT_REF_COLUMN
from exchange.run.cursor_reset import reset_marker
from exchange.run.reports import StageReport
from exchange.run.segment_sets import SegmentSets
from exchange.run.stage_pipeline import StagePipeline
from govbus.errors import BadInput, TransientError
from govbus.instants import utc_now

if TYPE_CHECKING:
    from exchange.catalog.loader import Dataset
    from exchange.ctx import StepContext

log = logging.getLogger("govbus.exchange")


def stage_dataset(ctx: StepContext, dataset_id: str) -> StageReport:
    """Step 1: read what changed since the committed cursor, conform, validate, quarantine, stage."""
    dataset = ctx.catalog.dataset(dataset_id)
    stage_id, from_cursor = open_stage(ctx, dataset_id, dataset.schema.fingerprint_sha256)
    report = StageReport(dataset_id, stage_id)
    run = StageRun(ctx, dataset, report)
    source = ctx.source_for(dataset)
    cursor = from_cursor
    sla = contracts.SlaTracker(dataset.contract)

    def landed(checked: CheckedBatch, rows: int, batch_cursor: Any) -> None:
        nonlocal cursor
        sla.observe(checked.good)
        report.rows_read += rows
        report.rows_staged += checked.good.num_rows
        report.rows_quarantined += checked.quarantined
        cursor = batch_cursor
        ctx.progress("stage", rows)

    try:
        # the next batch is read here while the ones before are conformed, checked and written
        with StagePipeline(
            partial(_check_batch, run), run.write_checked, landed, prepare=partial(_prepare_batch, run)
        ) as pipeline:
            for batch in source.read(from_cursor, batch_size=ctx.settings.batch_size):
                pipeline.put(batch.data, batch.cursor)
        run.sets.wait()  # every segment's subject set is written before the stage closes
    finally:
        source.close()
        run.sets.close()
    results = sla.results(utc_now())
    if report.rows_read:
        run.write_report(results)
    _check_sla(report, results)
    close_stage(ctx, report, cursor, then=run.resolve_superseded)
    log.info(
        "staged %s stage=%s read=%d staged=%d quarantined=%d",
        dataset_id,
        report.stage_id,
        report.rows_read,
        report.rows_staged,
        report.rows_quarantined,
    )
    return report


class StageRun:
    """What one stage (or replay) keeps while it writes: the validation across its
    batches, the segments, the keys it indexes and the quarantined rows it supersedes."""

    def __init__(self, ctx: StepContext, dataset: Dataset, report: StageReport) -> None:
        self.ctx = ctx
        self.dataset = dataset
        self.report = report
        self.stage_id = report.stage_id or ""
        self.validation = contracts.StageValidation(dataset.contract, keys=key_index.KeyIndex(ctx))
        self.indexed = key_index.indexed_fields(ctx, dataset.id)
        self.key_fields = dataset.contract.key_fields
        # A referential rule on this very dataset reads the keys earlier batches indexed.
        self.refers_to_itself = bool(self.indexed) and any(
            e.kwargs.get("dataset") == dataset.id for e in dataset.contract.expectations
        )
        self.waiting = quarantine.open_keys(ctx, dataset.id, self.key_fields)
        self.superseded: list[int] = []
        self.unreadable = 0
        self.started = utc_now()
        self.sets = SegmentSets(ctx, self.stage_id)

    def write_checked(self, checked: CheckedBatch) -> None:
        """Write a `_check_batch` result: its quarantined rows, then its good rows (`write`)."""
        ctx, dataset_id = self.ctx, self.dataset.id
        if checked.unreadable is not None:
            self.unreadable += quarantine.put_unreadable(ctx, dataset_id, self.stage_id, checked.unreadable)
        if checked.rejected is not None and checked.reasons is not None:
            records = jsonable_rows(checked.rejected)
            quarantine.put(ctx, dataset_id, self.stage_id, records, checked.reasons.to_pylist(), None)
        self.write(checked.good)

    def write(self, good: pa.Table) -> None:
        """Stage validated rows as the next segment; index their keys; note superseded rows."""
        if not good.num_rows:
            return
        # Each subject's audit pseudonym, once here rather than in every delivery; raw
        # (32 bytes, ADR 0008): half the column, no hex to write or decode again.
        refs = self.ctx.register.subject_refs(good[self.dataset.contract.subject_field], raw=True)
        staged = good.append_column(SUBJECT_REF_COLUMN, refs)
        segment = self.report.segments
        self.ctx.staging.write_segment(self.stage_id, segment, staged)
        self.report.segments += 1
        if self.indexed:
            with self.ctx.engine.begin() as conn:
                key_index.add_keys(self.ctx, conn, self.dataset.id, self.stage_id, good)
        self.sets.add(refs, segment)
        if self.waiting:
            keys = quarantine.key_text(good, self.key_fields)
            self.superseded.extend(quarantine.take_matches(keys, self.waiting))
        # The batches before this one are freed by now: their pages go back to the system
        # (exchange.ops.process_memory), or a long stage's peak grows with its length.
        ops.release_free_memory(self.report.segments)

    def resolve_superseded(self, conn: sa.Connection) -> None:
        """In the closing transaction: open rows whose key this stage staged valid are closed."""
        quarantine.resolve(conn, self.superseded, quarantine.SUPERSEDED, stage_id=self.stage_id)

    def write_report(self, sla: list[contracts.SlaResult]) -> Path:
        """Write the stage's validation report (JSON and HTML); returns the HTML page's path."""
        return reports.write_validation_report(
            self.ctx,
            self.dataset.id,
            self.stage_id,
            self.validation,
            rows_quarantined=self.report.rows_quarantined,
            rows_unreadable=self.unreadable,
            sla=sla,
            run_time=self.started,
        )


@dataclass
class CheckedBatch:
    """What checking one source batch found, for the writer thread to write in this order:
    the rows the source could not read, the rows that broke a rule (as the source had
    them, with their reasons), then the good rows as the next segment."""

    good: pa.Table
    unreadable: pa.Table | None = None
    rejected: pa.Table | None = None
    reasons: pa.Array | None = None

    @property
    def quarantined(self) -> int:
        """How many rows go to quarantine (unreadable ones included)."""
        return sum(t.num_rows for t in (self.unreadable, self.rejected) if t is not None)


@dataclass
class PreparedBatch:
    """A source batch made ready for its checks: the rows the source could not read set
    apart, the rest as the source had them (`raw`, what quarantine keeps) and conformed."""

    raw: pa.Table
    unreadable: pa.Table | None
    conformed: schemas.ConformResult | None  # None: no readable row
    keys: contracts.BatchKeys | None = None  # its keys for the uniqueness rules, encoded


def _prepare_batch(run: StageRun, raw: pa.Table) -> PreparedBatch:
    """Set the unreadable rows apart, conform the rest and encode its keys: work that needs
    no other batch, so it runs ahead of the checks, on a thread of its own (`StagePipeline`).
    The checks' slowest part, the stage-wide key set, then only has to look the keys up."""
    unreadable: pa.Table | None = None
    if quarantine.SOURCE_ERROR in raw.column_names:
        broken = pc.is_valid(raw[quarantine.SOURCE_ERROR])
        if pc.any(broken).as_py():
            unreadable = raw.filter(broken)
            raw = raw.filter(pc.invert(broken))
        raw = raw.drop_columns([c for c in quarantine.SOURCE_COLUMNS if c in raw.column_names])
    if raw.num_rows == 0:
        return PreparedBatch(raw, unreadable, None)  # an empty file, or unreadable lines only
    conformed = schemas.conform(raw, run.dataset.schema)
    return PreparedBatch(raw, unreadable, conformed, run.validation.keys_of(conformed.table))


def _check_batch(run: StageRun, batch: PreparedBatch, previous: Future[None] | None = None) -> CheckedBatch:
    """Validate one prepared batch: its good rows and what goes to quarantine.
    Writes nothing (`StageRun.write_checked` does, on the writer thread)."""
    raw, unreadable, conformed = batch.raw, batch.unreadable, batch.conformed
    if conformed is None:
        return CheckedBatch(run.dataset.schema.arrow.empty_table(), unreadable)
    if run.refers_to_itself and previous is not None:
        previous.result()  # its keys must be indexed before this batch looks them up
    issues = run.validation.check(conformed.table, conformed.issues, batch.keys)
    if not issues.num_rows:
        return CheckedBatch(conformed.table, unreadable)
    grouped = contracts.group_issues(issues)
    bad_rows = grouped["row"].to_numpy()
    keep = np.ones(raw.num_rows, dtype=bool)
    keep[bad_rows] = False
    # Quarantine keeps the row as the source had it, not as conformed: nothing is lost.
    return CheckedBatch(
        conformed.table.filter(pa.array(keep)), unreadable, raw.take(bad_rows), grouped["reasons"]
    )


def open_stage(ctx: StepContext, dataset_id: str, fingerprint: str) -> tuple[str, Any]:
    """Discard crashed attempts, then claim the next stage number for this dataset.

    The new stage starts and (until closed) ends at the previous stage's end cursor.
    """
    st = state.stages
    with ctx.engine.begin() as conn:
        crashed = (
            conn.execute(sa.select(st.c.stage_id).where(st.c.dataset == dataset_id, st.c.status == "staging"))
            .scalars()
            .all()
        )
        for stage_id in crashed:
            _discard(ctx, conn, stage_id)
        last = conn.execute(
            sa.select(st.c.seq, st.c.to_cursor)
            .where(st.c.dataset == dataset_id)
            .order_by(st.c.seq.desc())
            .limit(1)
        ).first()
        committed = conn.execute(
            sa.select(state.cursors.c.cursor, state.cursors.c.stage_id).where(
                state.cursors.c.dataset == dataset_id
            )
        ).first()
        if last is None:
            from_cursor, seq = (committed.cursor if committed else None), 1
        elif committed is not None and committed.stage_id == reset_marker(last.seq):
            from_cursor, seq = committed.cursor, last.seq + 1  # reset since the last stage
        else:
            from_cursor, seq = last.to_cursor, last.seq + 1
        stage_id = f"{dataset_id}.{seq:06d}.{secrets.token_hex(3)}"
        try:
            conn.execute(
                sa.insert(st).values(
                    stage_id=stage_id,
                    dataset=dataset_id,
                    seq=seq,
                    status="staging",
                    from_cursor=from_cursor,
                    to_cursor=from_cursor,
                    segments=0,
                    rows_read=0,
                    rows_staged=0,
                    rows_quarantined=0,
                    schema_fingerprint=fingerprint,
                    created_at=utc_now(),
                )
            )
        except IntegrityError:
            raise TransientError(
                "another worker is staging this dataset right now",
                where=f"dataset {dataset_id}",
                hint="retry when it has finished",
            ) from None
    return stage_id, from_cursor


def _check_sla(report: StageReport, results: list[Any]) -> None:
    """Report batch-level rules (volume, freshness); fail the run where the contract says so.

    A failing run leaves its stage `staging`: the retry discards it and reads again, so
    nothing is delivered from a run that broke its SLA, and nothing is lost.
    """
    report.sla = [r.message for r in results if not r.ok]
    for result in results:
        if not result.ok:
            log.warning("%s SLA %s: %s", report.dataset, result.rule, result.message)
    failing = [r for r in results if r.fails_run]
    if failing:
        raise BadInput(
            "; ".join(f"{r.rule}: {r.message}" for r in failing),
            where=f"dataset {report.dataset}, SLA",
            hint="the contract says a breach fails the run (sla.on_breach: fail); fix the source and rerun",
        )


def close_stage(
    ctx: StepContext,
    report: StageReport,
    cursor: Any,
    *,
    then: Callable[[sa.Connection], None] | None = None,
) -> None:
    """Mark the stage staged with its counts and end cursor; `then(conn)` runs in the same
    transaction (what must happen exactly when the stage becomes deliverable)."""
    st = state.stages
    with ctx.engine.begin() as conn:
        if report.rows_read == 0:
            # Nothing changed at the source: leave no empty stage behind.
            _discard(ctx, conn, report.stage_id or "")
            report.stage_id = None
            return
        conn.execute(
            sa.update(st)
            .where(st.c.stage_id == report.stage_id)
            .values(
                status="staged",
                to_cursor=cursor,
                segments=report.segments,
                rows_read=report.rows_read,
                rows_staged=report.rows_staged,
                rows_quarantined=report.rows_quarantined,
                staged_at=utc_now(),
            )
        )
        if then is not None:
            then(conn)


def discard_stage(ctx: StepContext, stage_id: str) -> None:
    """Remove a stage that is not (yet) staged, with its quarantined rows, keys and files."""
    with ctx.engine.begin() as conn:
        _discard(ctx, conn, stage_id)


def _discard(ctx: StepContext, conn: sa.Connection, stage_id: str) -> None:
    conn.execute(sa.delete(state.quarantine).where(state.quarantine.c.stage_id == stage_id))
    key_index.forget_stage(conn, stage_id)
    audit.forget_subject_sets(conn, stage_id)
    conn.execute(sa.delete(state.stages).where(state.stages.c.stage_id == stage_id))
    ctx.staging.discard(stage_id)
