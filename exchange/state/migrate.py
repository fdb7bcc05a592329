"""The state database's schema version: upgrade it, read it, refuse to run on a wrong one.

The schema is changed only by Alembic revisions in `exchange/migrations/versions/`,
never by `create_all`. `upgrade` is safe to call on every start (it does nothing on an
up-to-date database and takes one cheap read to find that out) and safe when several
workers start at once: it runs under a migration lock (a transaction-scoped advisory
lock on PostgreSQL, `BEGIN IMMEDIATE` on SQLite, `GET_LOCK` on MySQL/MariaDB) and looks
again at the version once it holds the lock.

A database built by `create_all` before migrations existed has no version table;
`upgrade` recognises it (every table and column of the baseline revision is there) and
stamps it at the baseline instead of creating tables that already exist.

When the models change, add a revision (see docs/deployment-state.md); the test
`tests/exchange/state/test_migrations.py` fails until the revision matches the models.
"""

from __future__ import annotations

import ast
import functools
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

import audit
import consent
from exchange.state import tables as state
from govbus.errors import BadConfiguration, BadInput

if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

VERSION_TABLE = "govbus_schema_version"
BASELINE_REVISION = "0001"
UPGRADE_HINT = "run `govbus db upgrade`"
_MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# A fixed key for pg_advisory_xact_lock: "govbus schema migration".
_PG_LOCK_KEY = 0x676F766275730001


def target_metadata() -> list[sa.MetaData]:
    """Every table the state database holds: the exchange's, the consent and the audit part's."""
    return [state.METADATA, consent.CONSENT_METADATA, audit.AUDIT_METADATA]


def alembic_config(connection: Connection | None = None) -> Config:
    """Alembic's configuration, built in code (there is no alembic.ini)."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    config.set_main_option("version_locations", str(_MIGRATIONS / "versions"))
    config.attributes["connection"] = connection
    return config


@functools.cache
def _scripts() -> ScriptDirectory:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config())


# Start-up: every command that opens the bus asks "is the database at head?". Answering
# it through Alembic imports Alembic and every revision module (a quarter of a second);
# the revision files' own `revision` / `down_revision` lines and one SELECT answer it
# without either. Anything these light readers cannot settle (a file they cannot read, a
# branch, no version row) falls back to Alembic, which also names the problem.
_REVISION_LINE = re.compile(r"^(revision|down_revision)\b[^=\n]*=\s*(.+?)\s*$", re.MULTILINE)


@functools.cache
def _revisions_in_files(versions: Path) -> dict[str, tuple[str, ...]] | None:
    """Revision -> the revisions it follows, read off `versions/*.py`; None if one is unclear."""
    graph: dict[str, tuple[str, ...]] = {}
    for path in sorted(versions.glob("*.py")):
        if path.name == "__init__.py":
            continue
        found = dict(m.groups() for m in _REVISION_LINE.finditer(path.read_text(encoding="utf-8")))
        try:
            revision = ast.literal_eval(found["revision"])
            down = ast.literal_eval(found["down_revision"])
        except (KeyError, ValueError, SyntaxError):
            return None
        downs = () if down is None else (down,) if isinstance(down, str) else tuple(down)
        if not isinstance(revision, str) or not all(isinstance(d, str) for d in downs):
            return None
        graph[revision] = downs
    return graph or None


def _light_head() -> str | None:
    """The single head of the revision files, or None (Alembic decides)."""
    graph = _revisions_in_files(_MIGRATIONS / "versions")
    if graph is None:
        return None
    heads = set(graph) - {down for downs in graph.values() for down in downs}
    return heads.pop() if len(heads) == 1 else None


def head() -> str:
    """The revision this GovBus expects the state database to be at."""
    light = _light_head()
    if light is not None:
        return light
    heads = _scripts().get_heads()
    if len(heads) != 1:
        raise BadConfiguration(
            f"the migrations have {len(heads)} heads, expected one",
            where=str(_MIGRATIONS / "versions"),
            hint="merge the branches with `alembic merge` before releasing",
        )
    return heads[0]


def current(engine: Engine) -> str | None:
    """The state database's revision; None when it has none (empty, or built by create_all)."""
    with engine.connect() as conn:
        return _current(conn)


def _current(conn: Connection) -> str | None:
    if not sa.inspect(conn).has_table(VERSION_TABLE):
        return None
    rows = conn.execute(sa.text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars().all()
    if len(rows) == 1:
        return str(rows[0])
    from alembic.migration import MigrationContext  # none or several rows: Alembic's answer

    context = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE})
    return context.get_current_revision()


def check(engine: Engine) -> None:
    """Raise `BadConfiguration` unless the state database is exactly at `head()`."""
    where = _where(engine)
    with engine.connect() as conn:
        revision = _current(conn)
        if revision is None:
            state = "is not under migration control" if _existing_tables(conn) else "has no tables yet"
            raise BadConfiguration(f"the state database {state}", where=where, hint=UPGRADE_HINT)
    expected = head()
    if revision == expected:
        return
    if not _is_known(revision):
        raise _ahead(revision, where)
    raise BadConfiguration(
        f"the state database is at revision {revision}, behind this GovBus (which expects {expected})",
        where=where,
        hint=UPGRADE_HINT,
    )


def _is_known(revision: str) -> bool:
    from alembic.util import CommandError

    try:
        _scripts().get_revision(revision)
    except CommandError:
        return False
    return True


