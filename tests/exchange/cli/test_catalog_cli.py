"""`govbus catalog list | show`: tables, JSON and CSV of the catalog, filters, errors, piped width."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

import pytest
from typer.testing import CliRunner

from exchange import Bus
from exchange.catalog import load_catalog
from exchange.cli.main import app
from exchange.demo import deployment as demo
from exchange.views.catalog_entries import CSV_COLUMNS, catalog_entries
from tests.conftest import CATALOG, REPO

runner = CliRunner(env={"COLUMNS": "200"})
IDS = ["health.disability", "registry.residents", "tax.income"]


def invoke(*args: str):  # type: ignore[no-untyped-def]
    result = runner.invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def govbus(*args: str, columns: str = "200") -> subprocess.CompletedProcess[str]:
    """The command as a user pipes it: a subprocess whose output is not a terminal."""
    return subprocess.run(
        [sys.executable, "-m", "exchange.cli", *args],
        env={**os.environ, "COLUMNS": columns},
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_list_shows_every_dataset_without_opening_a_state_database(govbus_home: Path):
    out = invoke("catalog", "list")
    for dataset_id in IDS:
        assert dataset_id in out
    assert "OFFICIAL_STATISTICS" in out and "unknown" in out  # purposes; freshness without state
    assert not (govbus_home / "state.db").exists(), "reading the catalog must not create a state database"


def test_list_as_json_is_the_documented_shape(govbus_home: Path):
    shaped = json.loads(invoke("catalog", "list", "--format", "json"))
    assert [e["id"] for e in shaped] == IDS
    assert shaped == json.loads(json.dumps([asdict(e) for e in catalog_entries(load_catalog(CATALOG))]))


def test_list_as_csv_has_a_header_and_one_row_per_dataset(govbus_home: Path):
    out = invoke("catalog", "list", "--format", "csv")
    rows = list(csv.reader(io.StringIO(out)))
    assert tuple(rows[0]) == CSV_COLUMNS and [r[0] for r in rows[1:]] == IDS
    tax = dict(zip(CSV_COLUMNS, rows[3], strict=True))
    assert tax["owner_name"] == "Tax Authority" and tax["legal_bases"] == "SBA-12;STAT-7"
    assert tax["subscribers"] == "3" and tax["consent_access"] == "true" and tax["sla_freshness"] == "P2D"


@pytest.mark.parametrize(
    ("option", "value", "expected"),
    [
        ("--owner", "health", ["health.disability"]),
        ("--tag", "financial", ["registry.residents", "tax.income"]),
        ("--purpose", "HOUSING_ALLOWANCE", ["tax.income"]),
        ("--search", "household", ["registry.residents"]),
        ("--search", "no such words", []),
    ],
)
def test_list_filters(govbus_home: Path, option: str, value: str, expected: list[str]):
    shaped = json.loads(invoke("catalog", "list", option, value, "--format", "json"))
    assert [e["id"] for e in shaped] == expected
    table = invoke("catalog", "list", option, value)
    assert ("No dataset matches." in table) == (not expected)


def test_show_prints_types_rules_purposes_and_legal_bases(govbus_home: Path):
    out = invoke("catalog", "show", "tax.income")
    for text in (
        "Tax Authority (tax)",
        "decimal(14,2)",
        "string?",  # postal_code may be empty
        "timestamp-micros",
        "The filer's national identification number (11 digits).",
        "filing_status is one of SINGLE, JOINT, SEPARATE, HEAD_OF_HOUSEHOLD",
        "gross_income is between 0 and 100000000",
        "Official Statistics Act, section 7",
        "Producing official statistics; no decision is taken about any person.",
        "fresh within P2D",
    ):
        assert text in out, text
    shaped = json.loads(invoke("catalog", "show", "health.disability", "--format", "json"))
    assert shaped["id"] == "health.disability" and shaped["legal_bases"] == []
    assert shaped["owner"] == {"id": "health", "name": "Health Ministry"}


def test_unknown_dataset_and_unknown_filters_exit_with_their_codes(govbus_home: Path):
    missing = govbus("catalog", "show", "tax.incom")
    assert missing.returncode == 78  # BadConfiguration
    assert "unknown dataset 'tax.incom'" in missing.stderr
    assert "known: health.disability, registry.residents, tax.income" in missing.stderr
    typo = govbus("catalog", "list", "--owner", "taxes")
    assert typo.returncode == 65  # BadInput
    assert "no owner 'taxes'" in typo.stderr and "known: benefits, health" in typo.stderr


def test_piped_output_is_not_cut_at_80_columns(govbus_home: Path):
    listed = govbus("catalog", "list", columns="80")
    assert listed.returncode == 0, listed.stderr
    assert "Disability assessments by the Ministry's medical boards, one row per assessment." in listed.stdout
    assert "BENEFIT_ELIGIBILITY, HOUSING_ALLOWANCE, OFFICIAL_STATISTICS" in listed.stdout
    shown = govbus("catalog", "show", "tax.income", columns="80")
    assert shown.returncode == 0, shown.stderr
    for text in (
        "filing_status is one of SINGLE, JOINT, SEPARATE, HEAD_OF_HOUSEHOLD",
        "return_id, national_id, tax_year, filing_status, municipality_code, gross_income, taxable_income",
        "Lets agencies entitled by statute or consent check a person's assessed income.",
    ):
        assert text in shown.stdout, text
    as_json = govbus("catalog", "show", "tax.income", "--format", "json", columns="80")
    assert json.loads(as_json.stdout)["id"] == "tax.income"


def test_freshness_and_subscribers_come_from_the_bus_when_there_is_a_state_database(govbus_home: Path):
    bus = Bus.open()
    try:
        demo.seed(bus, rows=300)
        (result,) = bus.run(["tax.income"])
        assert result.ok
    finally:
        bus.close()
    shaped = {e["id"]: e for e in json.loads(invoke("catalog", "list", "--format", "json"))}
    assert shaped["tax.income"]["freshness"]["status"] == "fresh"
    assert shaped["tax.income"]["freshness"]["last_committed_at"].endswith("Z")
    assert shaped["registry.residents"]["freshness"] == {"status": "never", "last_committed_at": None}
    assert "fresh (last commit" in invoke("catalog", "show", "tax.income")
