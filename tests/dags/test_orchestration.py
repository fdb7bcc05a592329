"""What the DAG file builds from: pools per source agency, the retry policy, the freshness verdict."""

from __future__ import annotations

import datetime as dt
import shutil

import pytest

from exchange.catalog.loader import check_catalog, load_catalog
from exchange.orchestration import tasks as o
from govbus.errors import BadConfiguration, BadInput
from tests.conftest import CATALOG


def test_one_pool_per_source_agency_sized_by_its_max_concurrent_reads():
    pools = {p.name: p for p in o.agency_pools(load_catalog(CATALOG))}
    assert pools["govbus_tax"].slots == 2  # declared in agencies.yaml
    assert pools["govbus_registry"].slots == 1  # not declared: one read at a time
    assert "govbus_benefits" not in pools  # owns no dataset: reads nothing
    assert "Tax Authority" in pools["govbus_tax"].description
    specs = {s.dataset: s for s in o.dag_specs(CATALOG)}
    assert specs["tax.income"].pool == "govbus_tax"
    assert all(s.pool in pools for s in specs.values())


def test_pool_names_keep_only_safe_characters():
    assert o.pool_name("tax") == "govbus_tax"
    assert o.pool_name("min of health/2") == "govbus_min_of_health_2"


@pytest.mark.parametrize("value", ["0", "-1", "two", "1.5", "true"])
def test_a_bad_max_concurrent_reads_is_refused_naming_file_and_line(tmp_path, value):
    catalog = tmp_path / "catalog"
    shutil.copytree(CATALOG, catalog)
    agencies = catalog / "agencies.yaml"
    text = agencies.read_text()
    assert "max_concurrent_reads: 2" in text
    agencies.write_text(text.replace("max_concurrent_reads: 2", f"max_concurrent_reads: {value}"))
    line = next(i for i, t in enumerate(agencies.read_text().splitlines(), 1) if "max_concurrent_reads:" in t)
    problems = [p for p in check_catalog(catalog) if p.field.endswith("max_concurrent_reads")]
    assert len(problems) == 1
    shown = str(problems[0])
    assert f"agencies.yaml:{line}" in shown
    assert "whole number" in shown


def test_retry_policy_defaults_and_environment():
    assert o.RetryPolicy.from_env({}).task_args() == {
        "retries": 3,
        "retry_delay": dt.timedelta(seconds=30),
        "retry_exponential_backoff": 2.0,
        "max_retry_delay": dt.timedelta(minutes=30),
    }
    tuned = o.RetryPolicy.from_env(
        {"GOVBUS_TASK_RETRIES": "0", "GOVBUS_TASK_RETRY_DELAY": "5", "GOVBUS_TASK_MAX_RETRY_DELAY": "60"}
    )
    assert (tuned.retries, tuned.delay.seconds, tuned.max_delay.seconds) == (0, 5, 60)
    # A first wait longer than the default longest one raises the longest one with it.
    assert o.RetryPolicy.from_env({"GOVBUS_TASK_RETRY_DELAY": "3600"}).max_delay == dt.timedelta(hours=1)


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"GOVBUS_TASK_RETRIES": "-1"}, "GOVBUS_TASK_RETRIES"),
        ({"GOVBUS_TASK_RETRY_DELAY": "soon"}, "GOVBUS_TASK_RETRY_DELAY"),
        ({"GOVBUS_TASK_RETRY_DELAY": "0"}, "GOVBUS_TASK_RETRY_DELAY"),
        ({"GOVBUS_TASK_RETRY_DELAY": "60", "GOVBUS_TASK_MAX_RETRY_DELAY": "30"}, "MAX_RETRY_DELAY"),
    ],
)
def test_a_bad_retry_setting_names_the_variable(env, named):
    with pytest.raises(BadConfiguration) as caught:
        o.RetryPolicy.from_env(env)
    assert named in str(caught.value)


