"""The state database's Alembic migrations match the models, on SQLite and PostgreSQL.

The first test is the guard: change a table in exchange/state/tables.py or consent/register/tables.py
without adding a revision in exchange/migrations/versions/ and it fails, naming the
difference.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

import consent
from audit import AUDIT_METADATA
from exchange import state
from exchange.cli.db import db_app
from exchange.state import migrate as schema_migrations
from govbus.errors import BadConfiguration, BadInput
from tests.conftest import postgres_schema, postgres_url


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An empty state database: a SQLite file, or a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        eng = state.make_engine(f"sqlite:///{tmp_path / 'state.db'}")
        yield eng
        eng.dispose()
        return
    with postgres_schema("govbus_mig") as schema:
        eng = sa.create_engine(postgres_url() or "", connect_args={"options": f"-csearch_path={schema}"})
        try:
            yield eng
        finally:
            eng.dispose()


def differences(engine: Engine, metadata: list[sa.MetaData] | None = None) -> list[Any]:
    """What `alembic revision --autogenerate` would put in a new revision."""
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"version_table": schema_migrations.VERSION_TABLE, "compare_type": True}
        )
        return compare_metadata(context, metadata or schema_migrations.target_metadata())


def create_all(engine: Engine) -> None:
    """How the state database was built before migrations."""
    state.METADATA.create_all(engine)
    consent.CONSENT_METADATA.create_all(engine)
    AUDIT_METADATA.create_all(engine)


def version_rows(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        rows = conn.execute(sa.text(f"SELECT version_num FROM {schema_migrations.VERSION_TABLE}"))
        return [row[0] for row in rows]


def test_upgraded_database_matches_the_models(engine: Engine) -> None:
    assert schema_migrations.upgrade(engine) == schema_migrations.head()
    assert differences(engine) == [], "a model changed without a migration: add a revision"
    schema_migrations.check(engine)
    with engine.connect() as conn:
        tables = set(sa.inspect(conn).get_table_names())
    models = {name for md in schema_migrations.target_metadata() for name in md.tables}
    assert tables == models | {schema_migrations.VERSION_TABLE}


def ddl(engine: Engine) -> dict[str, Any]:
    """The schema as the database itself describes it, for what autogenerate does not compare
    (SQLite's WITHOUT ROWID, server defaults, exact constraint and index definitions)."""
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            rows = conn.execute(
                sa.text(
                    "SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' "
                    f"AND tbl_name != '{schema_migrations.VERSION_TABLE}'"
                )
            )
            return {(kind, name): " ".join(sql.split()) if sql else None for kind, name, sql in rows}
        version = schema_migrations.VERSION_TABLE
        columns = conn.execute(
            sa.text(
                "SELECT table_name, column_name, data_type, character_maximum_length, is_nullable, "
                "column_default FROM information_schema.columns "
                f"WHERE table_schema = current_schema() AND table_name != '{version}'"
            )
        )
        indexes = conn.execute(
            sa.text(
                "SELECT indexname, indexdef FROM pg_indexes "
                f"WHERE schemaname = current_schema() AND tablename != '{version}'"
            )
        )
        constraints = conn.execute(
            sa.text(
                "SELECT c.conrelid::regclass::text, c.conname, pg_get_constraintdef(c.oid) "
                "FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace "
                f"WHERE n.nspname = current_schema() AND c.conrelid::regclass::text != '{version}'"
            )
        )
        return {
            "columns": sorted(tuple(map(str, row)) for row in columns),
            "indexes": sorted(tuple(row) for row in indexes),
            "constraints": sorted(tuple(row) for row in constraints),
        }


def test_upgraded_database_has_the_same_ddl_as_create_all(engine: Engine) -> None:
    schema_migrations.upgrade(engine)
    migrated = ddl(engine)
    with engine.begin() as conn:  # the same database, emptied, then built the old way
        for md in schema_migrations.target_metadata():
            md.drop_all(conn)
        conn.execute(sa.text(f"DROP TABLE {schema_migrations.VERSION_TABLE}"))
    create_all(engine)
    assert ddl(engine) == migrated


def test_the_comparison_notices_a_model_change(engine: Engine) -> None:
    """The guard above is not vacuous: a column added to a model shows up as a difference."""
    schema_migrations.upgrade(engine)
    changed = sa.MetaData()
    for md in schema_migrations.target_metadata():
        for table in md.tables.values():
            table.to_metadata(changed)
    changed.tables["runs"].append_column(sa.Column("attempt", sa.Integer, nullable=True))
    diffs = differences(engine, [changed])
    assert [(d[0], d[2], d[3].name) for d in diffs if d[0] == "add_column"] == [
        ("add_column", "runs", "attempt")
    ]


def test_upgrade_twice_changes_nothing(engine: Engine) -> None:
    schema_migrations.upgrade(engine)
    statements: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement.split()[0].upper())

    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        assert schema_migrations.upgrade(engine) == schema_migrations.head()
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)
    writes = {"CREATE", "ALTER", "DROP", "INSERT", "UPDATE", "DELETE"}
    assert statements and not writes & set(statements)
    assert version_rows(engine) == [schema_migrations.head()]


