"""Step 1, stage: read what changed since the last stage, conform, validate, stage.

A stage is the unit of exactly-once: its rows are read once from the source (from the
previous stage's end cursor), conformed to the dataset's current Avro schema,
validated against the contract on whole columns, and written as Parquet segments
under `staging/<stage id>/`. Rows that break a row-level rule go to quarantine with
every reason. The stage row turns from `staging` to `staged` only when all of it is on
disk; a `staging` row found later is a crashed attempt and is discarded whole.
"""

from __future__ import annotations

import logging
import secrets
import shutil
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

import contracts
import schemas
from exchange import state
from exchange.deliver import SUBJECT_REF_COLUMN
from exchange.records import jsonable_rows
from govbus.errors import BadInput, TransientError

if TYPE_CHECKING:
    from exchange.bus import Bus

log = logging.getLogger("govbus.exchange")


@dataclass
class StageReport:
    dataset: str
    stage_id: str | None
    rows_read: int = 0
    rows_staged: int = 0
    rows_quarantined: int = 0
    segments: int = 0
    sla: list[str] = field(default_factory=list)  # breached batch-level rules

    def counts(self) -> dict[str, Any]:
        return {
            "stage_id": self.stage_id,
            "rows_read": self.rows_read,
            "rows_staged": self.rows_staged,
            "rows_quarantined": self.rows_quarantined,
            "segments": self.segments,
            "sla_breaches": self.sla,
        }


def stage_dataset(bus: Bus, dataset_id: str) -> StageReport:
    dataset = bus.catalog.dataset(dataset_id)
    stage_id, from_cursor = _open_stage(bus, dataset_id, dataset.schema.fingerprint_sha256)
    report = StageReport(dataset_id, stage_id)
    directory = bus.settings.staging_dir / stage_id
    directory.mkdir(parents=True, exist_ok=True)
    source = bus.source_for(dataset)
    cursor = from_cursor
    sla = contracts.SlaTracker(dataset.contract)
    try:
        for batch in source.read(from_cursor, batch_size=bus.settings.batch_size):
            good, bad_count = _check_batch(bus, dataset, stage_id, batch.data)
            sla.observe(good)
            if good.num_rows:
                # Each subject's audit pseudonym, once here rather than in every delivery.
                refs = bus.register.subject_refs(good[dataset.contract.subject_field])
                good = good.append_column(SUBJECT_REF_COLUMN, refs)
                pq.write_table(good, directory / f"seg-{report.segments:05d}.parquet")
                report.segments += 1
            report.rows_read += batch.data.num_rows
            report.rows_staged += good.num_rows
            report.rows_quarantined += bad_count
            cursor = batch.cursor
            bus.progress("stage", batch.data.num_rows)
    finally:
        source.close()
    _check_sla(report, sla.results(state.utcnow()))
    _close_stage(bus, report, cursor, directory)
    log.info(
        "staged %s stage=%s read=%d staged=%d quarantined=%d",
        dataset_id,
        report.stage_id,
        report.rows_read,
        report.rows_staged,
        report.rows_quarantined,
    )
    return report


# Sources that read files (CSV lines, mainframe records) report rows they could not read
# in these columns instead of failing the whole batch; see connectors' module docs.
SOURCE_ERROR = "_govbus_source_error"
SOURCE_POSITION = "_govbus_source_position"
SOURCE_RAW = "_govbus_source_raw"
_SOURCE_COLUMNS = (SOURCE_ERROR, SOURCE_POSITION, SOURCE_RAW)


