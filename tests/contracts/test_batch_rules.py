"""Batch-level rules: the row-count expectation, the SLA's volume and freshness over a
run, and the linter's view of the date expectations."""

from __future__ import annotations

import dataclasses
import datetime as dt
import shutil
from pathlib import Path

import pyarrow as pa
import pytest
import yaml

from contracts import Expectation, SlaTracker, evaluate, lint_contract, load_contract, validate

SAMPLE = Path(__file__).parents[2] / "catalog/datasets/tax.income"
UTC = dt.UTC
NOW = dt.datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def test_row_count_is_a_batch_verdict_that_flags_no_row() -> None:
    table = pa.table({"a": list(range(5))})
    rule = Expectation("expect_table_row_count_to_be_between", {"min_value": 6})
    (result,) = evaluate(table, [rule])
    assert (result.success, result.observed_value, result.unexpected_count) == (False, 5, 0)
    strict = Expectation(
        "expect_table_row_count_to_be_between", {"min_value": 1, "max_value": 5, "strict_max": True}
    )
    assert evaluate(table, [strict])[0].success is False
    loose = Expectation("expect_table_row_count_to_be_between", {"max_value": 5})
    assert evaluate(table, [loose])[0].success is True


def _contract(tmp_path: Path, **sla: object) -> Path:
    folder = tmp_path / "tax.income"
    shutil.copytree(SAMPLE, folder)
    doc = yaml.safe_load((folder / "contract.yaml").read_text(encoding="utf-8"))
    doc["sla"] = sla
    doc["expectations"].append({"type": "expect_table_row_count_to_be_between", "kwargs": {"max_value": 100}})
    (folder / "contract.yaml").write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return folder / "contract.yaml"


def test_a_row_count_rule_in_a_contract_lints_and_adds_no_row_issue(tmp_path: Path) -> None:
    contract = load_contract(_contract(tmp_path, freshness="P2D"))
    only = dataclasses.replace(contract, expectations=contract.expectations[-1:])
    table = pa.table({"return_id": ["R1"] * 200})
    assert validate(table, only).num_rows == 0  # its verdict is the batch's, not a row's
    assert evaluate(table, only.expectations)[0].success is False


def _batch(*times: dt.datetime | None) -> pa.Table:
    return pa.table({"updated_at": pa.array(times, pa.timestamp("us", tz="UTC"))})


def test_sla_tracker_judges_volume_and_freshness_over_the_whole_run(tmp_path: Path) -> None:
    contract = load_contract(
        _contract(tmp_path, freshness="P2D", volume={"min_rows": 3, "max_rows": 4}, on_breach="fail")
    )
    tracker = SlaTracker(contract)
    tracker.observe(_batch(dt.datetime(2026, 3, 7, tzinfo=UTC), None))
    tracker.observe(_batch(dt.datetime(2026, 3, 9, 6, tzinfo=UTC)))
    results = {r.rule: r for r in tracker.results(NOW)}
    assert results["volume"].ok and not results["volume"].fails_run
    assert results["freshness"].ok, results["freshness"].message  # newest is 1d6h old
    assert "1d6h0m old, allowed P2D" in results["freshness"].message

    stale = SlaTracker(contract)
    stale.observe(_batch(dt.datetime(2026, 3, 1, tzinfo=UTC)))
    results = {r.rule: r for r in stale.results(NOW)}
    assert not results["volume"].ok and results["volume"].fails_run
    assert "1 row(s) in the run, expected within [3, 4]" == results["volume"].message
    assert not results["freshness"].ok and results["freshness"].fails_run


def test_a_quiet_run_judges_freshness_on_the_last_known_value(tmp_path: Path) -> None:
    contract = load_contract(_contract(tmp_path, freshness="PT6H"))  # on_breach: warn
    quiet = SlaTracker(contract)
    quiet.observe(_batch())
    (unknown,) = quiet.results(NOW)
    assert unknown.ok and "unknown" in unknown.message
    (late,) = quiet.results(NOW, last_known=dt.datetime(2026, 3, 10, 1, 0))  # zone-less: UTC
    assert not late.ok and not late.fails_run  # warn only
    (fresh,) = quiet.results(NOW, last_known=dt.datetime(2026, 3, 10, 8, 0, tzinfo=UTC))
    assert fresh.ok


@pytest.mark.parametrize(
    ("fmt", "message"),
    [
        ("%Y-%j", "uses %j"),
        ("%d %d", "directive twice"),
        ("%Y %", "a lone %"),
        ("", "non-empty"),
    ],
)
def test_the_linter_refuses_strftime_formats_it_cannot_match_exactly(
    fmt: str, message: str, tmp_path: Path
) -> None:
    path = _contract(tmp_path)
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    doc["expectations"].append(
        {
            "type": "expect_column_values_to_match_strftime_format",
            "kwargs": {"column": "return_id", "strftime_format": fmt},
        }
    )
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    problems = lint_contract(path)
    assert any(message in p.message and p.field.endswith("strftime_format") for p in problems), problems


def test_date_text_rules_refuse_a_non_text_column_like_gx(tmp_path: Path) -> None:
    path = _contract(tmp_path)
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    doc["expectations"].append(
        {"type": "expect_column_values_to_be_dateutil_parseable", "kwargs": {"column": "updated_at"}}
    )
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    (problem,) = lint_contract(path)
    assert "cannot run on these column types" in problem.message
