"""`govbus quarantine show | replay | discard`: masking, logged reveals, replay after a
contract fix delivering the row exactly once, discards kept for audit."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from exchange import Bus
from exchange.cli.main import app
from tests.e2e.helpers import benefits_rows
from tests.exchange.quarantine.support import (
    Sources,
    edit_contract,
    ledger_entries,
    quarantined,
    resident_row,
    small_catalog,
    tax_row,
)

runner = CliRunner(env={"COLUMNS": "200"})
SECRET_ID = "98765432101"  # the personal value the masked views must not show
INCOME = "4321.99"


@pytest.fixture
def catalog(govbus_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = small_catalog(tmp_path)
    monkeypatch.setenv("GOVBUS_CATALOG", str(root))
    (govbus_home / "agencies" / "benefits").mkdir(parents=True)
    return root


@pytest.fixture
def sources() -> Sources:
    return Sources()


@pytest.fixture
def staged(catalog: Path, state_url: str | None, sources: Sources, monkeypatch) -> Iterator[Bus]:
    """A bus that has run tax.income once: R1 delivered, R2 quarantined (filing status WIDOWED)."""
    bus = Bus.open()
    sources.feed(
        "tax.income",
        [tax_row(1), tax_row(2, national_id=SECRET_ID, filing_status="WIDOWED", gross_income=INCOME)],
    )
    sources.attach(bus, monkeypatch)
    [result] = bus.run(["tax.income"])
    assert result.ok and result.rows_quarantined == 1
    yield bus
    bus.close()


def invoke(*args: str) -> object:
    return runner.invoke(app, list(args), catch_exceptions=False)


def test_show_masks_personal_fields_and_keeps_the_rest(staged):
    [row] = quarantined(staged)
    shown = invoke("quarantine", "show", str(row.id))
    assert shown.exit_code == 0, shown.output
    assert "R000000002" in shown.output  # return_id is internal
    assert "WIDOWED" not in shown.output  # filing_status is personal
    assert SECRET_ID not in shown.output and INCOME not in shown.output
    assert "filing_status: expect_column_values_to_be_in_set" in shown.output
    assert ledger_entries(staged, "quarantine-view") == []  # looking masked is not logged


def test_list_masks_a_personal_key(catalog, state_url, sources, monkeypatch):
    bus = Bus.open()
    sources.feed("registry.residents", [resident_row(SECRET_ID, household_size=99)])
    sources.attach(bus, monkeypatch)
    try:
        bus.stage("registry.residents")
    finally:
        bus.close()
    listed = invoke("quarantine", "list", "--dataset", "registry.residents")
    assert "household_size" in listed.output and "•••" in listed.output
    assert SECRET_ID not in listed.output


def test_reveal_needs_a_reason_and_is_logged_without_values(staged):
    [row] = quarantined(staged)
    refused = runner.invoke(app, ["quarantine", "show", str(row.id), "--reveal"])
    assert refused.exit_code != 0 and "needs a reason" in str(refused.exception)
    assert ledger_entries(staged, "quarantine-view") == []

    shown = invoke(
        "quarantine", "show", "--dataset", "tax.income", "--reveal", "--reason", "ticket 42", "--as", "alice"
    )

    assert shown.exit_code == 0, shown.output
    assert SECRET_ID in shown.output and "WIDOWED" in shown.output
    [entry] = ledger_entries(staged, "quarantine-view")
    assert entry.payload == {
        "viewer": "alice",
        "reason": "ticket 42",
        "datasets": ["tax.income"],
        "quarantine_ids": [row.id],
        "fields": [
            "filing_status",
            "gross_income",
            "national_id",
            "postal_code",
            "tax_due",
            "taxable_income",
        ],
    }
    assert SECRET_ID not in json.dumps(entry.payload) and "WIDOWED" not in json.dumps(entry.payload)


def test_show_filters_by_rule_and_status(staged):
    assert "R000000002" in invoke("quarantine", "show", "--dataset", "tax.income", "--rule", "in_set").output
    none = invoke("quarantine", "show", "--dataset", "tax.income", "--rule", "match_regex")
    assert "No quarantined row matches" in none.output
    assert (
        "R000000002"
        not in invoke("quarantine", "show", "--dataset", "tax.income", "--status", "replayed").output
    )


def test_replay_after_a_contract_fix_delivers_the_row_exactly_once(catalog, staged, sources, monkeypatch):
    assert [r["return_id"] for r in benefits_rows(Path(staged.settings.home))] == ["R000000001"]
    [row] = quarantined(staged)

    still = invoke("quarantine", "replay", "tax.income", "--as", "bob")  # the contract is not fixed yet
    assert "No row passes" in still.output and "still quarantined" in still.output
    assert quarantined(staged)[0].status == "open"

    def allow_widowed(doc):
        for e in doc["expectations"]:
            if e["kwargs"].get("column") == "filing_status":
                e["kwargs"]["value_set"].append("WIDOWED")

    edit_contract(catalog, "tax.income", allow_widowed)
    replayed = invoke("quarantine", "replay", "tax.income", "--as", "bob")
    assert replayed.exit_code == 0, replayed.output
    assert "1 row(s) re-staged" in replayed.output
    again = invoke("quarantine", "replay", "tax.income")  # nothing open any more
    assert "No open quarantined row of tax.income" in again.output

    fixed = Bus.open()
    sources.attach(fixed, monkeypatch)
    try:
        [run] = fixed.run(["tax.income"])
        [run_again] = fixed.run(["tax.income"])
    finally:
        fixed.close()
    assert run.ok and run.deliveries["benefits.tax-income"].rows_delivered == 1
    assert run_again.deliveries["benefits.tax-income"].rows_delivered == 0
    delivered = sorted(r["return_id"] for r in benefits_rows(Path(staged.settings.home)))
    assert delivered == ["R000000001", "R000000002"]

    [row] = quarantined(staged)
    attempts = ledger_entries(staged, "quarantine-replay")
    assert [e.payload["replayed"] for e in attempts] == [[], [row.id]]
    assert attempts[0].payload["still_quarantined"] == [row.id] and attempts[1].payload["by"] == "bob"
    assert (row.status, row.ledger_seq, row.resolved_stage_id) == (
        "replayed",
        attempts[1].seq,
        attempts[1].payload["stage_id"],
    )
    deliveries = [
        e
        for e in ledger_entries(staged, "delivery")
        if e.payload["batch_id"].startswith(row.resolved_stage_id)
    ]
    assert [e.payload["rows_delivered"] for e in deliveries] == [1]
    assert SECRET_ID not in json.dumps([e.payload for e in attempts])


def test_replay_keeps_failing_rows_open_with_their_new_reasons(catalog, staged, sources, monkeypatch):
    def allow_widowed_but_cap_income(doc):
        for e in doc["expectations"]:
            if e["kwargs"].get("column") == "filing_status":
                e["kwargs"]["value_set"].append("WIDOWED")
            if e["kwargs"].get("column") == "gross_income" and "max_value" in e["kwargs"]:
                e["kwargs"]["max_value"] = 4000

    edit_contract(catalog, "tax.income", allow_widowed_but_cap_income)
    result = invoke("quarantine", "replay", "tax.income")
    assert "1 row(s) still quarantined" in result.output
    [row] = quarantined(staged)
    assert row.status == "open"
    assert row.reasons == ["gross_income: expect_column_values_to_be_between(min_value=0, max_value=4000)"]


def test_discard_keeps_the_row_for_audit_and_out_of_counts(staged):
    [row] = quarantined(staged)
    refused = runner.invoke(app, ["quarantine", "discard", str(row.id)])
    assert refused.exit_code != 0

    done = invoke("quarantine", "discard", str(row.id), "--reason", "duplicate filing", "--as", "carol")

    assert done.exit_code == 0, done.output
    [row] = quarantined(staged)
    [entry] = ledger_entries(staged, "quarantine-discard")
    assert row.status == "discarded" and row.ledger_seq == entry.seq
    assert entry.payload == {
        "by": "carol",
        "reason": "duplicate filing",
        "datasets": ["tax.income"],
        "quarantine_ids": [row.id],
    }
    assert "0 open quarantined row(s)" in invoke("quarantine", "list").output
    again = runner.invoke(app, ["quarantine", "discard", str(row.id), "--reason", "again"])
    assert again.exit_code != 0 and "only open rows" in str(again.exception)
    replay = invoke("quarantine", "replay", "tax.income")
    assert "No open quarantined row" in replay.output and quarantined(staged)[0].status == "discarded"


def test_unknown_ids_are_named(staged):
    result = runner.invoke(app, ["quarantine", "show", "999999"])
    assert result.exit_code != 0 and "no quarantined row with id 999999" in str(result.exception)