def _check_batch(bus: Bus, dataset: Any, stage_id: str, raw: pa.Table) -> tuple[pa.Table, int]:
    """Conform and validate one source batch; quarantine the rows that fail, return the rest."""
    unreadable = 0
    if SOURCE_ERROR in raw.column_names:
        broken = pc.is_valid(raw[SOURCE_ERROR])
        if pc.any(broken).as_py():
            unreadable = _quarantine_unreadable(bus, dataset.id, stage_id, raw.filter(broken))
            raw = raw.filter(pc.invert(broken))
        raw = raw.drop_columns([c for c in _SOURCE_COLUMNS if c in raw.column_names])
    if raw.num_rows == 0:
        # An empty file, or a batch of unreadable lines only: nothing to conform.
        return dataset.schema.arrow.empty_table(), unreadable
    conformed = schemas.conform(raw, dataset.schema)
    issues = pa.concat_tables([conformed.issues, contracts.validate(conformed.table, dataset.contract)])
    if issues.num_rows == 0:
        return conformed.table, unreadable
    grouped = contracts.group_issues(issues)
    rows = pa.array(range(raw.num_rows), pa.int64())
    bad = pc.is_in(rows, value_set=grouped["row"].combine_chunks())
    good = conformed.table.filter(pc.invert(bad))
    # Quarantine keeps the row as the source had it, not as conformed: nothing is lost.
    records = jsonable_rows(raw.take(grouped["row"]))
    _quarantine(bus, dataset.id, stage_id, records, grouped["reasons"].to_pylist(), None)
    return good, unreadable + len(records)


def _quarantine_unreadable(bus: Bus, dataset_id: str, stage_id: str, rows: pa.Table) -> int:
    """Rows the source could not read at all: keep their raw text and position."""
    kept = [c for c in (SOURCE_POSITION, SOURCE_RAW) if c in rows.column_names]
    records = jsonable_rows(rows.select(kept))
    reasons = [[reason] for reason in rows[SOURCE_ERROR].to_pylist()]
    positions = rows[SOURCE_POSITION].cast(pa.string()).to_pylist() if SOURCE_POSITION in kept else None
    _quarantine(bus, dataset_id, stage_id, records, reasons, positions)
    return len(records)


def _quarantine(
    bus: Bus,
    dataset_id: str,
    stage_id: str,
    records: list[dict[str, Any]],
    reasons: list[list[str]],
    positions: list[str | None] | None,
) -> None:
    now = state.utcnow()
    with bus.engine.begin() as conn:
        conn.execute(
            sa.insert(state.quarantine),
            [
                {
                    "dataset": dataset_id,
                    "stage_id": stage_id,
                    "record": rec,
                    "reasons": why,
                    "position": positions[i] if positions else None,
                    "status": "open",
                    "created_at": now,
                }
                for i, (rec, why) in enumerate(zip(records, reasons, strict=True))
            ],
        )


def _open_stage(bus: Bus, dataset_id: str, fingerprint: str) -> tuple[str, Any]:
    """Discard crashed attempts, then claim the next stage number for this dataset."""
    st = state.stages
    with bus.engine.begin() as conn:
        crashed = (
            conn.execute(sa.select(st.c.stage_id).where(st.c.dataset == dataset_id, st.c.status == "staging"))
            .scalars()
            .all()
        )
        for stage_id in crashed:
            _discard(bus, conn, stage_id)
        last = conn.execute(
            sa.select(st.c.seq, st.c.to_cursor)
            .where(st.c.dataset == dataset_id)
            .order_by(st.c.seq.desc())
            .limit(1)
        ).first()
        if last is None:
            row = conn.execute(
                sa.select(state.cursors.c.cursor).where(state.cursors.c.dataset == dataset_id)
            ).first()
            from_cursor, seq = (row.cursor if row else None), 1
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
                    created_at=state.utcnow(),
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


def _close_stage(bus: Bus, report: StageReport, cursor: Any, directory: Any) -> None:
    st = state.stages
    with bus.engine.begin() as conn:
        if report.rows_read == 0:
            # Nothing changed at the source: leave no empty stage behind.
            _discard(bus, conn, report.stage_id or "")
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
                staged_at=state.utcnow(),
            )
        )


def _discard(bus: Bus, conn: sa.Connection, stage_id: str) -> None:
    conn.execute(sa.delete(state.quarantine).where(state.quarantine.c.stage_id == stage_id))
    conn.execute(sa.delete(state.stages).where(state.stages.c.stage_id == stage_id))
    shutil.rmtree(bus.settings.staging_dir / stage_id, ignore_errors=True)
