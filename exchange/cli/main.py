"""The `govbus` command line (Typer + Rich).

Every command has `--help`. Errors are GovBus errors shown as one red line that says
what, where and what to do, with the exit code of their branch (65 bad input,
78 bad configuration, 75 transient, 70 fatal); `--debug` adds the traceback.

Start-up: every command, `--help` included, imports this module and, through it, every
command module. They import only typer, rich, the standard library and the kernel's
errors at module level; a command imports the bus, the parts (pandas, pyarrow,
SQLAlchemy, Great Expectations behind them) when it runs. tests/exchange/cli/
test_startup.py keeps it so.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.logging import RichHandler

from exchange.cli import demo as demo_cli
from exchange.cli import views
from exchange.cli.airflow import airflow_app
from exchange.cli.audit import audit_app
from exchange.cli.catalog import catalog_app
from exchange.cli.common import bus_from_env, console, err_console, settings_from_env
from exchange.cli.consent import consent_app
from exchange.cli.contract import contract_app
from exchange.cli.db import db_app
from exchange.cli.discover import discover
from exchange.cli.erasure import register as register_purges
from exchange.cli.keys import keys_app, verify_delivery
from exchange.cli.metrics import register as register_metrics
from exchange.cli.output import Format, FormatOption, emit_csv, emit_json
from exchange.cli.portal import register as register_portal
from exchange.cli.privacy import check_privacy, privacy_app
from exchange.cli.quarantine import quarantine_app
from exchange.cli.receipts import register as register_receipts
from exchange.cli.report import report_app
from exchange.cli.subject import subject
from exchange.cli.subscription import backfill, cursor_app, subscription_app
from exchange.cli.witness import register as register_witness
from govbus.errors import GovBusError

if TYPE_CHECKING:
    from rich.console import Console

    from exchange.bus import Bus
    from exchange.run import DatasetRun
    from exchange.state import Settings

__all__ = ["app", "console", "err_console", "main"]

app = typer.Typer(
    name="govbus",
    help="GovBus: move agencies' datasets to their subscribers, checked, minimized and logged.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
# The order of registration is the order `govbus --help` lists them in.
app.add_typer(catalog_app, name="catalog")
app.add_typer(subscription_app, name="subscription")
app.add_typer(cursor_app, name="cursor")
app.command("backfill")(backfill)
app.add_typer(quarantine_app, name="quarantine")
app.add_typer(report_app, name="report")
app.add_typer(audit_app, name="audit")
app.add_typer(airflow_app, name="airflow")
app.add_typer(contract_app, name="contract")
app.add_typer(db_app, name="db")
app.add_typer(consent_app, name="consent")
app.add_typer(keys_app, name="keys")
app.add_typer(privacy_app, name="privacy")
app.command("verify-delivery")(verify_delivery)
register_portal(app)
register_metrics(app)
register_receipts(consent_app)
register_purges(consent_app)
audit_app.command("subject")(subject)
register_witness(audit_app)
app.command("discover")(discover)

_state = {"debug": False}


@app.callback()
def _main(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log each step.")] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks of errors.")] = False,
) -> None:
    _state["debug"] = debug or bool(os.environ.get("GOVBUS_DEBUG"))
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(message)s",
        handlers=[RichHandler(console=err_console, show_path=False)],
        force=True,
    )


@app.command()
def check(
    connect: Annotated[
        bool, typer.Option("--connect", help="Also read one record from each source (dropped at once).")
    ] = False,
    strict: Annotated[
        bool,
        typer.Option(
            "--strict", help="Fail when something a run needs is missing here (a variable, a folder)."
        ),
    ] = False,
) -> None:
    """Check the catalog, then what a run needs: variables, connections, paths, SQL names.

    Errors (a path outside the allowed folders, a SQL name that is not a plain identifier,
    a setting the connector refuses) fail the check. Missing items (an unset variable, an
    absent folder) are listed; they fail it only with --strict, since they may be set
    only where runs happen. Nothing is contacted unless --connect.
    """
    import audit
    from exchange.catalog.loader import check_catalog

    settings = settings_from_env()
    if not audit.NATIVE_HASHING:
        err_console.print(
            "[yellow]![/] the audit hashes records in pure Python (govbus._sha256_batch was not "
            "built at install): same results, slower deliveries. Install a C compiler and OpenSSL's "
            "headers (Debian: gcc libssl-dev), then run `make install` again.",
            soft_wrap=True,
        )
    problems = check_catalog(settings.catalog_dir)
    if problems:
        for problem in problems:
            err_console.print(f"[red]✗[/] {problem}", highlight=False, soft_wrap=True)
        err_console.print(f"[red]{len(problems)} problem(s)[/] in {settings.catalog_dir}")
        raise typer.Exit(1)
    console.print(f"[green]✓[/] catalog {settings.catalog_dir} is consistent")
    failed = _check_run_needs(settings, connect=connect, strict=strict)
    _check_requested(settings)
    failed = check_privacy(settings) or failed  # special categories, receipts, disclosure risk
    if failed:
        raise typer.Exit(1)


def _check_run_needs(settings: Settings, *, connect: bool, strict: bool) -> bool:
    """What a run will need (exchange.catalog.preflight), printed; True when the check fails."""
    from exchange.catalog.loader import load_catalog
    from exchange.catalog.preflight import preflight
    from exchange.run.deliver import delivered_schema

    catalog = load_catalog(settings.catalog_dir)
    env = {**os.environ, "GOVBUS_HOME": str(settings.home)}
    findings = preflight(
        catalog, env, schema_of=delivered_schema, allowed=settings.allowed_roots, connect=connect
    )
    errors = [f for f in findings if not f.missing]
    missing = [f for f in findings if f.missing]
    for finding in errors:
        err_console.print(f"[red]✗[/] {finding}", highlight=False, soft_wrap=True)
    for finding in missing:
        mark = "[red]✗[/]" if strict else "[yellow]![/]"
        err_console.print(f"{mark} {finding} (missing)", highlight=False, soft_wrap=True)
    count = len(catalog.datasets) + len(catalog.subscriptions)
    if errors:
        err_console.print(f"[red]{len(errors)} problem(s)[/] in the sources and sinks a run would build")
    elif missing:
        verdict = "fail the check (--strict)" if strict else "may be set only where runs happen"
        err_console.print(f"[yellow]{len(missing)} item(s) a run needs are missing here[/]: they {verdict}")
    else:
        contacted = ", sources answered" if connect else ""
        console.print(
            f"[green]✓[/] {count} source(s) and sink(s): variables, connections and paths resolve, "
            f"paths are inside the allowed folders, SQL names are plain{contacted}",
            soft_wrap=True,
        )
    return bool(errors) or (strict and bool(missing))


def _check_requested(settings: Settings) -> None:
    """Subscriptions approved at run time, checked against the catalog as it is now.

    Reads the state database only when it exists and is migrated: `govbus check` runs in
    CI on the catalog alone and must create nothing.
    """
    from exchange import state
    from exchange.catalog.loader import load_catalog
    from exchange.subscriptions.merge import requested_subscriptions
    from exchange.subscriptions.requests import APPROVED, list_requests

    url = settings.state_url
    if url.startswith("sqlite"):
        import sqlalchemy as sa

        if not Path(sa.make_url(url).database or "").is_file():
            return
    engine = state.make_engine(url)
    try:
        if state.migrate.current(engine) != state.migrate.head():
            return
        catalog = load_catalog(settings.catalog_dir)
        with engine.connect() as conn:
            subs, problems = requested_subscriptions(catalog, list_requests(conn, status=APPROVED))
    except GovBusError:
        return  # the state database is not reachable: the catalog alone was checked
    finally:
        engine.dispose()
    if subs:
        console.print(
            f"[green]✓[/] {len(subs)} subscription(s) approved at run time: {', '.join(s.id for s in subs)}"
        )
    for problem in problems:
        err_console.print(f"[red]✗[/] {problem} (left out of every run)", highlight=False, soft_wrap=True)
    if problems:
        raise typer.Exit(1)


@app.command()
def run(
    dataset: Annotated[str | None, typer.Argument(help="Dataset id; all datasets if omitted.")] = None,
    output: FormatOption = Format.table,
) -> None:
    """Stage, deliver and commit: one exchange run, locally (progress on stderr)."""
    from exchange.views.run_summary import RUN_CSV_COLUMNS, run_summary

    with bus_from_env() as bus, demo_cli.sample_systems(bus):
        results = views.run_with_progress(bus, [dataset] if dataset else None)
        if output is Format.table:
            views.print_summary(results, console)
        elif output is Format.json:
            emit_json(run_summary(results).to_json())
        else:
            emit_csv(RUN_CSV_COLUMNS, run_summary(results).csv_rows())
        # Said on stdout under a table; on stderr when stdout is JSON or CSV for a script.
        _purge_lapsed(bus, results, console if output is Format.table else err_console)
    if any(not r.ok for r in results):
        raise typer.Exit(1)


def _purge_lapsed(bus: Bus, results: list[DatasetRun], said_on: Console) -> None:
    """A subscription ended by its lapsed statute in this run: purge what it received.

    Idempotent (`purge_ended_statutes` issues nothing twice), so it runs after every run
    that ended such a subscription; under Airflow, schedule `govbus consent purge-statute`.
    """
    ended = {
        bus.catalog.subscriptions[sub_id].statute
        for r in results
        for sub_id, report in r.deliveries.items()
        if report.skipped == "ended" and sub_id in bus.catalog.subscriptions
    }
    from exchange.erasure import purges

    lapsed = sorted(s for s in ended if s and s in purges.ended_statutes(bus))
    for statute in lapsed:
        run = purges.purge_ended_statutes(bus, statute)[statute]
        said_on.print(
            f"statute {statute} has lapsed: {len(run.outcomes)} purge(s) issued to its recipients "
            f"({len(run.failed)} not delivered yet; `govbus consent purges` lists them)",
            highlight=False,
            soft_wrap=True,
        )


@app.command()
def status(output: FormatOption = Format.table) -> None:
    """Datasets' committed cursors, pending stages and subscriptions' deliveries."""
    from exchange.views.status import STATUS_CSV_COLUMNS, bus_status

    with bus_from_env() as bus:
        if output is Format.table:
            views.print_status(bus, console)
            return
        shown = bus_status(bus)
    if output is Format.json:
        emit_json(shown.to_json())
    else:
        emit_csv(STATUS_CSV_COLUMNS, shown.csv_rows())


demo_cli.register(app)


def main() -> None:
    """Console entry point: GovBus errors become one clear line and an exit code."""
    try:
        code = app(standalone_mode=False)
        if isinstance(code, int) and code:
            sys.exit(code)
    except GovBusError as exc:
        if _state["debug"]:
            raise
        err_console.print(f"[red]error:[/] {exc}", highlight=False, soft_wrap=True)
        sys.exit(exc.exit_code)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        err_console.print("aborted")
        sys.exit(130)
    except Exception as exc:
        if _usage_error(exc):  # a wrong option or value: the usage and the message, exit 2
            exc.show()  # type: ignore[attr-defined]
            sys.exit(exc.exit_code)  # type: ignore[attr-defined]
        if _state["debug"]:
            raise
        err_console.print(
            f"[red]internal error:[/] {type(exc).__name__} (rerun with --debug for the traceback; "
            "please report it)",
            highlight=False,
        )
        sys.exit(70)


def _usage_error(exc: BaseException) -> bool:
    """A click exception, from click or from the copy of click Typer ships (`typer._click`,
    which raises for a bad `--format` value): both have `show()` and an int `exit_code`."""
    import click

    return isinstance(exc, click.exceptions.ClickException) or (
        type(exc).__module__.startswith("typer.")
        and callable(getattr(exc, "show", None))
        and isinstance(getattr(exc, "exit_code", None), int)
    )


if __name__ == "__main__":
    main()
