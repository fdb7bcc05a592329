"""`govbus quarantine replay`: re-validate open quarantined rows against the current contract.

For the usual repair — the contract was wrong (a rule too strict, a missing code in a
set) and has been fixed — replay takes a dataset's open rows (all, or the ids given),
conforms and validates them again exactly as a stage does, and stages those that pass
as a new stage of the dataset. From there they flow like any stage: each subscription
delivers it once (the checkpoint's primary key sees to that), then it commits. The
replay stage starts and ends at the dataset's current cursor, so the source is not
read again.

* The newest open row of a key is the one replayed; older open versions of the same key
  are superseded (replaying them would overwrite the newer one downstream).
* Rows the source could not read (only raw text kept) cannot be replayed: fix them at
  the source. They stay open.
* Rows that still fail stay open with their new reasons.
* In one transaction, when the replay stage becomes deliverable: passing rows turn
  `replayed` (pointing at the stage and at the ledger entry), the others get their new
  reasons, and a `quarantine-replay` ledger entry records who replayed what (ids and
  counts, never a value). A crash before it leaves a `staging` stage that the next stage
  or replay discards: nothing is delivered twice or lost.
* The replay writes a validation report like any stage. Uniqueness is judged within
  what is replayed (the rows are versions the source already sent).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa

import audit
import contracts
import schemas
from exchange import state
from exchange.quarantine import store as quarantine
from exchange.quarantine.view import QuarantinedRow, find
from exchange.run.reports import StageReport
from exchange.run.stage import StageRun, close_stage, discard_stage, open_stage
from govbus.errors import BadInput

if TYPE_CHECKING:
    from exchange.catalog.loader import Dataset
    from exchange.ctx import StepContext


@dataclass
class ReplayReport:
    """What a replay did, by quarantine id (no value)."""

    dataset: str
    stage_id: str | None = None
    replayed: list[int] = field(default_factory=list)
    still_open: list[int] = field(default_factory=list)
    superseded: list[int] = field(default_factory=list)
    unreadable: list[int] = field(default_factory=list)
    reasons: dict[str, int] = field(default_factory=dict)  # new reason → rows still failing
    ledger_seq: int | None = None

    def counts(self) -> dict[str, Any]:
        """The report as the JSON stored in the replay's `runs` row: counts and the stage id, no row id."""
        return {
            "stage_id": self.stage_id,
            "replayed": len(self.replayed),
            "still_quarantined": len(self.still_open),
            "superseded": len(self.superseded),
            "unreadable": len(self.unreadable),
        }


def replay(ctx: StepContext, dataset_id: str, *, ids: Sequence[int] = (), by: str) -> ReplayReport:
    """Replay the dataset's open quarantined rows (or those of `ids`); see the module doc."""
    dataset = ctx.catalog.dataset(dataset_id)
    with ctx.locked(f"stage:{dataset_id}"), ctx.recorded(dataset_id, "replay") as counts:
        report = _replay(ctx, dataset, ids, by)
        counts.update(report.counts())
    return report


def _replay(ctx: StepContext, dataset: Dataset, ids: Sequence[int], by: str) -> ReplayReport:
    rows = find(ctx, ids=ids, dataset=dataset.id, status=quarantine.OPEN, limit=None)
    closed = [row for row in rows if row.status != quarantine.OPEN]
    if closed:
        listing = ", ".join(f"{row.id} ({row.status})" for row in closed)
        raise BadInput(f"only open rows can be replayed: {listing}", where="quarantine replay")
    report = ReplayReport(dataset.id)
    candidates = _candidates(rows, dataset.contract.key_fields, report)
    if not candidates:
        if report.superseded or report.unreadable:
            _finish(ctx, dataset, report, by, {}, None)
        return report
    stage_id, cursor = open_stage(ctx, dataset.id, dataset.schema.fingerprint_sha256)
    stage = StageReport(dataset.id, stage_id)
    run = StageRun(ctx, dataset, stage)
    new_reasons: dict[int, list[str]] = {}
    size = ctx.settings.batch_size
    try:
        for start in range(0, len(candidates), size):
            chunk = candidates[start : start + size]
            good = _check(run, chunk, report, new_reasons)
            run.write(good)
            stage.rows_read += len(chunk)
            stage.rows_staged += good.num_rows
            stage.rows_quarantined += len(chunk) - good.num_rows
            ctx.progress("replay", len(chunk))
        run.sets.wait()
    finally:
        run.sets.close()
    if not report.replayed:
        discard_stage(ctx, stage_id)
        _finish(ctx, dataset, report, by, new_reasons, None)
        return report
    report.stage_id = stage_id
    run.write_report([])
    with ctx.locked("ledger"):
        close_stage(
            ctx,
            stage,
            cursor,
            then=lambda conn: _resolve(conn, ctx, dataset, report, by, new_reasons, run),
        )
    return report


