"""Whole DAG runs under `airflow dags test`: data moves, Asset and OpenLineage events, freshness."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa

from exchange import Bus
from exchange.demo import deployment as demo
from tests.dags.conftest import AIRFLOW, run
from tests.e2e.helpers import benefits_rows, source_rows, statistics_files

RECIPIENTS = ["benefits", "housing", "statistics"]


def _seed(rows: int = 800) -> None:
    bus = Bus.open()
    demo.seed(bus, rows=rows)
    bus.close()


def _airflow_rows(env: dict[str, str], sql: str) -> list[tuple]:
    engine = sa.create_engine(env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(sa.text(sql))]
    finally:
        engine.dispose()


def _task_states(env: dict[str, str]) -> dict[str, str]:
    rows = _airflow_rows(
        env, "SELECT task_id, rendered_map_index, state FROM task_instance WHERE dag_id = 'tax.income'"
    )
    return {f"{task}[{index}]" if index else task: state for task, index, state in rows}


@pytest.mark.slow
def test_dags_test_moves_data_emits_an_asset_event_per_recipient_and_lineage(
    airflow_db, govbus_home, tmp_path
):
    _seed()
    events = tmp_path / "openlineage.jsonl"
    env = {
        **airflow_db,
        "AIRFLOW__OPENLINEAGE__DISABLED": "False",
        "AIRFLOW__OPENLINEAGE__NAMESPACE": "govbus-test",
        # openlineage-python's file transport; append: one event per line in one file.
        "AIRFLOW__OPENLINEAGE__TRANSPORT": json.dumps(
            {"type": "file", "log_file_path": str(events), "append": True}
        ),
    }
    run([AIRFLOW, "dags", "test", "tax.income"], env)

    # The run really moved data: every subscriber got its rows, and the stage committed.
    assert len(benefits_rows(govbus_home)) > 700
    assert statistics_files(govbus_home)
    bus = Bus.open()
    with bus.engine.connect() as conn:
        statuses = conn.execute(sa.text("SELECT status FROM stages")).scalars().all()
    bus.close()
    assert statuses == ["committed"]

    # One mapped deliver instance per subscription, each named by it in the UI.
    states = _task_states(env)
    assert states == {
        "apply_params": "success",  # a run without params: nothing to apply
        "stage": "success",
        "deliver[benefits.tax-income]": "success",
        "deliver[housing.tax-income]": "success",
        "deliver[statistics.tax-income]": "success",
        "requested": "success",
        "deliver_requested": "skipped",  # no request approved: no instance, and no failure
        "commit": "success",
        "freshness": "success",
    }
    # Each delivery emitted its own recipient's Asset event (subscriber DAGs run on these).
    asset_events = _airflow_rows(
        env, "SELECT a.uri, e.extra FROM asset_event e JOIN asset a ON a.id = e.asset_id ORDER BY a.uri"
    )
    # ...and the commit emitted the dataset's own Asset (`after:` schedules run on it).
    assert [uri for uri, _ in asset_events] == ["govbus://tax.income/"] + [
        f"govbus://tax.income/{r}" for r in RECIPIENTS
    ]
    extras = {uri: json.loads(extra) for uri, extra in asset_events}
    assert extras["govbus://tax.income/"] == {"stages": 1}
    assert extras["govbus://tax.income/benefits"]["subscription"] == "benefits.tax-income"
    assert extras["govbus://tax.income/benefits"]["rows_delivered"] == len(benefits_rows(govbus_home))

    # OpenLineage, through Airflow's provider: inputs, outputs and the govbus run facet.
    text = events.read_text()
    lines = [json.loads(line) for line in text.splitlines() if line.strip()]
    # The steps' events; the tasks around them (apply_params, requested) read and write no data.
    around = [e for e in lines if e["job"]["name"] in ("tax.income.apply_params", "tax.income.requested")]
    assert around and all(not e.get("inputs") and not e.get("outputs") for e in around)
    tasks = [e for e in lines if e["job"]["name"].startswith("tax.income.") and e not in around]
    complete = [e for e in tasks if e["eventType"] == "COMPLETE"]
    by_job: dict[str, list[dict]] = {}
    for event in complete:
        by_job.setdefault(event["job"]["name"], []).append(event)
    assert sorted(by_job) == [f"tax.income.{t}" for t in ("commit", "deliver", "freshness", "stage")]
    for event in complete:
        assert [(d["namespace"], d["name"]) for d in event["inputs"]] == [("govbus", "tax.income")]
        assert event["run"]["facets"]["govbus"]["dataset"] == "tax.income"
    stage = by_job["tax.income.stage"][0]
    assert stage["inputs"][0]["inputFacets"]["inputStatistics"]["rowCount"] == 800
    assert stage["run"]["facets"]["govbus"]["counts"]["rows_read"] == 800
    delivered = {}
    for event in by_job["tax.income.deliver"]:
        (output,) = event["outputs"]
        facet = event["run"]["facets"]["govbus"]
        assert output["name"] == f"tax.income/{facet['recipient']}"
        delivered[output["name"]] = output["outputFacets"]["outputStatistics"]["rowCount"]
        assert facet["counts"]["rows_delivered"] == delivered[output["name"]]
    assert sorted(delivered) == [f"tax.income/{r}" for r in RECIPIENTS]
    assert delivered["tax.income/benefits"] == len(benefits_rows(govbus_home))
    commit_outputs = [d["name"] for d in by_job["tax.income.commit"][0]["outputs"]]
    assert commit_outputs == [f"tax.income/{r}" for r in RECIPIENTS]
    assert {e["job"]["name"] for e in tasks if e["eventType"] == "START"} == set(by_job)

    # No personal data: no national id, no return id, nor the agencies' systems' paths.
    national_ids = {str(r["national_id"]) for r in source_rows(govbus_home)}
    return_ids = {str(r["return_id"]) for r in source_rows(govbus_home)}
    leaked = [v for v in national_ids | return_ids if v in text]
    assert leaked == [], f"{len(leaked)} identifier(s) in the OpenLineage events"
    assert str(govbus_home) not in text


@pytest.mark.slow
def test_stale_data_fails_the_freshness_task_but_no_delivery(airflow_db, govbus_home):
    _seed(rows=300)
    # The Tax Authority's newest return is ten days old: tax.income's SLA allows two.
    tax_db = sa.create_engine(f"sqlite:///{Path(govbus_home) / 'agencies' / 'tax' / 'tax.db'}")
    with tax_db.begin() as conn:
        # (kept in SQLAlchemy's text format for SQLite timestamps, which the source reads)
        ten_days_older = "strftime('%Y-%m-%d %H:%M:%f000', updated_at, '-10 days')"
        conn.execute(sa.text(f"UPDATE income_returns SET updated_at = {ten_days_older}"))
    tax_db.dispose()

    done = run([AIRFLOW, "dags", "test", "tax.income"], airflow_db, check=False)
    output = done.stdout + done.stderr

    states = _task_states(airflow_db)
    assert states["freshness"] == "failed", output[-5000:]
    assert {k: v for k, v in states.items() if k != "freshness"} == {
        "apply_params": "success",
        "stage": "success",
        "deliver[benefits.tax-income]": "success",
        "deliver[housing.tax-income]": "success",
        "deliver[statistics.tax-income]": "success",
        "requested": "success",
        "deliver_requested": "skipped",
        "commit": "success",
    }
    tries = _airflow_rows(airflow_db, "SELECT try_number FROM task_instance WHERE task_id = 'freshness'")
    assert tries == [(1,)]  # a verdict: not retried
    # The run is failed in Airflow (what an operator's alerting watches), with the reason.
    assert _airflow_rows(airflow_db, "SELECT state FROM dag_run WHERE dag_id = 'tax.income'") == [("failed",)]
    assert "dataset tax.income, SLA freshness" in output
    assert "allowed P2D" in output
    assert len(benefits_rows(govbus_home)) > 250  # the data still went out
