"""What the command line shows: progress, the run summary, status and quarantine tables.

Views print counts, ids, keys and reasons — never a personal value: quarantined
records stay in the state database.

Imported by `govbus --help` (through exchange.cli.main): SQLAlchemy and the state tables
are imported inside the functions that query them, when a command runs.
"""

from __future__ import annotations

import shutil
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

if TYPE_CHECKING:
    from exchange.bus import Bus
    from exchange.run import DatasetRun
    from exchange.state.settings import Settings
    from exchange.views.audit_report import AuditReport


def run_with_progress(bus: Bus, dataset_ids: list[str] | None, console: Console) -> list[DatasetRun]:
    """Run the exchanges with a Rich progress bar of rows staged and delivered."""
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("rows"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=True, disable=not console.is_terminal) as bar:
        tasks: dict[str, int] = {}

        def advance(event: str, rows: int) -> None:
            if event not in tasks:
                tasks[event] = bar.add_task(event.replace("deliver:", "deliver → "), total=None)
            bar.advance(tasks[event], rows)

        bus.hooks.progress = advance
        try:
            return bus.run(dataset_ids)
        finally:
            bus.hooks.progress = None


def print_summary(results: list[DatasetRun], console: Console) -> None:
    """What a run did: a line per dataset and one per subscription, then SLA breaches."""
    datasets = Table(title="Datasets", title_justify="left")
    for column in ("dataset", "rows read", "quarantined", "stages committed", "status"):
        datasets.add_column(column, justify="right" if column not in ("dataset", "status") else "left")
    subs = Table(title="Subscriptions", title_justify="left")
    for column in ("subscription", "dataset", "delivered", "denied", "denied because", "status"):
        subs.add_column(column, justify="right" if column in ("delivered", "denied") else "left")
    for r in results:
        stage_failed = r.failures.get("stage")
        datasets.add_row(
            r.dataset,
            f"{r.rows_read:,}",
            f"{r.rows_quarantined:,}",
            str(r.committed),
            "[red]stage failed[/]"
            if stage_failed
            else ("[yellow]waiting[/]" if r.failures else "[green]ok[/]"),
        )
        for sub_id, rep in r.deliveries.items():
            because = "; ".join(f"{why} {n:,}" for why, n in sorted(rep.denials.items()))
            status = "[green]ok[/]"
            if rep.skipped:
                status = f"[yellow]{rep.skipped}[/]: not delivered"
            elif rep.load_rows:
                status = f"[green]ok[/], initial load {rep.load_rows:,} rows"
            subs.add_row(
                sub_id, r.dataset, f"{rep.rows_delivered:,}", f"{rep.rows_denied:,}", because, status
            )
        for sub_id, message in r.failures.items():
            if sub_id != "stage":
                subs.add_row(sub_id, r.dataset, "0", "0", "", f"[red]failed[/]: {message}")
    console.print(datasets)
    console.print(subs)
    for r in results:
        for breach in r.sla_breaches:
            console.print(f"[yellow]{r.dataset} SLA[/]: {breach}", highlight=False)
        if "stage" in r.failures:
            console.print(f"[red]{r.dataset}[/]: {r.failures['stage']}", highlight=False)


def print_status(bus: Bus, console: Console) -> None:
    """Per dataset its committed cursor and waiting stages; per subscription its deliveries."""
    import sqlalchemy as sa

    from exchange import state

    st, dv, cur = state.stages, state.deliveries, state.cursors
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
    from exchange.subscriptions import lifecycle

    with bus.engine.connect() as conn:
        lives = lifecycle.lifecycles(conn)
        for dataset_id in sorted(bus.catalog.datasets):
            committed = conn.execute(sa.select(cur.c.updated_at).where(cur.c.dataset == dataset_id)).scalar()
            waiting = conn.execute(
                sa.select(sa.func.count()).where(st.c.dataset == dataset_id, st.c.status == "staged")
            ).scalar_one()
            last = conn.execute(
                sa.select(state.runs.c.started_at, state.runs.c.status)
                .where(state.runs.c.dataset == dataset_id)
                .order_by(state.runs.c.run_id.desc())
                .limit(1)
            ).first()
            table.add_row(
                dataset_id,
                _when(committed),
                str(waiting),
                _when(last.started_at) if last else "never",
                last.status if last else "",
            )
            for sub in bus.catalog.subscriptions_for(dataset_id):
                row = conn.execute(
                    sa.select(
                        sa.func.count(),
                        sa.func.sum(dv.c.rows_delivered),
                        sa.func.sum(dv.c.rows_denied),
                        sa.func.max(dv.c.delivered_at),
                    ).where(dv.c.subscription_id == sub.id)
                ).one()
                subs.add_row(
                    sub.id,
                    sub.basis,
                    "approved request" if sub.origin == "request" else "catalog",
                    _life_state(lives.get(sub.id)),
                    str(row[0]),
                    f"{row[1] or 0:,}",
                    f"{row[2] or 0:,}",
                    _when(row[3]),
                )
    console.print(table)
    console.print(subs)


def print_quarantine(bus: Bus, console: Console, *, dataset: str | None, limit: int) -> None:
    """Open quarantined rows with their reasons: keys only, personal keys masked."""
    import sqlalchemy as sa

    from exchange import state

    q = state.quarantine
    query = (
        sa.select(q.c.id, q.c.dataset, q.c.stage_id, q.c.record, q.c.reasons, q.c.position)
        .where(q.c.status == "open")  # replayed, superseded and discarded rows are resolved
        .order_by(q.c.id)
        .limit(limit)
    )
    count = sa.select(sa.func.count()).select_from(q).where(q.c.status == "open")
    if dataset:
        query = query.where(q.c.dataset == dataset)
        count = count.where(q.c.dataset == dataset)
    table = Table(title="Quarantine", title_justify="left")
    for column in ("id", "dataset", "key or position", "reasons"):
        table.add_column(column)
    with bus.engine.connect() as conn:
        total = conn.execute(count).scalar_one()
        for row in conn.execute(query):
            known = bus.catalog.datasets.get(row.dataset)
            keys = known.contract.key_fields if known is not None else ()
            # A personal key (a national id) is masked, as `quarantine show` does.
            personal = set(known.contract.fields_classified("personal", "sensitive")) if known else set()
            # A row the source could not read has no key yet: show where it was.
            key = row.position or ", ".join("•••" if k in personal else str(row.record.get(k)) for k in keys)
            table.add_row(str(row.id), row.dataset, key, "\n".join(row.reasons))
    console.print(table)
    shown = f" (showing {limit})" if total > limit else ""
    console.print(f"{total:,} open quarantined row(s){shown}")


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
    console.print(table)


_NUMBER_COLUMNS = ("batches", "delivered", "denied", "quarantined")


def reset_home(settings: Settings, console: Console) -> None:
    """Delete the demo's state folder (only GovBus's own home, after a sanity check)."""
    home = settings.home
    if home.exists() and ((home / "state.db").exists() or (home / "agencies").exists()):
        shutil.rmtree(home)
        console.print(f"Removed {home}")


def _life_state(life: Any) -> str:
    """A subscription's state in a word or three: not yet active, loading, active, suspended, ended."""
    if life is None:
        return "new (loads at its next run)"
    if life.status == "active" and (life.load_pending or life.needs_pin):
        return "active, initial load due"
    return str(life.status)


def _when(value: object) -> str:
    if value is None:
        return "never"
    return value.strftime("%Y-%m-%d %H:%M:%S") if hasattr(value, "strftime") else str(value)
