"""`govbus airflow ...`: what Airflow needs before it runs the GovBus DAGs.

`pools` creates or updates one pool per source agency (`govbus_<agency>`, slots = the
agency's `max_concurrent_reads` in catalog/agencies.yaml). The DAGs' stage tasks run in
these pools, and Airflow never schedules a task whose pool does not exist, so run it
after `airflow db migrate` and after every change of agencies.yaml. Where this machine
has no access to Airflow's metadata database, `--json FILE` writes the same pools for
`airflow pools import FILE`. The catalog and orchestration rooms (and Airflow) are
imported when the command runs, not by `govbus --help`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from exchange.cli.common import console, settings_from_env
from exchange.cli.output import print_table
from govbus.errors import BadConfiguration, TransientError

if TYPE_CHECKING:
    from exchange.orchestration.tasks import PoolSpec

__all__ = ["airflow_app", "apply_pools", "console", "pools_file"]

airflow_app = typer.Typer(help="Set Airflow up for the GovBus DAGs (pools).", no_args_is_help=True)

_PREFIX = "govbus_"


@airflow_app.command("pools")
def pools(
    json_file: Annotated[
        Path | None,
        typer.Option("--json", help="Write the pools for `airflow pools import FILE` instead of applying."),
    ] = None,
    prune: Annotated[
        bool, typer.Option("--prune", help="Delete govbus_ pools of agencies that no longer own a dataset.")
    ] = False,
) -> None:
    """Create or update one Airflow pool per source agency (slots: its max_concurrent_reads)."""
    from exchange.catalog.loader import load_catalog
    from exchange.orchestration.tasks import agency_pools

    specs = agency_pools(load_catalog(settings_from_env().catalog_dir))
    if json_file is not None:
        json_file.write_text(json.dumps(pools_file(specs), indent=2) + "\n")
        console.print(f"[green]✓[/] {len(specs)} pool(s) written to {json_file}; `airflow pools import` it")
        return
    stale = apply_pools(specs, prune=prune)
    table = Table("pool", "slots", title="Airflow pools (one per source agency)")
    for spec in specs:
        table.add_row(spec.name, str(spec.slots))
    print_table(table, console)
    for name in stale:
        verb = "deleted" if prune else "left in place (no dataset's owner); --prune deletes it"
        console.print(f"[yellow]![/] pool {name} {verb}", highlight=False)


def pools_file(specs: list[PoolSpec]) -> dict[str, dict[str, Any]]:
    """The pools in `airflow pools import`'s file format."""
    return {
        s.name: {"slots": s.slots, "description": s.description, "include_deferred": False} for s in specs
    }


def apply_pools(specs: list[PoolSpec], *, prune: bool = False) -> list[str]:
    """Create or update `specs` in Airflow's metadata DB; return the stale govbus_ pools.

    Airflow's configuration comes from the environment (AIRFLOW_HOME, AIRFLOW_CONFIG,
    AIRFLOW__DATABASE__SQL_ALCHEMY_CONN), as for the `airflow` command.
    """
    from airflow.models.pool import Pool
    from sqlalchemy.exc import OperationalError, ProgrammingError

    try:
        for spec in specs:
            Pool.create_or_update_pool(
                name=spec.name, slots=spec.slots, description=spec.description, include_deferred=False
            )
        wanted = {s.name for s in specs}
        stale = [p.pool for p in Pool.get_pools() if p.pool.startswith(_PREFIX) and p.pool not in wanted]
        if prune:
            for name in stale:
                Pool.delete_pool(name)
    except (OperationalError, ProgrammingError) as exc:
        from airflow.configuration import conf

        raise _no_metadata_db(conf.get("database", "sql_alchemy_conn"), exc) from exc
    return sorted(stale)


def _no_metadata_db(url: str, exc: Exception) -> BadConfiguration | TransientError:
    from sqlalchemy.engine import make_url

    where = f"Airflow's metadata database {make_url(url).render_as_string(hide_password=True)}"
    if "slot_pool" in str(exc):  # the server answered, but Airflow's tables are not there
        return BadConfiguration("has no pool table", where=where, hint="run `airflow db migrate` first")
    return TransientError("cannot be reached", where=where, hint="check AIRFLOW__DATABASE__SQL_ALCHEMY_CONN")
