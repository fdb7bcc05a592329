"""`govbus report validation DATASET [--run ID]`: where a run's validation report is, and its gist.

Mounted by `exchange.cli.main` with `app.add_typer(report_app, name="report")`. Prints the
HTML page's and the GX JSON's paths and, per expectation, the verdict and unexpected
counts — read back from the JSON report, which holds counts only. Quarantining rows is
the normal outcome of a run, so an unmet expectation is shown, not an error (exit 0).
The quarantine room's reports are read when the command runs, not by `govbus --help`.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from exchange.cli.common import console, settings_from_env
from exchange.cli.output import print_table

__all__ = ["console", "report_app", "verdict"]

report_app = typer.Typer(help="Reports of the runs (validation).", no_args_is_help=True)


def verdict(result: dict[str, Any]) -> str:
    """The verdict in words: "11 of 11 expectations met", or "2 of 11 expectations not met
    (9 met)": the count before "not met" is of the unmet ones, as the HTML report says.

    Counted from the results themselves (GX's `statistics` says the same), so the words
    and the table under them cannot disagree."""
    total = len(result["results"])
    unmet = sum(1 for entry in result["results"] if not entry["success"])
    if not unmet:
        return f"[green]{total} of {total} expectations met[/]"
    return f"[red]{unmet} of {total} expectations not met[/] ({total - unmet} met)"


@report_app.command("validation")
def validation(
    dataset: Annotated[str, typer.Argument(help="Dataset id.")],
    run: Annotated[str | None, typer.Option("--run", help="Run (stage) id; the newest if omitted.")] = None,
) -> None:
    """The validation report of a dataset's run: paths, verdict, unexpected counts."""
    from exchange.quarantine import reports

    path = reports.find_report(settings_from_env(), dataset, run)
    result = reports.load_report(path)
    extra = result["meta"]["govbus"]
    console.print(f"HTML: {path.with_suffix('.html')}", soft_wrap=True, highlight=False)
    console.print(f"JSON: {path}", soft_wrap=True, highlight=False)
    console.print(
        f"Run {extra['run']} of {extra['dataset']} ({result['suite_name']}): {verdict(result)}; "
        f"{extra['rows_read']:,} row(s) read, {extra['rows_quarantined']:,} quarantined.",
        highlight=False,
        soft_wrap=True,
    )
    table = Table(show_edge=False)
    for column in ("expectation", "verdict", "unexpected", "% of judged"):
        table.add_column(column)
    for entry in result["results"]:
        outcome = entry["result"]
        if "observed_value" in outcome:
            counted, share = f"observed {outcome['observed_value']:,}", ""
        else:
            percent = outcome.get("unexpected_percent")
            counted = f"{outcome['unexpected_count']:,}"
            share = "–" if percent is None else f"{percent:.2f} %"
        table.add_row(
            entry["meta"]["govbus"]["reason"], "met" if entry["success"] else "NOT MET", counted, share
        )
    print_table(table, console)