def _ahead(revision: str, where: str) -> BadConfiguration:
    return BadConfiguration(
        f"the state database is at revision {revision}, unknown to this GovBus "
        f"(which expects {head()}): a newer GovBus has upgraded it",
        where=where,
        hint="run the newer GovBus, or restore the backup taken before its `govbus db upgrade`",
    )


def upgrade(engine: Engine, revision: str = "head") -> str | None:
    """Bring the state database to `revision` (default: the newest); return where it is now.

    Idempotent and safe under concurrent callers. A pre-migration database (built by
    `create_all`) is stamped at the baseline first; an incomplete one is refused with a
    `BadConfiguration`, since guessing which revision it matches could lose data.
    """
    with _known(revision):
        target = head() if revision == "head" else _scripts().get_revision(revision).revision
    with engine.connect() as conn:  # Alembic is imported only below, when there is work to do
        if _current(conn) == target:  # the common case: no lock, no write
            return target
    with _migration_lock(engine) as conn, _known(revision):
        now = _current(conn)
        if now is not None and not _is_known(now):
            raise _ahead(now, _where(engine))
        if now is None and _existing_tables(conn):
            _adopt_legacy(conn, _where(engine))
        from alembic import command

        command.upgrade(alembic_config(conn), revision)
        after = _current(conn)
    return after


def stamp(engine: Engine, revision: str) -> None:
    """Record `revision` without running anything (for operators who fixed a schema by hand)."""
    with _known(revision):
        _scripts().get_revision(revision)
    from alembic import command

    with _migration_lock(engine) as conn:
        command.stamp(alembic_config(conn), revision)


@contextmanager
def _known(revision: str) -> Iterator[None]:
    """Turn Alembic's complaint about a revision id into a `BadInput`."""
    try:
        yield
    except Exception as exc:
        from alembic.util import CommandError  # only now: the block may not have needed Alembic

        if not isinstance(exc, CommandError):
            raise
        raise BadInput(
            f"no such revision of the state database: {revision}",
            where=str(_MIGRATIONS / "versions"),
            hint="run `govbus db current` to see the revisions this GovBus knows",
        ) from exc


def autogenerate_revision(engine: Engine, message: str) -> Path:
    """Write the next revision (`versions/NNNN_<message>.py`) from the models' differences.

    For developers after changing a model: `engine` is a scratch database, upgraded to
    head first, that autogenerate compares with the models. Review the file before use.
    """
    from alembic import command

    upgrade(engine)
    number = f"{int(head()) + 1:04d}" if head().isdigit() else None
    with engine.begin() as conn:
        script = command.revision(alembic_config(conn), message=message, autogenerate=True, rev_id=number)
    if script is None or isinstance(script, list):
        raise BadConfiguration("Alembic wrote no single revision", where=str(_MIGRATIONS / "versions"))
    _scripts.cache_clear()
    _revisions_in_files.cache_clear()
    return Path(script.path)


def _where(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=True)


def _existing_tables(conn: Connection) -> set[str]:
    """Which of GovBus's tables (those of the models) the database already has."""
    ours = {name for metadata in target_metadata() for name in metadata.tables}
    return ours & set(sa.inspect(conn).get_table_names())


def _adopt_legacy(conn: Connection, where: str) -> None:
    """Stamp a create_all database at the baseline if it has all of the baseline's columns."""
    inspector = sa.inspect(conn)
    present = set(inspector.get_table_names())
    missing: list[str] = []
    for table, columns in sorted(_baseline_columns().items()):
        if table not in present:
            missing.append(table)
            continue
        have = {column["name"] for column in inspector.get_columns(table)}
        missing.extend(f"{table}.{column}" for column in sorted(columns - have))
    if missing:
        raise BadConfiguration(
            "the state database predates migrations and lacks part of the first migrated "
            f"schema ({', '.join(missing)}), so it cannot be adopted safely",
            where=where,
            hint="back it up, then add what is missing by hand and run `govbus db stamp "
            f"{BASELINE_REVISION}` and `govbus db upgrade`, or start a new state database",
        )
    from alembic import command

    command.stamp(alembic_config(conn), BASELINE_REVISION)


@functools.cache
def _baseline_columns() -> dict[str, frozenset[str]]:
    """Table -> column names of the baseline revision, read off a scratch in-memory database."""
    from alembic import command

    scratch = sa.create_engine("sqlite://")
    try:
        with scratch.begin() as conn:
            command.upgrade(alembic_config(conn), BASELINE_REVISION)
            inspector = sa.inspect(conn)
            return {
                table: frozenset(column["name"] for column in inspector.get_columns(table))
                for table in inspector.get_table_names()
                if table != VERSION_TABLE
            }
    finally:
        scratch.dispose()


@contextmanager
def _migration_lock(engine: Engine) -> Iterator[Connection]:
    """A connection in a transaction that only one migrator at a time can hold.

    The DDL runs in that transaction: on PostgreSQL (transactional DDL) and SQLite a
    failed migration leaves nothing half done.
    """
    backend = engine.url.get_backend_name()
    with engine.connect() as conn:
        if backend == "sqlite":
            # pysqlite would not BEGIN before DDL on its own; IMMEDIATE takes the write lock
            # now, so a second migrator waits (busy timeout) instead of racing.
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        elif backend == "postgresql":
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})
        elif backend in ("mysql", "mariadb"):
            conn.execute(sa.text("SELECT GET_LOCK('govbus:schema-migration', 600)"))
        try:
            yield conn
            conn.commit()
        except BaseException:
            conn.rollback()
            raise
        finally:
            if backend in ("mysql", "mariadb"):
                conn.execute(sa.text("SELECT RELEASE_LOCK('govbus:schema-migration')"))
