"""`govbus quarantine list | show | replay | discard`.

Mounted by `exchange.cli.main` with `app.add_typer(quarantine_app, name="quarantine")`.
`list` shows open rows' keys and reasons. Both `list` and `show` take `--format table |
json | csv` (`exchange.cli.output`; shapes in `exchange.views.quarantine_rows`). `show` masks personal and
sensitive values (and unclassified fields, and the raw text of unreadable lines) unless
`--reveal` is given with `--reason`; a reveal is written to the ledger (who, which rows
and fields, why) before anything is printed. `replay` re-validates open rows against
the current contract and re-stages those that pass; `discard` closes rows for good.
Both are logged in the ledger with the operator's name (the OS user, or `--as`).

The quarantine room (pyarrow, SQLAlchemy) is imported when a command runs, not by
`govbus --help`; so `--status`'s choices are spelled here (a test checks they are the
room's `STATUSES`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from exchange.cli import views
from exchange.cli.common import bus_from_env, console, err_console
from exchange.cli.output import Format, FormatOption, emit_csv, emit_json, print_table
from govbus.errors import BadInput

if TYPE_CHECKING:
    from exchange.views.quarantine_rows import QuarantineDetail

__all__ = ["STATUSES", "console", "quarantine_app"]

quarantine_app = typer.Typer(help="Rows that broke a dataset's contract.", no_args_is_help=True)

# `exchange.quarantine.store.STATUSES`, the first one (`OPEN`) the default of `show`.
STATUSES = ("open", "replayed", "superseded", "discarded")
OPEN = STATUSES[0]

AS_HELP = "Name recorded in the ledger instead of the OS user (e.g. a ticket's assignee)."


def show(
    ids: Annotated[list[int] | None, typer.Argument(help="Quarantine ids (from `quarantine list`).")] = None,
    dataset: Annotated[str | None, typer.Option(help="Rows of this dataset.")] = None,
    rule: Annotated[str | None, typer.Option(help="Only rows with a reason containing this text.")] = None,
    status: Annotated[
        str, typer.Option(help=f"Rows in this status ({', '.join(STATUSES)}) or 'all'.")
    ] = OPEN,
    limit: Annotated[int, typer.Option(min=1, help="At most this many rows.")] = 20,
    reveal: Annotated[
        bool, typer.Option("--reveal", help="Show personal and sensitive values (logged in the ledger).")
    ] = False,
    reason: Annotated[str | None, typer.Option(help="Why you reveal them (required with --reveal).")] = None,
    as_name: Annotated[str | None, typer.Option("--as", help=AS_HELP)] = None,
    output: FormatOption = Format.table,
) -> None:
    """Quarantined rows with their reasons and values, personal and sensitive ones masked."""
    if not ids and dataset is None:
        raise BadInput(
            "name quarantine ids or --dataset", where="quarantine show", hint="see `quarantine list`"
        )
    if status != "all" and status not in STATUSES:
        raise BadInput(f"unknown status {status!r}", where="--status", hint=", ".join(STATUSES))
    from exchange.quarantine import view as quarantine_view
    from exchange.views.quarantine_rows import SHOW_CSV_COLUMNS, row_detail, show_csv_rows

    why = quarantine_view.why(reason, needed_for="--reveal") if reveal else None
    # The table's notes go with it; with JSON or CSV on stdout they go to stderr.
    notes = console if output is Format.table else err_console
    seq = None
    with bus_from_env() as bus:
        rows = quarantine_view.find(
            bus,
            ids=ids or (),
            dataset=dataset,
            rule=rule,
            status=None if status == "all" else status,
            limit=limit,
        )
        if rows and reveal and why is not None:  # logged before any value is shown
            seq = quarantine_view.record_reveal(
                bus, rows, viewer=quarantine_view.operator(as_name), reason=why
            )
            notes.print(f"[yellow]Revealed[/]: recorded in the ledger as entry {seq}.")
        details = [row_detail(bus, row, reveal=reveal) for row in rows]
    if output is Format.json:
        emit_json({"revealed": reveal, "ledger_seq": seq, "rows": [d.to_json() for d in details]})
    elif output is Format.csv:
        emit_csv(SHOW_CSV_COLUMNS, show_csv_rows(details))
    elif not details:
        console.print("No quarantined row matches.")
    else:
        for detail in details:
            _print_row(detail)
    if not reveal and details:
        notes.print("Personal and sensitive values are masked; --reveal --reason TEXT shows them (logged).")


def _print_row(row: QuarantineDetail) -> None:
    title = f"#{row.id} {row.dataset} · {row.status} · stage {row.stage_id}"
    if row.position:
        title += f" · at {row.position}"
    table = Table(title=title, title_justify="left", show_edge=False)
    for column in ("field", "classification", "value"):
        table.add_column(column)
    for field in row.fields:
        table.add_row(field.name, field.classification, field.value)
    print_table(table, console)
    for why in row.reasons:
        console.print(f"  [red]✗[/] {why}", highlight=False, soft_wrap=True)


def replay_command(
    dataset: Annotated[str, typer.Argument(help="Dataset whose open rows to replay.")],
    ids: Annotated[list[int] | None, typer.Argument(help="Only these quarantine ids.")] = None,
    as_name: Annotated[str | None, typer.Option("--as", help=AS_HELP)] = None,
) -> None:
    """Re-validate open rows against the current contract; re-stage those that pass."""
    from exchange.quarantine import view as quarantine_view
    from exchange.run.replay import replay

    with bus_from_env() as bus:
        report = replay(bus, dataset, ids=ids or (), by=quarantine_view.operator(as_name))
    if not (report.replayed or report.still_open or report.superseded or report.unreadable):
        console.print(f"No open quarantined row of {dataset} to replay.")
        return
    if report.stage_id:
        console.print(
            f"[green]✓[/] {len(report.replayed):,} row(s) re-staged as stage {report.stage_id}; "
            "they are delivered with the next `govbus run`."
        )
    else:
        console.print("No row passes the current contract; nothing re-staged.")
    if report.still_open:
        console.print(f"{len(report.still_open):,} row(s) still quarantined:")
        for why, rows in sorted(report.reasons.items(), key=lambda item: -item[1]):
            console.print(f"  {rows:>6,}  {why}", highlight=False, soft_wrap=True)
    if report.superseded:
        console.print(f"{len(report.superseded):,} older version(s) of a replayed key superseded.")
    if report.unreadable:
        console.print(f"{len(report.unreadable):,} unreadable row(s) left open: fix them at the source.")
    if report.ledger_seq is not None:
        console.print(f"Recorded in the ledger as entry {report.ledger_seq}.")


def discard_command(
    ids: Annotated[list[int], typer.Argument(help="Quarantine ids to discard.")],
    reason: Annotated[str | None, typer.Option(help="Why (required; recorded in the ledger).")] = None,
    as_name: Annotated[str | None, typer.Option("--as", help=AS_HELP)] = None,
) -> None:
    """Close open rows for good: kept for audit, left out of counts, logged in the ledger."""
    from exchange.quarantine import view as quarantine_view

    why = quarantine_view.why(reason, needed_for="discard")
    with bus_from_env() as bus:
        seq = quarantine_view.discard(bus, ids, by=quarantine_view.operator(as_name), reason=why)
    console.print(f"[green]✓[/] {len(set(ids)):,} row(s) discarded; recorded in the ledger as entry {seq}.")


def quarantine_list(
    dataset: Annotated[str | None, typer.Option(help="Only this dataset.")] = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many rows.")] = 50,
    output: FormatOption = Format.table,
) -> None:
    """Quarantined rows with every reason (keys only: personal values stay in the state DB)."""
    from exchange.views.quarantine_rows import LIST_CSV_COLUMNS, open_rows

    with bus_from_env() as bus:
        if output is Format.table:
            views.print_quarantine(bus, console, dataset=dataset, limit=limit)
            return
        listing = open_rows(bus, dataset=dataset, limit=limit)
    if output is Format.json:
        emit_json(listing.to_json())
    else:
        emit_csv(LIST_CSV_COLUMNS, listing.csv_rows())


# In this order in `govbus quarantine --help`, as before `list` moved here from main.
quarantine_app.command("show")(show)
quarantine_app.command("replay")(replay_command)
quarantine_app.command("discard")(discard_command)
quarantine_app.command("list")(quarantine_list)
