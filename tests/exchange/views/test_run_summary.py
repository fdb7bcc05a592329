"""The run summary's record: statuses, deliveries and CSV rows, from the runner's results."""

from __future__ import annotations

import json
from collections import Counter

from exchange.run.reports import DatasetRun, DeliverReport
from exchange.views.run_summary import RUN_CSV_COLUMNS, run_summary


def results() -> list[DatasetRun]:
    housing = DeliverReport(
        "housing.tax-income",
        batches=2,
        rows_delivered=90,
        rows_denied=10,
        denials=Counter({"no consent": 10}),
    )
    stats = DeliverReport("statistics.tax-income", batches=1, rows_delivered=100, load_rows=100)
    ended = DeliverReport("old.tax-income", skipped="ended")
    tax = DatasetRun(
        "tax.income",
        rows_read=105,
        rows_quarantined=5,
        deliveries={"housing.tax-income": housing, "statistics.tax-income": stats, "old.tax-income": ended},
        failures={"benefits.tax-income": "the sink is unreachable"},
        committed=0,
        sla_breaches=["volume: 105 rows, at least 200 promised"],
    )
    broken = DatasetRun("registry.residents", failures={"stage": "the export folder does not exist"})
    quiet = DatasetRun("health.disability", rows_read=3, committed=1)
    return [tax, broken, quiet]


def test_statuses_and_deliveries() -> None:
    summary = run_summary(results())
    assert summary.ok is False
    assert [(d.dataset, d.status) for d in summary.datasets] == [
        ("tax.income", "waiting"),
        ("registry.residents", "stage failed"),
        ("health.disability", "ok"),
    ]
    assert summary.datasets[1].failure == "the export folder does not exist"
    by_id = {s.subscription: s for s in summary.subscriptions}
    assert by_id["housing.tax-income"].denied_because == {"no consent": 10}
    assert by_id["statistics.tax-income"].initial_load_rows == 100
    assert by_id["old.tax-income"].status == "ended"
    assert (by_id["benefits.tax-income"].status, by_id["benefits.tax-income"].failure) == (
        "failed",
        "the sink is unreachable",
    )
    assert run_summary([results()[2]]).ok is True


def test_json_is_plain_and_in_the_documented_order() -> None:
    shaped = json.loads(json.dumps(run_summary(results()).to_json()))
    assert list(shaped) == ["ok", "datasets", "subscriptions"]
    assert shaped["datasets"][0]["sla_breaches"] == ["volume: 105 rows, at least 200 promised"]


def test_csv_rows_repeat_the_dataset_and_keep_datasets_without_deliveries() -> None:
    rows = run_summary(results()).csv_rows()
    assert all(set(row) <= set(RUN_CSV_COLUMNS) for row in rows)
    assert [(r["dataset"], r.get("subscription")) for r in rows] == [
        ("tax.income", "housing.tax-income"),
        ("tax.income", "statistics.tax-income"),
        ("tax.income", "old.tax-income"),
        ("tax.income", "benefits.tax-income"),
        ("registry.residents", None),
        ("health.disability", None),
    ]
    assert rows[0]["denied_because"] == ["no consent 10"] and rows[0]["dataset_status"] == "waiting"
    assert rows[4]["failure"] == "the export folder does not exist"
