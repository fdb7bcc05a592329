"""`govbus` starts without loading the bus: the CLI module imports only typer, rich and the stdlib.

Every command, `--help` included, imports `exchange.cli.main` and with it every command
module. Importing pandas, pyarrow, SQLAlchemy, Great Expectations and the parts up front
cost about 5 s of CPU per command; each command now imports what it needs when it runs.
These tests check which modules are loaded, never how long it takes (bench/
cli_startup_bench.py measures that).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from exchange.cli.demo import SAMPLE_SERVED_DATASET
from exchange.cli.quarantine import STATUSES
from tests.conftest import CATALOG, REPO
from tests.exchange.cli.loaded_modules import run_cli

HEAVY = (
    "pandas",
    "great_expectations",
    "pyarrow",
    "sqlalchemy",
    "airflow",
    "consent",
    "audit",
    "contracts",
    "schemas",
    "connectors",
    "exchange.bus",
)
# Rooms of exchange/ a command loads when it runs, never at start-up.
ROOMS = ("exchange.state", "exchange.catalog", "exchange.demo", "exchange.portal", "exchange.run")

LOADED = """
import json, sys
{prelude}
import exchange.cli.main
print(json.dumps(sorted(sys.modules)))
"""

# Stands in for exchange/__init__.py (which re-exports Bus, so imports the whole bus):
# what the command line's own modules import, whatever the package's face does.
EMPTY_EXCHANGE = (
    "import types; m = types.ModuleType('exchange'); m.__path__ = ['exchange']; sys.modules['exchange'] = m"
)

GROUPS = ("catalog", "quarantine", "report", "audit", "airflow", "contract", "db", "consent", "keys")
COMMANDS = ("verify-delivery", "portal", "discover", "check", "run", "status", "demo")


def _loaded(prelude: str = "") -> set[str]:
    done = subprocess.run(
        [sys.executable, "-c", LOADED.format(prelude=prelude)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return set(json.loads(done.stdout))


def _heavy(modules: set[str]) -> list[str]:
    return sorted(
        name for name in modules for heavy in HEAVY + ROOMS if name == heavy or name.startswith(heavy + ".")
    )


def test_the_command_modules_import_nothing_heavy():
    assert _heavy(_loaded(EMPTY_EXCHANGE)) == []


def test_importing_the_command_line_loads_no_heavy_module():
    assert _heavy(_loaded()) == []


def test_help_lists_every_command_and_group():
    done = subprocess.run(
        [sys.executable, "-m", "exchange.cli", "--help"],
        cwd=REPO,
        env={**os.environ, "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    listed = {line.strip("│ ").split(" ")[0] for line in done.stdout.splitlines()}
    assert set(GROUPS + COMMANDS) <= listed, done.stdout


def test_constants_spelled_in_the_command_line_match_their_rooms():
    from exchange.demo import health
    from exchange.quarantine import store

    assert store.STATUSES == STATUSES
    assert health.DATASET == SAMPLE_SERVED_DATASET


# -- what a command loads when it runs ------------------------------------------------------

# Libraries of other commands (the portal, migrations, SFTP and REST connectors, the GX
# export, OpenDP, Airflow, OpenLineage, Prometheus): an everyday command loads none of them.
# pandas is not listed: the catalog's contract lint dry-runs each expectation on an empty
# table through pyarrow, whose conversion of a Python constant imports pandas.
OTHER_COMMANDS = (
    "fastapi",
    "starlette",
    "jinja2",
    "alembic",
    "paramiko",
    "httpx",
    "great_expectations",
    "opendp",
    "airflow",
    "openlineage",
    "prometheus_client",
)


def _loaded_by(runs: object, tmp_path: Path, home: Path) -> set[str]:
    return run_cli(runs, catalog=CATALOG, home=home, out=tmp_path / "loaded.json").modules


def _of(modules: set[str], names: tuple[str, ...]) -> list[str]:
    return sorted({m.split(".")[0] for m in modules if m.split(".")[0] in names})


def test_every_help_loads_no_part_and_no_heavy_library(tmp_path: Path) -> None:
    loaded = _loaded_by("every --help", tmp_path, tmp_path / "home")
    assert _heavy(loaded) == []
    assert _of(loaded, OTHER_COMMANDS) == []
    assert not (tmp_path / "home").exists()  # asking for help creates nothing


@pytest.fixture(scope="module")
def migrated_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A GovBus home on the sample catalog whose state database is already migrated."""
    tmp = tmp_path_factory.mktemp("startup")
    loaded = _loaded_by([["status"]], tmp, tmp / "home")
    assert "alembic" in _of(loaded, OTHER_COMMANDS)  # the first command migrated: Alembic's work
    return tmp / "home"


@pytest.mark.parametrize(
    "argv",
    [
        ["status"],
        ["catalog", "list"],
        ["subscription", "list"],
        ["quarantine", "list"],
        ["audit", "verify"],
        ["check"],
    ],
    ids=" ".join,
)
def test_an_everyday_command_loads_only_what_it_uses(
    argv: list[str], migrated_home: Path, tmp_path: Path
) -> None:
    loaded = _loaded_by([argv], tmp_path, migrated_home)
    assert _of(loaded, OTHER_COMMANDS) == []
    # Connectors are imported by kind when the bus makes a source or sink, never all kinds.
    assert not any(m.startswith(("connectors.sftp", "connectors.rest")) for m in loaded)
