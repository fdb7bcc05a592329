"""`govbus audit subject NATIONAL_ID`: every delivery of one person's data.

For auditors, and for answering a citizen's access request. The typed id is turned at
once into its audit pseudonym and only that is looked up (the access index never holds
raw ids); the id is not printed back, logged or stored. Each delivery is reported as its
signed ledger entry describes it: when, dataset, recipient, purpose, basis, fields.
An id of no form the catalog's datasets declare for their subject field (length,
pattern, check digit: the contracts' rules on it, `exchange.portal.subjects`) is refused
with "this is not a valid id" and exit code 65, before any lookup: "no delivery" would be
a false answer to a person's access request.
`--format html` writes the citizen's access report instead (plain language, one
self-contained page with each entry's inclusion proof, the id masked), see
`exchange.portal.citizen`, in a language `catalog/languages.yaml` declares (`--lang fr`);
`--out FILE` writes any format to a file. The portal's
report code is imported when the command runs, not by `govbus --help`.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from exchange.cli.common import bus_from_env, console
from exchange.cli.output import csv_text, json_text, print_table
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
    lang: Annotated[
        str | None,
        typer.Option("--lang", help="The citizen's report's language, one catalog/languages.yaml declares."),
    ] = None,
) -> None:
    """Every delivery of this person's data: when, dataset, recipient, purpose, basis, fields."""
    if out is not None and output is Format.table:
        raise BadInput("a table is for the terminal", where="--out", hint="add --format html, json or csv")
    if lang is not None and output is not Format.html:
        raise BadInput(
            "only the citizen's report comes in other languages", where="--lang", hint="add --format html"
        )
    from exchange.portal.citizen import citizen_report, render_citizen_report
    from exchange.portal.subjects import subject_deliveries
    from exchange.views.roles import AUDITOR, Principal

    with bus_from_env() as bus:
        if output is Format.html:
            from exchange.portal.citizen_text import chosen

            code = chosen(bus.settings.catalog_dir, lang, where="--lang")
            _emit(render_citizen_report(citizen_report(bus, Principal(AUDITOR), national_id, lang=code)), out)
            return
        report = subject_deliveries(bus, Principal(AUDITOR), national_id)
    rows = [d.model_dump(mode="json") for d in report.deliveries]
    if output is Format.json:  # docs/cli-output.md
        _emit(json_text({"index_available": report.index_available, "deliveries": rows}) + "\n", out)
        return
    if output is Format.csv:  # the model's columns, also with no delivery; fields joined with ;
        from exchange.portal.models import SubjectDelivery

        _emit(csv_text(tuple(SubjectDelivery.model_fields), rows), out)
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
    print_table(table, console)


def _emit(text: str, out: Path | None) -> None:
    """To the terminal, or to `out` (UTF-8, written whole)."""
    if out is None:
        typer.echo(text, nl=False)
        return
    out.write_text(text, encoding="utf-8")
    console.print(f"[green]✓[/] wrote {out}", highlight=False, soft_wrap=True)
