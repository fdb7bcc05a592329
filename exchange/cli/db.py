"""`govbus db ...`: the state database's schema (Alembic migrations).

`upgrade` is what an operator runs after installing a new GovBus (workers also upgrade
on start, but in production it is better done once, deliberately, after a backup);
`current` says where the database is and whether it is behind. The state room
(SQLAlchemy, Alembic) is imported when a command runs, not by `govbus --help`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated

import typer

from exchange.cli.common import console, settings_from_env
from govbus.errors import TransientError

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

__all__ = ["console", "db_app"]

db_app = typer.Typer(
    help="The state database's schema: upgrade it after installing a new GovBus.",
    no_args_is_help=True,
)


@contextmanager
def _state_engine() -> Iterator[Engine]:
    """The state database's engine, disposed at the end; unreachable is transient (75)."""
    from sqlalchemy.exc import OperationalError

    from exchange import state

    settings = settings_from_env()
    settings.home.mkdir(parents=True, exist_ok=True)  # the default SQLite file lives there
    engine = state.make_engine(settings.state_url)
    try:
        yield engine
    except OperationalError as exc:
        raise TransientError(
            "cannot open the state database",
            where=engine.url.render_as_string(hide_password=True),
            hint="check GOVBUS_STATE_URL and that the database is running",
        ) from exc
    finally:
        engine.dispose()


@db_app.command("upgrade")
def db_upgrade(
    revision: Annotated[str, typer.Argument(help="Target revision; the newest by default.")] = "head",
) -> None:
    """Apply pending migrations (a database built before migrations is adopted in place)."""
    from exchange.state import migrate as schema_migrations

    with _state_engine() as engine:
        before = schema_migrations.current(engine)
        after = schema_migrations.upgrade(engine, revision)
    if before == after:
        console.print(f"[green]✓[/] state database already at revision {after}", highlight=False)
    else:
        console.print(
            f"[green]✓[/] state database upgraded from {before or 'nothing'} to revision {after}",
            highlight=False,
        )


@db_app.command("current")
def db_current() -> None:
    """The state database's revision and whether it matches this GovBus (exit 78 if not)."""
    from exchange.state import migrate as schema_migrations

    with _state_engine() as engine:
        revision = schema_migrations.current(engine)
        console.print(
            f"state database: revision {revision or 'none'}; this GovBus expects {schema_migrations.head()}",
            highlight=False,
        )
        schema_migrations.check(engine)
    console.print("[green]✓[/] up to date", highlight=False)


@db_app.command("stamp")
def db_stamp(
    revision: Annotated[str, typer.Argument(help="The revision the schema already matches.")],
) -> None:
    """Record a revision without running it (only after fixing a schema by hand)."""
    from exchange.state import migrate as schema_migrations

    with _state_engine() as engine:
        schema_migrations.stamp(engine, revision)
    console.print(f"[green]✓[/] state database stamped at revision {revision}", highlight=False)