def _candidates(
    rows: list[QuarantinedRow], key_fields: Sequence[str], report: ReplayReport
) -> list[QuarantinedRow]:
    """The rows to re-validate: readable ones, the newest of each key (the rest superseded)."""
    newest: dict[str, QuarantinedRow] = {}
    keyless: list[QuarantinedRow] = []
    for row in rows:  # quarantined rows: a few, not the hot path
        if quarantine.is_unreadable(row.record):
            report.unreadable.append(row.id)
            continue
        key = quarantine.record_key(row.record, key_fields)
        if key is None:
            keyless.append(row)
        elif key not in newest or newest[key].id < row.id:
            if key in newest:
                report.superseded.append(newest[key].id)
            newest[key] = row
        else:
            report.superseded.append(row.id)
    return sorted([*newest.values(), *keyless], key=lambda row: row.id)


def _check(
    run: StageRun, rows: list[QuarantinedRow], report: ReplayReport, reasons: dict[int, list[str]]
) -> pa.Table:
    """Conform and validate replayed rows as a stage does; the rows that pass."""
    raw = records_table([row.record for row in rows])
    conformed = schemas.conform(raw, run.dataset.schema)
    issues = run.validation.check(conformed.table, conformed.issues)
    grouped = contracts.group_issues(issues)
    failing = dict(zip(grouped["row"].to_pylist(), grouped["reasons"].to_pylist(), strict=True))
    for index, row in enumerate(rows):
        if index in failing:
            report.still_open.append(row.id)
            reasons[row.id] = failing[index]
            for reason in failing[index]:
                report.reasons[reason] = report.reasons.get(reason, 0) + 1
        else:
            report.replayed.append(row.id)
    bad = pc.is_in(pa.array(range(len(rows)), pa.int64()), value_set=grouped["row"].combine_chunks())
    return conformed.table.filter(pc.invert(bad))


def records_table(records: list[dict[str, Any]]) -> pa.Table:
    """Quarantined records (JSON, as `exchange.quarantine.rows` stored them) back as an Arrow table
    for `schemas.conform`: bytes decoded, a column of mixed JSON types taken as text."""
    names = list(dict.fromkeys(name for record in records for name in record))
    columns: dict[str, pa.Array] = {}
    for name in names:
        values = [_decoded(record.get(name)) for record in records]
        try:
            columns[name] = pa.array(values)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            columns[name] = pa.array([_as_text(v) for v in values], pa.string())
    return pa.table(columns) if columns else pa.table({"_": pa.nulls(len(records))})


def _decoded(value: Any) -> Any:
    if isinstance(value, dict) and set(value) == {"base64"} and isinstance(value["base64"], str):
        return base64.b64decode(value["base64"])
    return value


def _as_text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return json.dumps(value) if isinstance(value, dict | list) else str(value)


def _record(dataset: Dataset, report: ReplayReport, by: str) -> audit.QuarantineReplayEntry:
    return audit.QuarantineReplayEntry(
        dataset=dataset.id,
        by=by,
        stage_id=report.stage_id,
        contract_version=dataset.contract.version,
        schema_sha256=dataset.schema.fingerprint_sha256,
        replayed=tuple(report.replayed),
        still_quarantined=tuple(report.still_open),
        superseded=tuple(report.superseded),
        unreadable=tuple(report.unreadable),
    )


def _resolve(
    conn: sa.Connection,
    ctx: StepContext,
    dataset: Dataset,
    report: ReplayReport,
    by: str,
    reasons: dict[int, list[str]],
    run: StageRun | None,
) -> None:
    """The replay's outcome, in the transaction that makes its stage deliverable (if any)."""
    entry = ctx.ledger.append_entry(conn, _record(dataset, report, by))
    report.ledger_seq = entry.seq
    stage_id = report.stage_id
    done = quarantine.resolve(
        conn, report.replayed, quarantine.REPLAYED, stage_id=stage_id, ledger_seq=entry.seq
    )
    if done != len(report.replayed):  # resolved meanwhile (a discard): roll everything back
        raise BadInput(
            "some of these rows were resolved meanwhile", where="quarantine replay", hint="replay again"
        )
    quarantine.resolve(
        conn, report.superseded, quarantine.SUPERSEDED, stage_id=stage_id, ledger_seq=entry.seq
    )
    q = state.quarantine
    for row_id, why in reasons.items():
        conn.execute(sa.update(q).where(q.c.id == row_id, q.c.status == quarantine.OPEN).values(reasons=why))
    if run is not None:
        run.resolve_superseded(conn)


def _finish(
    ctx: StepContext,
    dataset: Dataset,
    report: ReplayReport,
    by: str,
    reasons: dict[int, list[str]],
    run: StageRun | None,
) -> None:
    """A replay that stages nothing still records its outcome (new reasons, superseded rows)."""
    with ctx.locked("ledger"), ctx.engine.begin() as conn:
        _resolve(conn, ctx, dataset, report, by, reasons, run)
