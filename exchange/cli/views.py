"""What the command line shows: the run summary, status and quarantine tables, the audit report.

Views print counts, ids, keys and reasons — never a personal value: quarantined
records stay in the state database. Each table is drawn from a record of
`exchange.views` (`run_summary`, `status`, `quarantine_rows`), the same record
`--format json` and `--format csv` print (`exchange.cli.output`), and printed through
`output.print_table`, so cells wrap instead of being cut and piped output is as wide as
its content. Progress of a run is `exchange.cli.progress`.

Imported by `govbus --help` (through exchange.cli.main): SQLAlchemy, the state tables and
the views room are imported inside the functions that use them, when a command runs.
"""

from __future__ import annotations

import shutil
from datetime import datetime
from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table

from exchange.cli.common import err_console
from exchange.cli.output import print_table
from exchange.cli.progress import run_with_progress as _run_with_progress
from govbus.instants import as_utc

if TYPE_CHECKING:
    from exchange.bus import Bus
    from exchange.run import DatasetRun
    from exchange.state.settings import Settings
    from exchange.views.audit_report import AuditReport
    from exchange.views.quarantine_rows import QuarantineListing
    from exchange.views.run_summary import RunSummary
    from exchange.views.status import BusStatus

__all__ = [
    "print_audit_report",
    "print_quarantine",
    "print_status",
    "print_summary",
    "quarantine_table",
    "reset_home",
    "run_with_progress",
    "status_tables",
    "summary_tables",
]


def run_with_progress(bus: Bus, dataset_ids: list[str] | None) -> list[DatasetRun]:
    """Run the exchanges, their progress on stderr (a live display on a terminal)."""
    return _run_with_progress(bus, dataset_ids, err_console)


def summary_tables(summary: RunSummary) -> tuple[Table, Table]:
    """The run as two tables: a line per dataset, a line per subscription's delivery."""
    datasets = Table(title="Datasets", title_justify="left")
    for column in ("dataset", "rows read", "quarantined", "stages committed", "status"):
        datasets.add_column(column, justify="right" if column not in ("dataset", "status") else "left")
    subs = Table(title="Subscriptions", title_justify="left")
    for column in ("subscription", "dataset", "delivered", "denied", "denied because", "status"):
        subs.add_column(column, justify="right" if column in ("delivered", "denied") else "left")
    for d in summary.datasets:
        colour = {"ok": "green", "waiting": "yellow"}.get(d.status, "red")
        datasets.add_row(
            d.dataset,
            f"{d.rows_read:,}",
            f"{d.rows_quarantined:,}",
            str(d.stages_committed),
            f"[{colour}]{d.status}[/]",
        )
    for s in summary.subscriptions:
        because = "; ".join(f"{why} {n:,}" for why, n in s.denied_because.items())
        if s.status == "failed":
            status = f"[red]failed[/]: {s.failure}"
        elif s.status != "ok":
            status = f"[yellow]{s.status}[/]: not delivered"
        elif s.initial_load_rows:
            status = f"[green]ok[/], initial load {s.initial_load_rows:,} rows"
        else:
            status = "[green]ok[/]"
        subs.add_row(
            s.subscription, s.dataset, f"{s.rows_delivered:,}", f"{s.rows_denied:,}", because, status
        )
    return datasets, subs


def print_summary(results: list[DatasetRun], console: Console) -> None:
    """What a run did: a line per dataset and one per subscription, then SLA breaches."""
    from exchange.views.run_summary import run_summary

    summary = run_summary(results)
    for table in summary_tables(summary):
        print_table(table, console)
    for d in summary.datasets:
        for breach in d.sla_breaches:
            console.print(f"[yellow]{d.dataset} SLA[/]: {breach}", highlight=False, soft_wrap=True)
        if d.failure:
            console.print(f"[red]{d.dataset}[/]: {d.failure}", highlight=False, soft_wrap=True)