def legacy_database(engine: Engine) -> None:
    """A database as `create_all` built it before migrations existed: the baseline's
    schema (today's models have moved on, so `create_all` now would build more)."""
    with engine.begin() as conn:
        command.upgrade(schema_migrations.alembic_config(conn), schema_migrations.BASELINE_REVISION)
        conn.execute(sa.text(f"DROP TABLE {schema_migrations.VERSION_TABLE}"))


def test_a_create_all_database_is_adopted_in_place(engine: Engine) -> None:
    legacy_database(engine)
    now = datetime(2026, 1, 2, tzinfo=UTC)
    with engine.begin() as conn:
        conn.execute(sa.insert(state.cursors).values(dataset="tax.income", cursor={"v": 1}, updated_at=now))
    with pytest.raises(BadConfiguration, match="not under migration control") as info:
        schema_migrations.check(engine)
    assert "govbus db upgrade" in str(info.value)

    assert schema_migrations.upgrade(engine) == schema_migrations.head()
    assert version_rows(engine) == [schema_migrations.head()]
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(state.cursors)).scalar() == 1
    assert differences(engine) == []
    schema_migrations.check(engine)


def test_an_incomplete_pre_migration_database_is_refused(engine: Engine) -> None:
    old = sa.MetaData()
    sa.Table("stages", old, sa.Column("stage_id", sa.String(128), primary_key=True))
    old.create_all(engine)
    with pytest.raises(BadConfiguration, match="predates migrations") as info:
        schema_migrations.upgrade(engine)
    assert "stages.dataset" in str(info.value) and "ledger" in str(info.value)
    assert schema_migrations.current(engine) is None  # nothing stamped, nothing created
    with engine.connect() as conn:
        assert set(sa.inspect(conn).get_table_names()) == {"stages"}


def test_check_on_an_empty_database_says_to_upgrade(engine: Engine) -> None:
    with pytest.raises(BadConfiguration, match="has no tables yet") as info:
        schema_migrations.check(engine)
    assert info.value.hint and "govbus db upgrade" in info.value.hint


def test_a_database_at_an_unknown_revision_is_refused(engine: Engine) -> None:
    schema_migrations.upgrade(engine)
    with engine.begin() as conn:
        conn.execute(sa.text(f"UPDATE {schema_migrations.VERSION_TABLE} SET version_num = 'f00dcafe'"))
    with pytest.raises(BadConfiguration, match="unknown to this GovBus") as info:
        schema_migrations.check(engine)
    assert "f00dcafe" in str(info.value) and "govbus db upgrade" in str(info.value)
    with pytest.raises(BadConfiguration, match="unknown to this GovBus"):
        schema_migrations.upgrade(engine)
    assert version_rows(engine) == ["f00dcafe"]


