"""The auditors' activity report: per agency and purpose, rows delivered, denied and quarantined.

`govbus audit report --from DATE --to DATE` and the portal's `GET /api/audit/report`
both call `audit_report`. Where the numbers come from:

* **delivered / denied**: the ledger's `delivery` entries whose time (`at`) lies in the
  period. Each delivered batch has one entry, with its rows delivered, rows denied and
  the denied rows counted by reason; a batch whose rows were all denied still has its
  entry (with 0 delivered), which is the denial summary. Lines are per recipient
  agency, purpose, dataset and legal basis (`statute:ID` or `consent`).
* **quarantined**: rows of the state database's `quarantine` table whose `created_at`
  lies in the period, per dataset, reported on the dataset's owner (quarantined rows
  reached no recipient, so they have no purpose): every row that entered quarantine
  then, whatever became of it since (open, replayed, superseded or discarded), as the
  stages counted them.

The period is the half-open interval [from, to) of UTC instants. A bare date means
midnight UTC starting that day for `from`, and midnight UTC *after* that day for `to`, so
`--from 2026-03-01 --to 2026-03-31` covers the whole of March, both days included (as
statutes' `valid_until` reads); with a time, `to` itself is excluded. Either end may be
left open. The numbers are counts only: no identifier or value is read.

For files the report is flattened to one row per agency, purpose, dataset, basis,
outcome (`delivered`, `denied`, `quarantined`) and reason (`report_rows`): a fixed
schema, so CSV and Parquet files of many periods stack and pivot.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
import sqlalchemy as sa
from pydantic import BaseModel, Field

import audit
from exchange import state
from exchange.bus import Bus
from govbus import instants
from govbus.errors import BadInput
from govbus.instants import utc_now

if TYPE_CHECKING:  # the portal imports this module: no import back at run time
    from exchange.views.roles import Principal

DELIVERY_KIND = audit.DeliveryEntry.KIND
UNRECORDED_REASON = "(reason not recorded)"


class ReportLine(BaseModel):
    """A recipient's deliveries and denials per purpose, dataset and basis, or (role `owner`) a dataset's
    quarantined rows."""

    agency: str = Field(description="the recipient (deliveries, denials) or the dataset's owner (quarantine)")
    agency_name: str
    role: Literal["recipient", "owner"]
    purpose: str | None = Field(default=None, description="none for quarantine: those rows went nowhere")
    dataset: str
    basis: str | None = Field(default=None, description="`statute:ID` or `consent`; none for quarantine")
    batches: int = Field(default=0, description="ledger delivery entries (one per delivered batch)")
    rows_delivered: int = 0
    rows_denied: int = 0
    denied_by_reason: dict[str, int] = Field(default_factory=dict)
    rows_quarantined: int = 0


class ReportTotals(BaseModel):
    """The sums over all lines of the report."""

    batches: int = 0
    rows_delivered: int = 0
    rows_denied: int = 0
    rows_quarantined: int = 0


class AuditReport(BaseModel):
    """`GET /api/audit/report`: counts per agency and purpose over [start, end); no identifier or value."""

    start: datetime | None = Field(description="inclusive; none: from the first entry")
    end: datetime | None = Field(description="exclusive; none: up to the time of the report")
    generated_at: datetime
    lines: list[ReportLine]
    totals: ReportTotals


def parse_period(
    start: str | None, end: str | None, *, names: tuple[str, str] = ("--from", "--to")
) -> tuple[datetime | None, datetime | None]:
    """[from, to) from the user's text (see the module doc); BadInput naming `names` if
    unreadable or empty. Blank text is an open end."""
    begin = instants.parse_instant(start, where=names[0]) if start and start.strip() else None
    until = instants.parse_instant(end, where=names[1], end_of_day=True) if end and end.strip() else None
    if begin is not None and until is not None and until <= begin:
        raise BadInput(
            "the period is empty: `to` is not after `from`",
            where=f"{names[0]}, {names[1]}",
            hint="a bare date for --to includes that whole day (e.g. --from 2026-03-01 --to 2026-03-01)",
        )
    return begin, until


@dataclass
class _Tally:
    batches: int = 0
    delivered: int = 0
    denied: int = 0
    reasons: Counter[str] = field(default_factory=Counter)


def audit_report(bus: Bus, who: Principal, start: datetime | None, end: datetime | None) -> AuditReport:
    """The report of [start, end) (either may be None: open), from the ledger and quarantine."""
    who.require_audit_report()
    generated = utc_now()
    ledger = audit.AUDIT_METADATA.tables["ledger"]
    entries = (
        sa.select(ledger.c.seq, ledger.c.payload).where(ledger.c.kind == DELIVERY_KIND).order_by(ledger.c.seq)
    )
    q = state.quarantine
    quarantined = sa.select(q.c.dataset, sa.func.count()).group_by(q.c.dataset)
    tallies: dict[tuple[str, str, str, str], _Tally] = {}
    with bus.engine.connect() as conn:
        if start is not None:
            entries = entries.where(ledger.c.at >= start)
            quarantined = quarantined.where(q.c.created_at >= _bound(conn, start))
        if end is not None:
            entries = entries.where(ledger.c.at < end)
            quarantined = quarantined.where(q.c.created_at < _bound(conn, end))
        for seq, text in conn.execute(entries):
            _add(tallies, audit.DeliveryEntry.from_payload(json.loads(text), seq=seq))
        per_dataset = {dataset: int(n) for dataset, n in conn.execute(quarantined)}
    lines = [
        ReportLine(
            agency=agency,
            agency_name=_name(bus, agency),
            role="recipient",
            purpose=purpose,
            dataset=dataset,
            basis=basis,
            batches=t.batches,
            rows_delivered=t.delivered,
            rows_denied=t.denied,
            denied_by_reason=dict(sorted(t.reasons.items())),
        )
        for (agency, purpose, dataset, basis), t in tallies.items()
    ]
    for dataset, rows in per_dataset.items():
        known = bus.catalog.datasets.get(dataset)
        owner = known.contract.owner if known is not None else ""
        lines.append(
            ReportLine(
                agency=owner,
                agency_name=_name(bus, owner),
                role="owner",
                dataset=dataset,
                rows_quarantined=rows,
            )
        )
    lines.sort(key=lambda x: (x.agency, x.role, x.purpose or "", x.dataset, x.basis or ""))
    totals = ReportTotals(
        batches=sum(x.batches for x in lines),
        rows_delivered=sum(x.rows_delivered for x in lines),
        rows_denied=sum(x.rows_denied for x in lines),
        rows_quarantined=sum(x.rows_quarantined for x in lines),
    )
    return AuditReport(start=start, end=end, generated_at=generated, lines=lines, totals=totals)


def _add(tallies: dict[tuple[str, str, str, str], _Tally], entry: audit.DeliveryEntry) -> None:
    tally = tallies.setdefault((entry.recipient, entry.purpose, entry.dataset, entry.basis), _Tally())
    delivered, denied = entry.rows_delivered, entry.rows_denied
    reasons = {reason: rows for reason, rows in entry.denials.items() if rows}
    if denied > sum(reasons.values()):  # an entry that did not break its denials down
        reasons[UNRECORDED_REASON] = reasons.get(UNRECORDED_REASON, 0) + denied - sum(reasons.values())
    tally.batches += 1
    tally.delivered += delivered
    tally.denied += denied
    tally.reasons.update(reasons)


def _bound(conn: sa.Connection, value: datetime) -> datetime:
    """`state` timestamps: naive UTC on SQLite and MySQL/MariaDB, timestamptz on PostgreSQL."""
    value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return value if conn.dialect.name == "postgresql" else value.replace(tzinfo=None)


def _name(bus: Bus, agency_id: str) -> str:
    agency = bus.catalog.agencies.get(agency_id)
    return agency.name if agency is not None else agency_id


# -- files ----------------------------------------------------------------------------

ROW_SCHEMA = pa.schema(
    [
        pa.field("period_start", pa.timestamp("us", tz="UTC")),
        pa.field("period_end", pa.timestamp("us", tz="UTC")),
        pa.field("agency", pa.string(), nullable=False),
        pa.field("agency_name", pa.string(), nullable=False),
        pa.field("role", pa.string(), nullable=False),
        pa.field("purpose", pa.string()),
        pa.field("dataset", pa.string(), nullable=False),
        pa.field("basis", pa.string()),
        pa.field("outcome", pa.string(), nullable=False),
        pa.field("reason", pa.string()),
        pa.field("rows", pa.int64(), nullable=False),
    ]
)


def report_rows(report: AuditReport) -> pa.Table:
    """The report flattened: one row per line and outcome (and reason, for denials)."""
    rows: list[dict[str, Any]] = []
    for line in report.lines:
        common = {
            "period_start": report.start,
            "period_end": report.end,
            "agency": line.agency,
            "agency_name": line.agency_name,
            "role": line.role,
            "purpose": line.purpose,
            "dataset": line.dataset,
            "basis": line.basis,
        }
        if line.role == "owner":
            rows.append({**common, "outcome": "quarantined", "reason": None, "rows": line.rows_quarantined})
            continue
        rows.append({**common, "outcome": "delivered", "reason": None, "rows": line.rows_delivered})
        rows.extend(
            {**common, "outcome": "denied", "reason": reason, "rows": n}
            for reason, n in line.denied_by_reason.items()
        )
    return pa.Table.from_pylist(rows, schema=ROW_SCHEMA)


def write_report(report: AuditReport, out: Path, file_format: Literal["csv", "parquet"]) -> int:
    """Write the flattened report to `out` (replaced whole); returns the number of rows."""
    table = report_rows(report)
    table = table.replace_schema_metadata(
        {"govbus": "audit report", "generated_at": _iso(report.generated_at)}
    )
    tmp = out.with_name(f".{out.name}.tmp")
    try:
        if file_format == "parquet":
            pq.write_table(table, tmp)
        else:
            pa_csv.write_csv(table, tmp)
        tmp.replace(out)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise BadInput(
            "cannot write the report", where=str(out), hint=f"check the folder ({exc.strerror})"
        ) from exc
    return table.num_rows


def csv_text(report: AuditReport) -> str:
    """The flattened report as CSV text (for the terminal)."""
    sink = pa.BufferOutputStream()
    pa_csv.write_csv(report_rows(report), sink)
    return bytes(sink.getvalue()).decode("utf-8")


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="seconds")