def status_tables(status: BusStatus) -> tuple[Table, Table]:
    """Per dataset its committed cursor and waiting stages; per subscription its deliveries."""
    table = Table(title="Datasets", title_justify="left")
    for column in ("dataset", "committed up to", "stages waiting", "last run", "last status"):
        table.add_column(column)
    subs = Table(title="Subscriptions", title_justify="left")
    for column in (
        "subscription",
        "basis",
        "origin",
        "state",
        "batches",
        "rows delivered",
        "rows denied",
        "last delivery",
    ):
        subs.add_column(column)
    for d in status.datasets:
        table.add_row(
            d.dataset,
            _when(d.committed_at),
            str(d.stages_waiting),
            _when(d.last_run_at),
            d.last_run_status or "",
        )
    for s in status.subscriptions:
        subs.add_row(
            s.subscription,
            s.basis,
            "approved request" if s.origin == "request" else "catalog",
            "new (loads at its next run)" if s.state == "new" else s.state,
            str(s.batches),
            f"{s.rows_delivered:,}",
            f"{s.rows_denied:,}",
            _when(s.last_delivery_at),
        )
    return table, subs


def print_status(bus: Bus, console: Console) -> None:
    """`govbus status` as tables."""
    from exchange.views.status import bus_status

    for table in status_tables(bus_status(bus)):
        print_table(table, console)


def quarantine_table(listing: QuarantineListing) -> Table:
    """Open quarantined rows: id, dataset, key (personal keys masked) or position, every reason."""
    table = Table(title="Quarantine", title_justify="left")
    for column in ("id", "dataset", "key or position", "reasons"):
        table.add_column(column)
    for row in listing.rows:
        table.add_row(str(row.id), row.dataset, row.position or row.key or "", "\n".join(row.reasons))
    return table


def print_quarantine(bus: Bus, console: Console, *, dataset: str | None, limit: int) -> None:
    """Open quarantined rows with their reasons: keys only, personal keys masked."""
    from exchange.views.quarantine_rows import open_rows

    listing = open_rows(bus, dataset=dataset, limit=limit)
    print_table(quarantine_table(listing), console)
    shown = f" (showing {limit})" if listing.open > limit else ""
    console.print(f"{listing.open:,} open quarantined row(s){shown}")


def print_audit_report(report: AuditReport, console: Console) -> None:
    """The audit report as one table: a line per agency, purpose, dataset and basis."""
    start = _when(report.start) if report.start else "the first entry"
    end = f"before {_when(report.end)}" if report.end else f"up to {_when(report.generated_at)}"
    table = Table(title=f"Audit report: from {start} {end} (UTC)", title_justify="left")
    for column in (
        "agency",
        "purpose",
        "dataset",
        "basis",
        "batches",
        "delivered",
        "denied",
        "denied because",
        "quarantined",
    ):
        table.add_column(column, justify="right" if column in _NUMBER_COLUMNS else "left")
    for line in report.lines:
        because = "; ".join(f"{why} {n:,}" for why, n in line.denied_by_reason.items())
        table.add_row(
            f"{line.agency_name} ({line.agency})" if line.agency else "(unknown)",
            line.purpose or "",
            line.dataset,
            line.basis or "",
            f"{line.batches:,}" if line.role == "recipient" else "",
            f"{line.rows_delivered:,}" if line.role == "recipient" else "",
            f"{line.rows_denied:,}" if line.role == "recipient" else "",
            because,
            f"{line.rows_quarantined:,}" if line.role == "owner" else "",
        )
    t = report.totals
    table.add_row(
        "total",
        "",
        "",
        "",
        f"{t.batches:,}",
        f"{t.rows_delivered:,}",
        f"{t.rows_denied:,}",
        "",
        f"{t.rows_quarantined:,}",
        style="bold",
    )
    print_table(table, console)


_NUMBER_COLUMNS = ("batches", "delivered", "denied", "quarantined")


def reset_home(settings: Settings, console: Console) -> None:
    """Delete the demo's state folder (only GovBus's own home, after a sanity check)."""
    home = settings.home
    if home.exists() and ((home / "state.db").exists() or (home / "agencies").exists()):
        shutil.rmtree(home)
        console.print(f"Removed {home}")


def _when(value: datetime | None) -> str:
    """An instant as the tables show it (UTC, to the second), or "never"."""
    return "never" if value is None else as_utc(value).strftime("%Y-%m-%d %H:%M:%S")