CURRENT = schema_migrations.head()
NEXT = f"{int(CURRENT) + 1:04d}"
AFTER_NEXT = f"{int(CURRENT) + 2:04d}"
NEXT_REVISION = f"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "{NEXT}"
down_revision = "{CURRENT}"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("attempt", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("attempt")
"""


@pytest.fixture
def newer_govbus(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The migrations as a later GovBus would ship them: one more revision (NEXT)."""
    copy = tmp_path / "migrations"
    shutil.copytree(schema_migrations._MIGRATIONS, copy, ignore=shutil.ignore_patterns("__pycache__"))
    (copy / "versions" / f"{NEXT}_runs_attempt.py").write_text(NEXT_REVISION)
    monkeypatch.setattr(schema_migrations, "_MIGRATIONS", copy)
    schema_migrations._scripts.cache_clear()
    yield
    schema_migrations._scripts.cache_clear()


def test_a_database_behind_head_is_refused_until_upgraded(engine: Engine, newer_govbus: None) -> None:
    schema_migrations.upgrade(engine, CURRENT)
    assert schema_migrations.head() == NEXT
    with pytest.raises(BadConfiguration, match=f"at revision {CURRENT}, behind") as info:
        schema_migrations.check(engine)
    assert info.value.hint == "run `govbus db upgrade`"
    assert schema_migrations.upgrade(engine) == NEXT
    schema_migrations.check(engine)
    with engine.connect() as conn:
        columns = {c["name"] for c in sa.inspect(conn).get_columns("runs")}
    assert "attempt" in columns


def test_autogenerate_writes_the_next_revision(engine: Engine, newer_govbus: None) -> None:
    """NEXT added runs.attempt, which the models lack: autogenerate proposes dropping it."""
    path = schema_migrations.autogenerate_revision(engine, "drop attempt")
    assert path.name == f"{AFTER_NEXT}_drop_attempt.py"
    text = path.read_text()
    assert f"down_revision: str | Sequence[str] | None = '{NEXT}'" in text
    assert "batch_op.drop_column('attempt')" in text
    assert text.count("drop_column") == 1  # nothing else differs
    assert schema_migrations.head() == AFTER_NEXT
    assert schema_migrations.upgrade(engine) == AFTER_NEXT


def test_unknown_target_revision_is_bad_input(engine: Engine) -> None:
    with pytest.raises(BadInput, match="no such revision"):
        schema_migrations.upgrade(engine, "nope")
    assert schema_migrations.current(engine) is None


def test_workers_starting_at_once_upgrade_once(engine: Engine) -> None:
    results: list[str | None] = []
    errors: list[BaseException] = []

    def start() -> None:
        try:
            results.append(schema_migrations.upgrade(engine))
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert results == [schema_migrations.head()] * 4
    assert version_rows(engine) == [schema_migrations.head()]
    assert differences(engine) == []


def test_cli_upgrade_then_current(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOVBUS_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("GOVBUS_STATE_URL", raising=False)
    runner = CliRunner()
    first = runner.invoke(db_app, ["upgrade"])
    assert first.exit_code == 0, first.output
    assert f"from nothing to revision {schema_migrations.head()}" in first.output
    again = runner.invoke(db_app, ["upgrade"])
    assert f"already at revision {schema_migrations.head()}" in again.output
    shown = runner.invoke(db_app, ["current"])
    assert shown.exit_code == 0 and "up to date" in shown.output
    engine = state.make_engine(f"sqlite:///{tmp_path / 'home' / 'state.db'}")
    with engine.begin() as conn:
        conn.execute(sa.text(f"UPDATE {schema_migrations.VERSION_TABLE} SET version_num = 'f00dcafe'"))
    engine.dispose()
    stale = runner.invoke(db_app, ["current"])
    assert isinstance(stale.exception, BadConfiguration)
    assert "revision f00dcafe" in stale.output