def test_freshness_fails_before_any_data_then_judges_the_newest_staged_value(bus):
    from exchange.demo import deployment as demo

    with pytest.raises(BadInput, match="no data staged yet"):
        o.freshness_task("tax.income")
    demo.seed(bus, rows=300)
    o.stage_task("tax.income")
    newest = o.newest_cursor_value(_newest_cursor(bus), "updated_at")
    assert newest is not None
    fresh = o.freshness_task("tax.income", now=newest + dt.timedelta(days=1))
    assert fresh["ok"] is True and fresh["freshness"] == "P2D"
    with pytest.raises(BadInput) as caught:
        o.freshness_task("tax.income", now=newest + dt.timedelta(days=3))
    message = str(caught.value)
    assert "dataset tax.income, SLA freshness" in message
    assert "3d0h0m old, allowed P2D" in message
    # A cursor that does not carry the field (a file source): the time the data was read counts.
    import sqlalchemy as sa

    from exchange import state

    with bus.engine.begin() as conn:
        conn.execute(sa.update(state.stages).values(to_cursor={"files": ["returns-1.csv"]}))
        staged_at = conn.execute(sa.select(state.stages.c.staged_at)).scalar_one()
    staged_at = staged_at if staged_at.tzinfo else staged_at.replace(tzinfo=dt.UTC)
    assert o.freshness_task("tax.income", now=staged_at + dt.timedelta(days=1))["ok"] is True
    with pytest.raises(BadInput, match="newest data was staged 2d1h0m ago, allowed P2D"):
        o.freshness_task("tax.income", now=staged_at + dt.timedelta(days=2, hours=1))


def _newest_cursor(bus):
    import sqlalchemy as sa

    from exchange import state

    with bus.engine.connect() as conn:
        return conn.execute(
            sa.select(state.stages.c.to_cursor).order_by(state.stages.c.seq.desc()).limit(1)
        ).scalar_one()


def test_newest_cursor_value_only_from_cursors_ordered_by_the_field():
    cursor = {"version": 1, "mode": "incremental", "fields": ["updated_at", "return_id"]}
    when = "2026-05-01T08:00:00+00:00"
    newest = o.newest_cursor_value({**cursor, "after": [when, "R1"]}, "updated_at")
    assert newest == dt.datetime(2026, 5, 1, 8, tzinfo=dt.UTC)
    newest = o.newest_cursor_value({**cursor, "after": ["2026-05-01", "R1"]}, "updated_at")
    assert newest == dt.datetime(2026, 5, 1)  # a date: its midnight (SlaTracker takes it as UTC)
    assert o.newest_cursor_value({**cursor, "after": None}, "updated_at") is None  # full refresh
    assert o.newest_cursor_value({**cursor, "after": [when, "R1"]}, "filed_at") is None
    assert o.newest_cursor_value({"files": ["residents-1.dat"]}, "updated_at") is None
    assert o.newest_cursor_value({**cursor, "after": ["not a time", "R1"]}, "updated_at") is None


# -- run time: requested subscriptions and a triggered run's params ----------------------


@pytest.mark.parametrize(
    ("params", "named", "says"),
    [
        ({"backfill_since": "2025-01-31"}, "backfill_since", "backfill_subscription is not"),
        ({"backfill_subscription": "x", "backfill_since": "last week"}, "backfill_since", "is not a date"),
        ({"reset_cursor": True}, "reason", "a cursor reset needs a reason"),
        ({"reset_cursor": True, "reason": "  "}, "reason", "a cursor reset needs a reason"),
        ({"reset_cursor": "yes", "reason": "r"}, "reset_cursor", "true or false"),
        ({"backfill_subscription": 7}, "backfill_subscription", "a string or null"),
    ],
)
def test_a_wrong_run_param_is_refused_naming_it(params, named, says):
    with pytest.raises(BadInput) as caught:
        o.RunParams.from_params(params)
    assert f"DAG param {named}" in str(caught.value)
    assert says in str(caught.value)


def test_run_params_of_a_scheduled_run_ask_for_nothing():
    defaults = {"backfill_subscription": None, "backfill_since": None, "reset_cursor": False, "reason": ""}
    assert o.RunParams.from_params(defaults).asks_anything is False
    assert o.RunParams.from_params({}).asks_anything is False
    asked = o.RunParams.from_params({"backfill_subscription": " s.x ", "backfill_since": "2025-01-31"})
    assert asked.backfill_subscription == "s.x"
    assert asked.backfill_since == dt.datetime(2025, 1, 31, tzinfo=dt.UTC)


def test_a_scheduled_run_opens_no_bus(govbus_home):
    assert o.run_actions_task("tax.income", {"reset_cursor": False}, by="airflow:r") == {}
    assert not (govbus_home / "state.db").exists()


def _ledger_payloads(bus, kind):
    import json

    import sqlalchemy as sa

    with bus.engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT payload FROM ledger WHERE kind = :k ORDER BY seq"), {"k": kind})
        return [json.loads(p) for (p,) in rows]


