"""`govbus audit verify` on a real deployment fails (exit 1, one clear line each) on every rollback.

The sample deployment is run twice (two runs, so two checkpoints), then a copy of its
state database is rolled back the ways someone without the signing key can.
tests/audit/test_rollbacks.py has each kind on every database and in bundles; here the
command, its exit code and its words.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

import audit.ledger.chain as chain
from exchange import Bus, Settings
from exchange.cli.main import app
from exchange.demo import deployment as demo
from govbus.instants import utc_now
from tests.conftest import CATALOG

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("rollbacks") / "home"
    env = {"GOVBUS_HOME": str(home), "GOVBUS_CATALOG": str(CATALOG), "GOVBUS_BATCH_SIZE": "500"}
    bus = Bus.open(Settings.from_env(env))
    try:
        demo.seed(bus, rows=600)
        with demo.agency_systems(bus):
            assert all(r.ok for r in bus.run())
            demo.change_some(bus)
            assert all(r.ok for r in bus.run())
    finally:
        bus.close()
    return home


@pytest.fixture
def rolled_back(
    deployment: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Callable[..., tuple[int, str]]:
    """Roll a copy of the deployment back with SQL statements, then `govbus audit verify` it."""
    home = tmp_path / "home"
    shutil.copytree(deployment, home)
    monkeypatch.setenv("GOVBUS_HOME", str(home))
    monkeypatch.setenv("GOVBUS_CATALOG", str(CATALOG))
    monkeypatch.setenv("COLUMNS", "300")

    def verify(*statements: str) -> tuple[int, str]:
        engine = sa.create_engine(f"sqlite:///{home / 'state.db'}")
        try:
            with engine.begin() as conn:
                for statement in statements:
                    conn.execute(sa.text(statement))
        finally:
            engine.dispose()
        result = CliRunner().invoke(app, ["audit", "verify"])
        return result.exit_code, result.output

    return verify


def _sizes(home: Path) -> tuple[int, int]:
    engine = sa.create_engine(f"sqlite:///{home / 'state.db'}")
    try:
        with engine.connect() as conn:
            sizes = (
                conn.execute(sa.text("SELECT tree_size FROM ledger_checkpoints ORDER BY number"))
                .scalars()
                .all()
            )
    finally:
        engine.dispose()
    assert len(sizes) == 2 and sizes[0] < sizes[1], sizes
    return sizes[0], sizes[1]


def test_an_intact_deployment_verifies(rolled_back: Callable[..., tuple[int, str]]) -> None:
    code, out = rolled_back()
    assert code == 0 and "ledger intact" in out, out


def test_the_second_checkpoint_overwritten_with_the_firsts_signed_head(
    rolled_back: Callable[..., tuple[int, str]],
) -> None:
    code, out = rolled_back(
        "UPDATE ledger_checkpoints SET (tree_size, root, at, key_id, signature) = "
        "(SELECT tree_size, root, at, key_id, signature FROM ledger_checkpoints WHERE number = 1) "
        "WHERE number = 2"
    )
    assert code == 1 and "checkpoint 2: repeats the signed head of checkpoint 1" in out, out
    assert "ledger NOT intact" in out


def test_the_second_run_deleted_with_every_checkpoint_and_tile(
    rolled_back: Callable[..., tuple[int, str]], deployment: Path
) -> None:
    first, _ = _sizes(deployment)
    code, out = rolled_back(
        f"DELETE FROM ledger WHERE seq > {first}",
        "DELETE FROM ledger_checkpoints",
        "DELETE FROM ledger_tiles",
    )
    assert code == 1, out
    assert "but no checkpoint, though every run ends with one" in out
    assert (
        f"ends at entry {first} (entries removed from the end: rolled back?)" in out
    )  # the deliveries say so too


def test_the_same_with_the_delivery_records_deleted_too(
    rolled_back: Callable[..., tuple[int, str]], deployment: Path
) -> None:
    first, _ = _sizes(deployment)
    code, out = rolled_back(
        f"DELETE FROM ledger WHERE seq > {first}",
        f"DELETE FROM deliveries WHERE ledger_seq > {first}",
        "DELETE FROM ledger_checkpoints",
        "DELETE FROM ledger_tiles",
    )
    assert code == 1 and "but no checkpoint, though every run ends with one" in out, out


def test_the_newest_checkpoint_deleted_is_caught_once_no_run_could_still_be_signing(
    rolled_back: Callable[..., tuple[int, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert rolled_back("DELETE FROM ledger_checkpoints WHERE number = 2")[0] == 0  # a run may be on its way
    later = utc_now() + timedelta(hours=25)
    monkeypatch.setattr(chain, "utc_now", lambda: later)
    code, out = rolled_back()
    assert code == 1 and "not covered by the newest checkpoint (#1" in out, out
    assert os.environ["GOVBUS_HOME"] not in out  # one clear line per problem, no paths or data
