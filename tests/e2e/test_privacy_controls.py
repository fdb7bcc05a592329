"""Measured risk as a gate: `govbus privacy risk`, an approval and `govbus check` refuse above the policy."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from exchange import Bus
from exchange.demo import deployment as demo
from exchange.subscriptions import decisions, requests
from govbus.errors import BadInput
from tests.conftest import CATALOG, REPO

ROWS = 20_000  # the sample's size (the figures of docs/privacy.md)


@pytest.fixture
def ran(govbus_home: Path, monkeypatch: pytest.MonkeyPatch) -> Bus:
    """The sample (SQLite state, one batch per run) seeded and run once: the snapshot holds data."""
    monkeypatch.setenv("GOVBUS_BATCH_SIZE", "50000")
    bus = Bus.open()
    demo.seed(bus, rows=ROWS)
    (result,) = bus.run(["tax.income"])
    assert result.ok, result.failures
    yield bus
    bus.close()


def govbus(*args: str, catalog: Path = CATALOG) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "exchange.cli", *args],
        env={**os.environ, "GOVBUS_CATALOG": str(catalog), "COLUMNS": "300"},
        cwd=REPO, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip


def test_privacy_risk_reports_uniques_classes_and_linkage(ran: Bus) -> None:
    out = govbus("privacy", "risk", "statistics.tax-income", "--format", "json")
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["uniques"] == 0 and report["smallest_class"] >= 5 and report["refused"] == []
    assert report["quasi_identifiers"] == [
        "tax_year", "municipality_code", "filing_status", "gross_income", "taxable_income", "tax_due",
    ]  # fmt: skip
    benefits = next(item for item in report["linkage"] if item["other"] == "benefits.tax-income")
    assert benefits["singled_out"] == 0 and len(benefits["fields"]) == 6
    # Benefits itself has no policy: its copy is unique on the same fields, and says so.
    raw = json.loads(govbus("privacy", "risk", "benefits.tax-income", "--format", "json").stdout)
    assert raw["policy"] is None and raw["uniques"] > 0.9 * raw["rows"]
    assert raw["coarsen"]  # the fields to generalize first


def _request(bus: Bus, sub_id: str, fields: tuple[str, ...], *, pseudonymize: bool) -> None:
    spec = requests.RequestSpec(
        agency="statistics",
        dataset="tax.income",
        purpose="OFFICIAL_STATISTICS",
        statute="STAT-7",
        fields=fields,
        sink={"connector": "parquet", "directory": f"${{GOVBUS_HOME}}/agencies/statistics/inbox/{sub_id}"},
        id=sub_id,
        pseudonymize_subject=pseudonymize,
        requested_by="a.analyst",
    )
    requests.submit(bus, spec)


def test_an_approval_above_the_purposes_threshold_is_refused_naming_what_to_change(ran: Bus) -> None:
    every = ("tax_year", "municipality_code", "filing_status", "gross_income", "taxable_income", "tax_due")
    _request(ran, "statistics.panel", every, pseudonymize=True)
    with pytest.raises(BadInput) as refused:
        decisions.decide(
            ran, "statistics.panel", decision="approve", role="owner", agency="tax", by="t", reason="ok"
        )
    message = str(refused.value)
    assert "approval refused" in message and "subject_pseudonym" in message and "persons" in message
    _request(
        ran, "statistics.regional", ("tax_year", "municipality_code", "gross_income"), pseudonymize=False
    )
    done = decisions.decide(
        ran, "statistics.regional", decision="approve", role="owner", agency="tax", by="t", reason="ok"
    )
    assert done.status == "approved"


def test_check_refuses_a_subscription_whose_rows_would_single_people_out(ran: Bus, tmp_path: Path) -> None:
    catalog = tmp_path / "catalog"
    shutil.copytree(CATALOG, catalog)
    # Exact amounts for Statistics: no generalization of its own, the purpose's bands dropped too.
    subs = catalog / "subscriptions" / "statistics.yaml"
    text = subs.read_text()
    start = text.index("    disclosure:\n")
    subs.write_text(text[:start] + "    disclosure: {generalize: {}}\n" + text[text.index("    sink:\n") :])
    purposes = catalog / "purposes.yaml"
    text = purposes.read_text()
    purposes.write_text(text[: text.index("      generalize:\n")] + text[text.index("  - code: HOUSING") :])
    out = govbus("check", catalog=catalog)
    assert out.returncode == 1, out.stdout + out.stderr
    refusal = next(line for line in out.stderr.splitlines() if "statistics.tax-income: disclosure" in line)
    assert "reaching k=5 suppresses" in refusal and "coarsen" in refusal and "gross_income" in refusal
    # The special-category warning: disability_degree is tagged health but classified personal.
    assert "fields.disability_degree: tagged health" in out.stderr
    assert govbus("check").returncode == 0  # the sample as it is passes


def test_an_aggregate_subscription_spends_its_budget_and_is_refused_once_spent(
    govbus_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Noisy counts and sums per year and status (OpenDP), 0.5 epsilon per batch of a budget of 1."""
    catalog = tmp_path / "catalog"
    shutil.copytree(CATALOG, catalog)
    (catalog / "subscriptions" / "totals.yaml").write_text(
        """agency: statistics
subscriptions:
  - id: statistics.totals
    dataset: tax.income
    purpose: OFFICIAL_STATISTICS
    basis: {statute: STAT-7}
    fields: [tax_year, filing_status, gross_income]
    disclosure:
      aggregate:
        group_by: [tax_year, filing_status]
        domains: {tax_year: [2021, 2022, 2023, 2024]}
        sums: {gross_income: [0, 200000]}
        epsilon: 0.5
      budget: 1.0
    sink: {connector: parquet, directory: "${GOVBUS_HOME}/agencies/statistics/inbox/totals"}
"""
    )
    monkeypatch.setenv("GOVBUS_CATALOG", str(catalog))
    monkeypatch.setenv("GOVBUS_BATCH_SIZE", "50000")
    bus = Bus.open()
    try:
        demo.seed(bus, rows=2_000)
        for round_no in range(3):
            if round_no:
                demo.change_some(bus)
            (result,) = bus.run(["tax.income"])
            if round_no < 2:
                report = result.deliveries["statistics.totals"]
                assert result.ok and report.rows_delivered == 16  # 4 years x 4 statuses, every one
            else:
                assert "statistics.totals" in result.failures
                assert "privacy budget of statistics for OFFICIAL_STATISTICS is spent" in str(
                    result.failures["statistics.totals"]
                )
        with bus.engine.connect() as conn:
            spends = [e.payload for e in bus.ledger.entries(conn) if e.kind == "privacy.budget-spent"]
        assert [s["spent"] for s in spends] == [0.5, 1.0]
        budget = govbus("privacy", "budget", "--format", "json", catalog=catalog)
        assert json.loads(budget.stdout)["budgets"] == [
            {"recipient": "statistics", "purpose": "OFFICIAL_STATISTICS", "spent": 1.0, "budget": 1.0}
        ]
        files = list((govbus_home / "agencies" / "statistics" / "inbox" / "totals").glob("*.parquet"))
        assert (
            len(files) == 2
            and "national_id" not in __import__("pyarrow.parquet").parquet.read_schema(files[0]).names
        )
    finally:
        bus.close()
