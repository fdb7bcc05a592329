"""Each stage writes a validation report (GX JSON + HTML) with counts only, never a value."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from exchange import Bus
from exchange.cli.main import app
from tests.exchange.quarantine.support import Sources, edit_contract, tax_row

runner = CliRunner(env={"COLUMNS": "200"})
# Bad values seeded into the source: none may appear in a report.
BAD = {
    "national_id": "7654321",
    "gross_income": "-777.77",
    "filing_status": "UNKNOWN_ZZ",
    "municipality_code": "X3O1",
    "tax_year": 1899,
}


def _seed(bus: Bus, monkeypatch: pytest.MonkeyPatch) -> Sources:
    sources = Sources()
    good = [tax_row(n) for n in range(1, 16)]
    bad = [tax_row(100 + i, **{field: value}) for i, (field, value) in enumerate(BAD.items())]
    bad.append(tax_row(200, gross_income="12x45.00"))  # not a number: a conform problem
    sources.feed("tax.income", good[:8] + bad[:3], good[8:] + bad[3:] + [tax_row(3)])  # R3 twice
    sources.attach(bus, monkeypatch)
    return sources


def test_a_stage_writes_a_gx_validation_result_and_a_page_without_values(bus, monkeypatch, govbus_home):
    from great_expectations.core.expectation_validation_result import ExpectationSuiteValidationResultSchema

    _seed(bus, monkeypatch)
    report = bus.stage("tax.income")

    folder = govbus_home / "reports" / "tax.income"
    page, data = folder / f"{report.stage_id}.html", folder / f"{report.stage_id}.json"
    assert page.is_file() and data.is_file()
    result = json.loads(data.read_text(encoding="utf-8"))
    loaded = ExpectationSuiteValidationResultSchema().load(result)
    assert loaded.success is False and loaded.suite_name == "tax.income@1.0.0"
    counts = {r["meta"]["govbus"]["reason"]: r["result"] for r in result["results"]}
    regex = counts["national_id: expect_column_values_to_match_regex(regex='^[0-9]{11}$')"]
    assert (regex["element_count"], regex["unexpected_count"]) == (22, 1)
    assert regex["unexpected_percent"] == pytest.approx(100 / 22)
    unique = counts["return_id: expect_column_values_to_be_unique()"]
    assert unique["unexpected_count"] == 1  # the repeat of R3 in the second batch
    between = counts["gross_income: expect_column_values_to_be_between(min_value=0, max_value=100000000)"]
    assert between["unexpected_count"] == 1 and between["missing_count"] == 1  # "12x45.00" became null
    extra = result["meta"]["govbus"]
    assert (
        (extra["rows_read"], extra["rows_quarantined"])
        == (report.rows_read, report.rows_quarantined)
        == (22, 7)
    )
    assert extra["conform_issues"] == [{"reason": "gross_income: cannot convert to decimal(14,2)", "rows": 1}]
    assert [s["rule"] for s in extra["sla"]] == ["volume", "freshness"]

    for path in (page, data):
        text = path.read_text(encoding="utf-8")
        for value in [*map(str, BAD.values()), "12x45.00", "R000000100", "R000000003"]:
            assert value not in text, f"{value} leaked into {path.name}"
        assert "unexpected_list" not in text and "unexpected_index" not in text
    html = page.read_text(encoding="utf-8")
    assert "expect_column_values_to_be_in_set" in html and "not met" in html


def test_report_validation_prints_the_newest_run_or_the_one_asked(bus, monkeypatch, govbus_home):
    sources = _seed(bus, monkeypatch)
    first = bus.stage("tax.income")
    sources.feed("tax.income", [tax_row(500)])
    second = bus.stage("tax.income")

    newest = runner.invoke(app, ["report", "validation", "tax.income"], catch_exceptions=False)
    assert newest.exit_code == 0, newest.output
    assert f"{second.stage_id}.html" in newest.output and "8 of 8 expectations met" in newest.output
    older = runner.invoke(app, ["report", "validation", "tax.income", "--run", first.stage_id])
    assert f"{first.stage_id}.json" in older.output and "not met" in older.output
    assert "1 row(s) read" not in older.output and "22 row(s) read, 7 quarantined" in older.output
    hostile = runner.invoke(app, ["report", "validation", "tax.income", "--run", "../../etc/passwd"])
    assert hostile.exit_code != 0 and "a run id is a stage id" in str(hostile.exception)
    missing = runner.invoke(app, ["report", "validation", "registry.residents"])
    assert missing.exit_code != 0 and "no validation report" in str(missing.exception)


def test_a_run_that_breaks_its_sla_still_gets_its_report(catalog, state_url, monkeypatch, govbus_home):
    def strict_volume(doc):
        doc["sla"] = {"volume": {"min_rows": 100}, "on_breach": "fail"}

    edit_contract(catalog, "tax.income", strict_volume)
    bus = Bus.open()
    sources = Sources()
    sources.feed("tax.income", [tax_row(1)])
    sources.attach(bus, monkeypatch)
    try:
        with pytest.raises(Exception, match="volume"):
            bus.stage("tax.income")
    finally:
        bus.close()
    [data] = (govbus_home / "reports" / "tax.income").glob("*.json")
    [volume] = json.loads(data.read_text(encoding="utf-8"))["meta"]["govbus"]["sla"]
    assert (volume["ok"], volume["fails_run"]) == (False, True)
