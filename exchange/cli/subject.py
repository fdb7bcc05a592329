"""`govbus audit subject NATIONAL_ID`: every delivery of one person's data.

For auditors, and for answering a citizen's access request. The typed id is turned at
once into its audit pseudonym and only that is looked up (the access index never holds
raw ids); the id is not printed back, logged or stored. Each delivery is reported as its
signed ledger entry describes it: when, dataset, recipient, purpose, basis, fields.
`--format html` writes the citizen's access report instead (plain language, one
self-contained page with each entry's inclusion proof, the id masked), see
`exchange.portal.citizen`; `--out FILE` writes any format to a file. The portal's
report code is imported when the command runs, not by `govbus --help`.
"""

from __future__ import annotations

import csv
import io
import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from exchange.cli.common import bus_from_env, console
from govbus.errors import BadInput

__all__ = ["Format", "console", "subject"]


class Format(StrEnum):
    """`govbus audit subject --format`: `html` is the citizen's report (id masked); others list deliveries."""

    table = "table"
    json = "json"
    csv = "csv"
    html = "html"


def subject(
    national_id: Annotated[str, typer.Argument(help="The person's national id (never printed back).")],
    output: Annotated[
        Format, typer.Option("--format", help="table, json, csv, or html (the citizen's report).")
    ] = Format.table,
    out: Annotated[
        Path | None, typer.Option("--out", help="Write to this file instead of the terminal.")
    ] = None,
) -> None:
    """Every delivery of this person's data: when, dataset, recipient, purpose, basis, fields."""
    if out is not None and output is Format.table:
        raise BadInput("a table is for the terminal", where="--out", hint="add --format html, json or csv")
    from exchange.portal.citizen import citizen_report, render_citizen_report
    from exchange.portal.subjects import subject_deliveries
    from exchange.views.roles import AUDITOR, Principal

    with bus_from_env() as bus:
        if output is Format.html:
            _emit(render_citizen_report(citizen_report(bus, Principal(AUDITOR), national_id)), out)
            return
        report = subject_deliveries(bus, Principal(AUDITOR), national_id)
    rows = [d.model_dump(mode="json") for d in report.deliveries]
    if output is Format.json:
        text = json.dumps({"index_available": report.index_available, "deliveries": rows}, indent=2)
        if out is None:
            console.print_json(text)
        else:
            _emit(text + "\n", out)
        return
    if output is Format.csv:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=list(rows[0]) if rows else ["ledger_seq"])
        writer.writeheader()
        for row in rows:
            writer.writerow({**row, "fields": " ".join(row["fields"])})
        _emit(buffer.getvalue(), out)
        return
    if report.notice:
        console.print(f"[yellow]{report.notice}[/]")
    table = Table(title=f"{len(rows)} delivery(ies) of this person's data", title_justify="left")
    for column in ("when", "dataset", "recipient", "purpose", "basis", "fields", "ledger entry"):
        table.add_column(column)
    for d in report.deliveries:
        table.add_row(
            d.at.strftime("%Y-%m-%d %H:%M UTC"),
            d.dataset,
            d.recipient,
            d.purpose,
            d.basis,
            ", ".join(d.fields),
            str(d.ledger_seq),
        )
    console.print(table)


def _emit(text: str, out: Path | None) -> None:
    """To the terminal, or to `out` (UTF-8, written whole)."""
    if out is None:
        typer.echo(text, nl=False)
        return
    out.write_text(text, encoding="utf-8")
    console.print(f"[green]✓[/] wrote {out}", highlight=False, soft_wrap=True)
