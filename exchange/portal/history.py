"""A dataset's history for its charts, and the validation report of a run.

The charts read the `stages` table, not `runs`: a stage is one read of the source with
its own counts (rows read, staged, quarantined) and times (created, committed), while a
`runs` row is a step (stage, deliver, commit) whose counts differ by step. Freshness
over time is the age of the dataset's committed data when each stage began: the time
since the previous committed stage, which is what a subscriber waited for new rows.

A validation report is the HTML page `exchange.quarantine.reports` wrote for a stage
(`GOVBUS_HOME/reports/<dataset>/<stage id>.html`); it is served to whoever may see the
run that wrote it, since it holds counts and rules only, never a record's value.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import sqlalchemy as sa
from pydantic import BaseModel

from exchange import state
from exchange.bus import Bus
from exchange.portal import models, queries
from exchange.quarantine.reports import reports_dir
from exchange.views.roles import NotVisible, Principal

HISTORY_LIMIT = 30  # stages per chart: enough to see a trend, few enough to read each bar


class StagePoint(BaseModel):
    """One stage of a dataset, as its charts show it."""

    stage_id: str
    created_at: datetime
    status: str
    rows_read: int
    rows_staged: int
    rows_quarantined: int
    quarantine_rate: float | None  # percent of the rows read; None when none was read
    age_hours: float | None  # hours since the previous committed stage; None for the first


def stage_history(bus: Bus, who: Principal, dataset_id: str, limit: int = HISTORY_LIMIT) -> list[StagePoint]:
    """The dataset's latest `limit` stages, oldest first (NotAllowed / NotVisible as `dataset_detail`)."""
    who.require_dataset(bus.catalog, dataset_id)
    st = state.stages
    query = (
        sa.select(
            st.c.stage_id,
            st.c.created_at,
            st.c.committed_at,
            st.c.status,
            st.c.rows_read,
            st.c.rows_staged,
            st.c.rows_quarantined,
        )
        .where(st.c.dataset == dataset_id)
        .order_by(st.c.created_at.desc(), st.c.seq.desc())
        .limit(limit + 1)  # one more, for the first shown stage's age
    )
    with bus.engine.connect() as conn:
        rows = list(reversed(conn.execute(query).all()))
    points: list[StagePoint] = []
    last_commit: datetime | None = None
    for row in rows:
        created = queries.as_utc(row.created_at)
        assert created is not None  # the column is NOT NULL
        age = (created - last_commit).total_seconds() / 3600 if last_commit else None
        read = int(row.rows_read or 0)
        quarantined = int(row.rows_quarantined or 0)
        points.append(
            StagePoint(
                stage_id=row.stage_id,
                created_at=created,
                status=row.status,
                rows_read=read,
                rows_staged=int(row.rows_staged or 0),
                rows_quarantined=quarantined,
                quarantine_rate=100 * quarantined / read if read else None,
                age_hours=age,
            )
        )
        committed = queries.as_utc(row.committed_at)
        if committed is not None:
            last_commit = committed
    return points[-limit:]


def report_path(bus: Bus, run: models.Run) -> Path | None:
    """The HTML validation report of a stage or replay step, or None when it wrote none."""
    if run.stage_id is None or "/" in run.stage_id or run.stage_id.startswith("."):
        return None
    path = reports_dir(bus.settings, run.dataset) / f"{run.stage_id}.html"
    return path if path.is_file() else None


def with_reports(bus: Bus, runs: list[models.Run]) -> set[int]:
    """The ids of the runs, of those given, that have a validation report to link to."""
    return {r.run_id for r in runs if report_path(bus, r) is not None}


def validation_report(bus: Bus, who: Principal, run_id: int) -> Path:
    """The report page of a run the caller may see; NotVisible (404) otherwise or when there is none."""
    found = queries.run(bus, who, run_id)
    path = report_path(bus, found)
    if path is None:
        raise NotVisible(
            "this run wrote no validation report",
            where=f"run {run_id}",
            hint="stage and replay steps write one; deliveries and commits do not",
        )
    return path
