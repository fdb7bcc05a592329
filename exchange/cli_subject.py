"""`govbus audit subject NATIONAL_ID`: every delivery of one person's data.

For auditors, and for answering a citizen's access request. The typed id is turned at
once into its audit pseudonym and only that is looked up (the access index never holds
raw ids); the id is not printed back, logged or stored. Each delivery is reported as its
signed ledger entry describes it: when, dataset, recipient, purpose, basis, fields.
"""

from __future__ import annotations

import csv
import io
import json
from enum import StrEnum
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from exchange.bus import Bus
from exchange.portal.roles import AUDITOR, Principal
from exchange.portal.subjects import subject_deliveries

console = Console()


class Format(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


def subject(
    national_id: Annotated[str, typer.Argument(help="The person's national id (never printed back).")],
    output: Annotated[Format, typer.Option("--format", help="table, json or csv.")] = Format.table,
) -> None:
    """Every delivery of this person's data: when, dataset, recipient, purpose, basis, fields."""
    bus = Bus.open()
    try:
        report = subject_deliveries(bus, Principal(AUDITOR), national_id)
    finally:
        bus.close()
    rows = [d.model_dump(mode="json") for d in report.deliveries]
    if output is Format.json:
        console.print_json(json.dumps({"index_available": report.index_available, "deliveries": rows}))
        return
    if output is Format.csv:
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=list(rows[0]) if rows else ["ledger_seq"])
        writer.writeheader()
        for row in rows:
            writer.writerow({**row, "fields": " ".join(row["fields"])})
        typer.echo(out.getvalue(), nl=False)
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
