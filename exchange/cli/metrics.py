"""`govbus metrics` and `govbus alerts`: the bus's metrics and alerts without a server.

* `govbus metrics` prints the Prometheus text exposition the portal serves at `/metrics`
  (`--output FILE` writes it atomically, for node_exporter's textfile collector), so a
  cron job can scrape a bus that runs no portal.
* `govbus alerts check` judges, from the state database, what only shows while nothing
  runs — a ledger checkpoint grown old, a dataset gone stale against its SLA, a step
  whose latest run failed — and sends the alerts (`GOVBUS_ALERT_*`); run it from cron.
  A condition is sent once, again after GOVBUS_ALERT_REPEAT (default 4 h) while it
  lasts, and once more when it resolves (`exchange.ops.alert_memory`).
* `govbus alerts test` sends one test alert to every configured receiver.

Registered with `register(app)` in `exchange/cli/main.py`.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Annotated

import typer

from exchange.cli.common import bus_from_env, console, err_console, settings_from_env

alerts_app = typer.Typer(
    help="Alerts to a webhook or by email (GOVBUS_ALERT_* variables).", no_args_is_help=True
)


def metrics(
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to this file (atomically) instead of stdout.")
    ] = None,
) -> None:
    """Print the bus's Prometheus metrics (text exposition), as the portal's /metrics serves them."""
    from exchange import ops

    with bus_from_env() as bus:
        text = ops.exposition(bus.engine, bus.catalog)
    if output is None:
        typer.echo(text.decode(), nl=False)
        return
    output.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{output.name}.", dir=output.parent)
    with os.fdopen(fd, "wb") as handle:
        handle.write(text)
    os.chmod(tmp, 0o644)  # read by the collector's user; counts only
    os.replace(tmp, output)


@alerts_app.command("check")
def check() -> None:
    """Judge checkpoint age, freshness and the latest step runs from the state; send the alerts."""
    from exchange import ops
    from exchange.ops.checks import standing_alerts

    settings = ops.AlertSettings.from_env()
    with bus_from_env() as bus:
        found = standing_alerts(bus.engine, bus.catalog, settings)
        # Every standing condition is judged here: one that stopped firing resolves.
        judged = ops.judged_kinds((ops.CHECKPOINT_LATE, ops.SLA_BREACH, ops.RUN_FAILED))
        sent, failures = ops.notify(bus.engine, found, settings, judged=judged)
    for alert in found:
        err_console.print(f"[yellow]![/] {alert.kind}: {alert.summary}", highlight=False, soft_wrap=True)
    held = len(found) - len([a for a in sent if not a.kind.endswith("_resolved")])
    if settings.any_receiver and held:
        err_console.print(
            f"{held} still firing and sent less than GOVBUS_ALERT_REPEAT ago: held back", highlight=False
        )
    for alert in sent:
        if alert.kind.endswith("_resolved"):
            console.print(f"[green]✓[/] {alert.summary}", highlight=False, soft_wrap=True)
    if not settings.any_receiver and found:
        err_console.print(
            "no receiver configured (GOVBUS_ALERT_WEBHOOK_URL, GOVBUS_ALERT_SMTP_URL): nothing sent"
        )
    for failure in failures:
        err_console.print(f"[red]✗[/] not sent: {failure}", highlight=False)
    if not found:
        console.print("[green]✓[/] nothing to alert about")
    if failures:
        raise typer.Exit(75)


@alerts_app.command("test")
def test() -> None:
    """Send one test alert to every configured receiver."""
    from exchange import ops

    settings_from_env()  # a broken GOVBUS_* setting is reported as usual
    settings = ops.AlertSettings.from_env()
    if not settings.any_receiver:
        err_console.print("no receiver configured: set GOVBUS_ALERT_WEBHOOK_URL or GOVBUS_ALERT_SMTP_URL")
        raise typer.Exit(78)
    failures = ops.send_alerts([ops.Alert("test", "a test alert from `govbus alerts test`")], settings)
    for failure in failures:
        err_console.print(f"[red]✗[/] not sent: {failure}", highlight=False)
    if failures:
        raise typer.Exit(75)
    console.print("[green]✓[/] test alert sent")


def register(app: typer.Typer) -> None:
    """Add `metrics` and `alerts` to a Typer app (`govbus metrics`, `govbus alerts check`)."""
    app.command("metrics")(metrics)
    app.add_typer(alerts_app, name="alerts")
