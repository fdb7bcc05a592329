"""`govbus report validation`: the verdict counts the unmet expectations before "not met".

It printed "9 of 11 expectations not met" for a run in which 2 of 11 failed (the count of
met ones before "not met"). These tests read reports with a known number of unmet
expectations, as written by hand in GX's shape and as a real stage writes them.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from exchange.cli.main import app
from exchange.cli.report import verdict

runner = CliRunner(env={"COLUMNS": "200"})
PLAIN = re.compile(r"\[/?[a-z]*\]")  # Rich markup, for comparing the words


def report(met: int, unmet: int) -> dict:
    """A validation report as `write_validation_report` writes it, counts only."""
    results = [
        {
            "success": index >= unmet,
            "expectation_config": {"type": "expect_column_values_to_not_be_null", "kwargs": {}},
            "result": {
                "element_count": 10,
                "unexpected_count": 0 if index >= unmet else 3,
                "unexpected_percent": 0.0,
            },
            "meta": {"govbus": {"reason": f"field_{index}: expect_column_values_to_not_be_null()"}},
        }
        for index in range(met + unmet)
    ]
    return {
        "success": unmet == 0,
        "suite_name": "tax.income@1.0.0",
        "statistics": {
            "evaluated_expectations": met + unmet,
            "successful_expectations": met,
            "unsuccessful_expectations": unmet,
            "success_percent": 100 * met / (met + unmet),
        },
        "results": results,
        "meta": {
            "govbus": {
                "run": "tax.income.000007.abcdef",
                "dataset": "tax.income",
                "rows_read": 10,
                "rows_quarantined": 3,
            }
        },
    }


@pytest.mark.parametrize(
    ("met", "unmet", "words"),
    [
        (9, 2, "2 of 11 expectations not met (9 met)"),
        (2, 9, "9 of 11 expectations not met (2 met)"),
        (0, 1, "1 of 1 expectations not met (0 met)"),
        (11, 0, "11 of 11 expectations met"),
    ],
)
def test_the_verdict_counts_the_unmet_ones(met: int, unmet: int, words: str) -> None:
    assert PLAIN.sub("", verdict(report(met, unmet))) == words


def test_the_command_prints_the_verdict_the_table_shows(govbus_home: Path) -> None:
    folder = govbus_home / "reports" / "tax.income"
    folder.mkdir(parents=True)
    (folder / "tax.income.000007.abcdef.json").write_text(json.dumps(report(9, 2)), encoding="utf-8")
    done = runner.invoke(app, ["report", "validation", "tax.income"], catch_exceptions=False)
    assert done.exit_code == 0, done.output
    assert "2 of 11 expectations not met (9 met)" in done.output
    assert "9 of 11 expectations not met" not in done.output
    assert done.output.count("NOT MET") == 2


def test_a_real_stage_report_agrees_with_its_table(bus, monkeypatch, govbus_home) -> None:  # type: ignore[no-untyped-def]
    from tests.exchange.quarantine.support import Sources, tax_row

    sources = Sources()
    bad = [tax_row(100, national_id="7654321"), tax_row(101, gross_income="-1.00")]
    sources.feed("tax.income", [tax_row(n) for n in range(1, 6)] + bad)
    sources.attach(bus, monkeypatch)
    bus.stage("tax.income")
    done = runner.invoke(app, ["report", "validation", "tax.income"], catch_exceptions=False)
    unmet = done.output.count("NOT MET")
    total = len(
        json.loads(next((govbus_home / "reports" / "tax.income").glob("*.json")).read_text())["results"]
    )
    assert unmet == 2, done.output
    assert f"{unmet} of {total} expectations not met ({total - unmet} met)" in done.output
