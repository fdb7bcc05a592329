"""Consent hygiene: `show` says EXPIRED, `explain` names the missing fields, a useless grant warns."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pytest
from typer.testing import CliRunner

from consent import RECEIPT_SCHEMA
from exchange.cli import consent as cli_consent
from exchange.cli import main as cli

ALICE = "12345678901"
SCOPE = ["--recipient", "housing", "--dataset", "tax.income", "--purpose", "HOUSING_ALLOWANCE"]
FULL = "return_id,national_id,tax_year,gross_income,taxable_income,updated_at"
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@pytest.fixture
def runner(govbus_home: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setattr(cli_consent.console, "width", 250)
    monkeypatch.setattr(cli_consent.err_console, "width", 250)
    return CliRunner()


def run(runner: CliRunner, *args: str) -> str:
    result = runner.invoke(cli.app, list(args))
    assert result.exit_code == 0, (result.output, result.exception)
    return result.output


def test_a_consent_no_subscription_can_use_warns_and_explain_names_the_missing_fields(
    runner: CliRunner,
) -> None:
    out = run(
        runner, "consent", "grant", ALICE, *SCOPE, "--fields", "gross_income,tax_year", "--method", "web-form"
    )
    assert "no subscription can use this consent" in out and "housing.tax-income asks for" in out
    quiet = run(runner, "consent", "grant", ALICE, *SCOPE, "--fields", FULL, "--method", "web-form")
    assert "no subscription can use" not in quiet
    narrow = UUID.search(out).group(0)
    explained = run(runner, "consent", "explain", ALICE, "tax.income", "housing")
    line = next(x for x in explained.splitlines() if narrow in x)
    assert "does not cover return_id, national_id, taxable_income, updated_at" in line
    assert "no collection method" in run(runner, "consent", "grant", ALICE, *SCOPE, "--fields", FULL)


def test_show_says_expired_and_the_receipt_records_the_expiry_as_an_event(
    runner: CliRunner, tmp_path: Path
) -> None:
    out = run(
        runner, "consent", "grant", ALICE, *SCOPE, "--fields", FULL, "--method", "paper-form",
        "--valid-from", "2020-01-01", "--valid-until", "2021-12-31",
    )  # fmt: skip
    consent_id = UUID.search(out).group(0)
    shown = run(runner, "consent", "show", ALICE, "--history")
    status = next(x for x in shown.splitlines() if x.strip().startswith("status"))
    assert "EXPIRED" in status and "ACTIVE" not in status
    assert "v2 expired" in shown
    receipt = tmp_path / "receipt.json"
    run(runner, "consent", "receipt", consent_id, "--out", str(receipt))
    document = json.loads(receipt.read_text())
    assert [e.message for e in jsonschema.Draft202012Validator(RECEIPT_SCHEMA).iter_errors(document)] == []
    record = document["consentRecord"]
    assert record["status"] == "EXPIRED" and record["events"][-1]["event"] == "expired"
    # Given (2020) before it expired (end of 2021), though recorded now.
    assert record["givenAt"].startswith("2020-01-01") and record["recordedAt"] > record["validUntil"]
    controller = document["piiControllers"][0]
    assert controller["piiController"] == "Tax Authority" and controller["email"] == "privacy@tax.gov.example"
    assert document["jurisdiction"].startswith("XX") and record["notice"]["url"].endswith(
        "/housing-allowance"
    )
    assert "is authentic" in run(runner, "consent", "verify-receipt", str(receipt))
