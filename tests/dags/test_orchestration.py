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
    problems = [p for p in check_catalog(catalog) if p.field == "max_concurrent_reads"]
    assert len(problems) == 1
    shown = str(problems[0])
    assert f"agencies.yaml:{line}" in shown
    assert "whole number of at least 1" in shown


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
