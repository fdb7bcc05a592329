"""`govbus subscription …`, `backfill`, `cursor reset` and `check` as an agency and an owner use them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from exchange import Bus
from exchange.cli.main import app
from exchange.demo import deployment as demo
from tests.conftest import CATALOG
from tests.e2e.catalog_variants import use_pre_disclosure_catalog

# This test is about the command line, on the sample as it was before disclosure control (approvals
# of small samples are refused by the purpose's thresholds now: tests/e2e/test_privacy_controls.py).
_before_disclosure = pytest.fixture(autouse=True, name="_before_disclosure")(use_pre_disclosure_catalog)

REQUEST = [
    "subscription", "request", "tax.income", "--agency", "statistics", "--purpose", "OFFICIAL_STATISTICS",
    "--statute", "STAT-7", "--fields", "tax_year,municipality_code,gross_income", "--pseudonymize",
    "--sink", "connector=parquet", "--sink", "directory=${GOVBUS_HOME}/agencies/statistics/inbox/regional",
    "--id", "statistics.regional", "--as", "a.analyst",
]  # fmt: skip


def _cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        code = getattr(result.exception, "exit_code", 1)
        return code, result.output + str(result.exception)
    return result.exit_code, result.output


@pytest.fixture
def seeded(govbus_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("COLUMNS", "200")  # tables as wide as their cells
    bus = Bus.open()
    demo.seed(bus, rows=500)
    (result,) = bus.run(["tax.income"])
    assert result.ok
    bus.close()
    return govbus_home


def test_the_journey_at_the_command_line(seeded: Path, tmp_path: Path) -> None:
    code, out = _cli(*REQUEST)
    assert code == 0 and "it needs the approval of: owner (owner: tax)" in out
    code, out = _cli("subscription", "list", "--format", "json")
    rows = {r["id"]: r for r in json.loads(out)}
    assert rows["statistics.regional"]["state"] == "requested"
    assert (
        rows["benefits.tax-income"]["origin"] == "catalog"
        and rows["benefits.tax-income"]["state"] == "active"
    )
    code, out = _cli("subscription", "approve", "statistics.regional", "--agency", "statistics")
    assert code == 65 and "only the dataset's owner (tax)" in out
    code, out = _cli("subscription", "approve", "statistics.regional", "--agency", "tax", "--as", "head")
    assert code == 0 and "request statistics.regional is approved" in out
    code, out = _cli("check")
    assert code == 0 and "1 subscription(s) approved at run time: statistics.regional" in out
    code, out = _cli("run", "tax.income")
    assert code == 0 and "initial load" in out
    code, out = _cli("subscription", "show", "statistics.regional", "--format", "json")
    detail = json.loads(out)
    assert detail["state"] == "active" and detail["initial_load"]["delivered_at"]
    assert detail["rows_delivered"] == detail["initial_load"]["rows"] > 0
    assert [d["decision"] for d in detail["decisions"]] == ["approve"]
    code, out = _cli("status")
    assert "approved request" in out
    export = tmp_path / "statistics.yaml"
    code, out = _cli("subscription", "export", "--agency", "statistics", "--out", str(export))
    assert code == 0 and "id: statistics.regional" in export.read_text()
    # The export is a valid subscription file: the catalog with it checks, and the file wins.
    catalog = tmp_path / "catalog"
    shutil.copytree(CATALOG, catalog)
    (catalog / "subscriptions" / "statistics-requested.yaml").write_text(export.read_text())
    from exchange.catalog import check_catalog

    assert check_catalog(catalog) == []


def test_backfill_and_cursor_reset_commands(seeded: Path) -> None:
    code, out = _cli("backfill", "tax.income", "--subscription", "housing.tax-income")
    assert code == 0
    code, out = _cli("run", "tax.income")
    assert code == 0 and "initial load" in out
    code, out = _cli("backfill", "tax.income", "--subscription", "benefits.residents")
    assert code == 65 and "is not a subscription to tax.income" in out
    code, out = _cli("cursor", "reset", "tax.income", "--reason", "amounts fixed in place")
    assert code == 0 and "reads from the start" in out
    code, out = _cli("audit", "verify")
    assert code == 0, out


def test_a_lapsed_statute_ends_its_subscription_and_purges(seeded: Path, tmp_path: Path, monkeypatch) -> None:
    catalog = tmp_path / "catalog"
    shutil.copytree(CATALOG, catalog)
    bases = catalog / "legal-bases.yaml"
    text = bases.read_text().replace(
        "    valid_from: 2018-01-01\n", "    valid_from: 2018-01-01\n    valid_until: 2020-01-01\n"
    )
    bases.write_text(text)
    monkeypatch.setenv("GOVBUS_CATALOG", str(catalog))
    _, out = _cli("run", "tax.income")
    assert "statistics.tax-income" in out and "ended" in out
    assert "statute STAT-7 has lapsed: 1 purge(s) issued" in out
    _, out = _cli("subscription", "show", "statistics.tax-income", "--format", "json")
    assert json.loads(out)["state"] == "ended" and "STAT-7 lapsed" in json.loads(out)["reason"]
