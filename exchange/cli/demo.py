"""`govbus demo`: seed the sample deployment (once), run every exchange, print a summary.

The only command module that imports the sample deployment (`exchange.demo`: numpy, the
sample's seeding code, its Health Ministry API), and only when a command runs: import-linter
forbids every room below the command line to import it, and `govbus --help` must not pay
for it.

`sample_systems` is what `govbus run` uses so that a run on a seeded sample home finds the
Health Ministry's API up, as `govbus demo` does. It imports `exchange.demo` only when the
catalog holds the sample's Health Ministry dataset, the one case where
`exchange.demo.deployment.agency_systems` does anything; on any other catalog `govbus run`
never loads the sample.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated

import typer

from exchange.cli import views
from exchange.cli.common import bus_from_env, console, settings_from_env

if TYPE_CHECKING:
    from exchange.bus import Bus

__all__ = ["SAMPLE_SERVED_DATASET", "demo", "register", "sample_systems"]

# `exchange.demo.health.DATASET`, the dataset whose source the sample serves itself
# (tests/exchange/cli/test_startup.py checks they agree).
SAMPLE_SERVED_DATASET = "health.disability"


@contextmanager
def sample_systems(bus: Bus) -> Iterator[None]:
    """The sample agencies' running systems for the block; nothing on another catalog."""
    if SAMPLE_SERVED_DATASET not in bus.catalog.datasets:
        yield
        return
    from exchange.demo.deployment import agency_systems

    with agency_systems(bus):
        yield


def demo(
    more: Annotated[
        bool, typer.Option("--more", help="Change some source rows first (an incremental run).")
    ] = False,
    rows: Annotated[int, typer.Option(help="Returns to seed on the first run.")] = 20_000,
    reset: Annotated[bool, typer.Option("--reset", help="Delete the demo state and start over.")] = False,
) -> None:
    """Seed the sample deployment (once), then run every exchange and print a summary."""
    from exchange.demo import deployment as sample

    settings = settings_from_env()
    if reset:
        views.reset_home(settings, console)
    from exchange.demo import requests as sample_requests

    first = False
    with bus_from_env(settings) as bus:
        if not sample.is_seeded(bus):
            first = True
            seeded = sample.seed(bus, rows=rows)
            console.print(
                f"Seeded the Tax Authority with {seeded.returns:,} returns "
                f"({seeded.broken} broken on purpose); "
                f"{seeded.consents:,} citizens consented to Housing, {seeded.revoked} later revoked.",
                soft_wrap=True,
            )
            if seeded.health is not None:
                h = seeded.health
                states = ", ".join(f"{n:,} {s.lower()}" for s, n in sorted(h.consents.items()))
                console.print(
                    f"Seeded the Health Ministry with {h.assessments:,} disability assessments "
                    f"({h.broken} broken on purpose); consents to Benefits: {states}; "
                    f"{h.without_consent:,} assessed people without one.",
                    soft_wrap=True,
                )
        elif more:
            changed, new = sample.change_some(bus)
            console.print(
                f"The Tax Authority corrected {changed} returns and received {new} new ones.", soft_wrap=True
            )
        with sample.agency_systems(bus):
            results = views.run_with_progress(bus, None)
            asked = sample_requests.make_requests(bus) if first else None
            if asked is not None and asked.approved:
                console.print(
                    f"The Statistics Office asked for regional incomes ({asked.approved}); "
                    "the Tax Authority approved. Housing asked under the Benefits Agency's statute "
                    f"and was refused: {'; '.join(asked.refused)}",
                    highlight=False,
                    soft_wrap=True,
                )
                # The new subscriber's first run: the history first (its initial load).
                (again,) = views.run_with_progress(bus, ["tax.income"])
                tax = next(r for r in results if r.dataset == "tax.income")
                tax.deliveries.update((k, v) for k, v in again.deliveries.items() if k not in tax.deliveries)
                tax.failures.update(again.failures)
        views.print_summary(results, console)
    if any(not r.ok for r in results):
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add `demo` to the `govbus` app."""
    app.command("demo")(demo)