def test_run_actions_reset_the_cursor_and_ask_for_a_backfill_naming_who(bus):
    from exchange.demo import deployment as demo

    demo.seed(bus, rows=200)
    bus.run(["tax.income"])
    params = {
        "backfill_subscription": "statistics.tax-income",
        "backfill_since": "2020-01-01",
        "reset_cursor": True,
        "reason": "source corrected in place",
    }
    done = o.run_actions_task("tax.income", params, by="airflow:manual__1")
    assert done["backfill"] == "statistics.tax-income"
    assert done["backfill_since"] == "2020-01-01T00:00:00+00:00"
    (reset,) = _ledger_payloads(bus, "dataset.cursor-reset")
    assert (reset["by"], reset["reason"], reset["to"]) == (
        "airflow:manual__1",
        "source corrected in place",
        "start",
    )
    assert done["cursor_reset_seq"] > 0
    backfills = [
        e for e in _ledger_payloads(bus, "subscription.lifecycle") if e["reason"].startswith("backfill")
    ]
    assert [(e["subscription"], e["by"]) for e in backfills] == [
        ("statistics.tax-income", "airflow:manual__1")
    ]


def test_a_backfill_param_must_name_an_active_subscription_of_the_dataset(bus):
    with pytest.raises(BadInput, match=r"'benefits\.residents' is not a subscription to tax\.income"):
        o.run_actions_task("tax.income", {"backfill_subscription": "benefits.residents"}, by="airflow:r")
    with pytest.raises(BadInput, match=r"'nobody\.tax-income' is not a subscription to tax\.income"):
        o.run_actions_task("tax.income", {"backfill_subscription": "nobody.tax-income"}, by="airflow:r")
    # Known, but never delivered: its first delivery sends the current state anyway.
    with pytest.raises(BadInput, match=r"statistics\.tax-income is not yet delivered") as caught:
        o.run_actions_task("tax.income", {"backfill_subscription": "statistics.tax-income"}, by="airflow:r")
    assert "DAG param backfill_subscription" in str(caught.value)


def test_a_refused_cursor_reset_leaves_no_backfill_behind(bus):
    from exchange.demo import deployment as demo

    demo.seed(bus, rows=100)
    bus.run(["tax.income"])
    demo.change_some(bus)  # changed and new returns: the next stage waits uncommitted
    bus.stage("tax.income")
    params = {"backfill_subscription": "statistics.tax-income", "reset_cursor": True, "reason": "r"}
    with pytest.raises(BadInput, match="has a stage not yet committed"):
        o.run_actions_task("tax.income", params, by="airflow:r")
    assert [e for e in _ledger_payloads(bus, "subscription.lifecycle") if e["reason"] == "backfill"] == []


def test_requested_task_lists_only_the_approved_requests_of_the_dataset(bus):
    from exchange.subscriptions import decisions, requests
    from exchange.subscriptions.requests import RequestSpec

    assert o.requested_task("tax.income") == []
    spec = RequestSpec(
        agency="statistics",
        dataset="tax.income",
        purpose="OFFICIAL_STATISTICS",
        statute="STAT-7",
        fields=("tax_year", "gross_income"),
        sink={"connector": "parquet", "directory": "${GOVBUS_HOME}/agencies/statistics/inbox/asked"},
        id="statistics.asked",
        requested_by="a.analyst",
    )
    requests.submit(bus, spec)
    assert o.requested_task("tax.income") == []  # asked, not yet approved
    decisions.decide(
        bus, "statistics.asked", decision="approve", role="owner", agency="tax", by="head", reason="STAT-7"
    )
    assert o.requested_task("tax.income") == [
        {"subscription_id": "statistics.asked", "recipient": "statistics"}
    ]
    assert o.requested_task("registry.residents") == []
    # The OpenLineage events of its deliver and of the commit know it too (read at run time).
    from exchange.orchestration.lineage import step_lineage

    (output,) = step_lineage("deliver", "tax.income", "statistics.asked").outputs
    assert output.name == "tax.income/statistics"
    assert [f.name for f in output.facets["schema"].fields] == ["tax_year", "gross_income"]
    committed = [d.name for d in step_lineage("commit", "tax.income").outputs]
    assert committed == ["tax.income/benefits", "tax.income/housing", "tax.income/statistics"]
