"""The DAG folder as Airflow's DagBag loads it: shape, pools, retries, freshness, broken catalog."""

from __future__ import annotations

import shutil

from exchange.catalog.loader import load_catalog
from tests.conftest import CATALOG
from tests.dags.conftest import dagbag


def test_dag_folder_imports_with_one_dag_per_dataset(sample_bag):
    bag = sample_bag
    assert bag["errors"] == {}
    assert set(load_catalog(CATALOG).datasets) <= set(bag["dags"])  # more datasets may come
    assert list(bag["dags"]["benefits.recompute_entitlements"]) == ["count_income_rows"]
    tax = bag["dags"]["tax.income"]
    assert sorted(tax) == [
        "apply_params",
        "commit",
        "deliver",
        "deliver_requested",
        "freshness",
        "requested",
        "stage",
    ]
    assert tax["apply_params"]["upstream"] == []
    assert tax["stage"]["upstream"] == ["apply_params"]
    assert tax["deliver"]["upstream"] == ["stage"]
    assert tax["requested"]["upstream"] == ["stage"]
    assert tax["deliver_requested"]["upstream"] == ["requested"]
    # Both kinds of subscription are delivered before the commit; freshness holds back nothing.
    assert tax["commit"]["upstream"] == ["deliver", "deliver_requested"]
    assert tax["commit"]["trigger_rule"] == "all_done"
    assert bag["schedules"]["tax.income"] == "@daily"


def test_deliver_is_mapped_over_subscriptions_with_one_asset_per_recipient(sample_bag):
    bag = sample_bag
    deliver = bag["dags"]["tax.income"]["deliver"]
    assert deliver["mapped"] is True
    # Each map index adds its recipient's Asset through this alias (see the run tests).
    assert deliver["outlets"] == ["alias:govbus-deliveries:tax.income"]
    assert deliver["expand"] == [
        {"subscription_id": "benefits.tax-income", "recipient": "benefits"},
        {"subscription_id": "housing.tax-income", "recipient": "housing"},
        {"subscription_id": "statistics.tax-income", "recipient": "statistics"},
    ]
    assert bag["dags"]["tax.income"]["stage"]["outlets"] == []


def test_requested_subscriptions_are_mapped_at_run_time_from_the_requested_task(sample_bag):
    # The DAG file cannot know them (no database at parse): the mapping is over a task's output.
    for dataset_id, tasks in sample_bag["dags"].items():
        if dataset_id.startswith("benefits."):
            continue  # the subscriber's own sample DAG
        requested = tasks["deliver_requested"]
        assert requested["type"] == "MappedOperator" and requested["mapped"] is True
        assert requested["expand"] == "xcom:requested"
        assert requested["outlets"] == [f"alias:govbus-deliveries:{dataset_id}"]
        assert "deliver_requested" in tasks["commit"]["upstream"]


def test_every_dataset_dag_takes_operator_params_that_default_to_nothing(sample_bag):
    params = sample_bag["params"]["tax.income"]
    assert sorted(params) == ["backfill_since", "backfill_subscription", "reason", "reset_cursor"]
    defaults = {name: p["value"] for name, p in params.items()}
    # A scheduled run sets none of them, so it does nothing but the exchange.
    assert defaults == {
        "backfill_subscription": None,
        "backfill_since": None,
        "reset_cursor": False,
        "reason": "",
    }
    assert params["backfill_subscription"]["schema"]["type"] == ["null", "string"]
    assert params["reset_cursor"]["schema"]["type"] == "boolean"
    assert all(p["description"] for p in params.values())  # the UI's trigger form explains each
    assert sample_bag["params"]["benefits.recompute_entitlements"] == {}


def test_stage_tasks_run_in_their_source_agency_pool(sample_bag):
    bag = sample_bag
    catalog = load_catalog(CATALOG)
    for dataset_id, dataset in catalog.datasets.items():
        tasks = bag["dags"][dataset_id]
        assert tasks["stage"]["pool"] == f"govbus_{dataset.contract.owner}"
        assert tasks["commit"]["pool"] == "default_pool"


def test_retries_with_exponential_backoff_come_from_the_environment(sample_bag, airflow_env):
    defaults = sample_bag["dags"]["tax.income"]
    for task_id in ("stage", "deliver", "commit"):
        assert defaults[task_id]["retries"] == 3
        assert defaults[task_id]["retry_delay"] == 30
        assert defaults[task_id]["backoff"] == 2.0
        assert defaults[task_id]["max_retry_delay"] == 1800
    tuned = dagbag(
        {
            **airflow_env,
            "GOVBUS_TASK_RETRIES": "5",
            "GOVBUS_TASK_RETRY_DELAY": "10",
            "GOVBUS_TASK_MAX_RETRY_DELAY": "600",
        }
    )["dags"]["tax.income"]
    assert (tuned["deliver"]["retries"], tuned["deliver"]["retry_delay"]) == (5, 10)
    assert tuned["stage"]["max_retry_delay"] == 600
    # A verdict, not a transient fault: the freshness task never retries.
    assert tuned["freshness"]["retries"] == 0


def test_freshness_task_only_for_datasets_with_an_sla_freshness(sample_bag):
    bag = sample_bag
    catalog = load_catalog(CATALOG)
    for dataset_id, dataset in catalog.datasets.items():
        has = dataset.contract.sla.freshness is not None and dataset.contract.cursor_field is not None
        assert ("freshness" in bag["dags"][dataset_id]) == has, dataset_id
    freshness = bag["dags"]["tax.income"]["freshness"]
    assert freshness["upstream"] == ["stage"]
    assert freshness["trigger_rule"] == "all_done"  # judges also when the stage failed


def test_broken_catalog_shows_one_failing_dag_instead_of_none(airflow_env, tmp_path):
    catalog = tmp_path / "catalog"
    shutil.copytree(CATALOG, catalog)
    (catalog / "purposes.yaml").write_text("purposes: [ {code: X\n")
    bag = dagbag({**airflow_env, "GOVBUS_CATALOG": str(catalog)})
    assert bag["errors"] == {}
    assert "tax.income" not in bag["dags"]
    assert list(bag["dags"]["govbus_catalog_broken"]) == ["govbus_check"]


def test_bad_retry_setting_shows_the_broken_dag_naming_the_variable(airflow_env):
    bag = dagbag({**airflow_env, "GOVBUS_TASK_RETRIES": "many"})
    assert bag["errors"] == {}
    assert "govbus_catalog_broken" in bag["dags"]
    assert "tax.income" not in bag["dags"]


def _after(catalog, dataset_line: str, schedule: str) -> None:
    """Give the subscription whose dataset line is `dataset_line` another schedule."""
    path = catalog / "subscriptions" / "benefits.yaml"
    text = path.read_text()
    head, tail = text.split(dataset_line, 1)
    tail = tail.replace('    schedule: "@daily"', schedule, 1)
    path.write_text(head + dataset_line + tail)


def test_a_catalog_schedule_after_other_datasets_runs_on_their_commits(airflow_env, tmp_path):
    catalog = tmp_path / "catalog"
    shutil.copytree(CATALOG, catalog)
    # Benefits' tax exchange also runs whenever new residents were committed...
    _after(catalog, "dataset: tax.income", "    schedule: {after: [registry.residents]}")
    bag = dagbag({**airflow_env, "GOVBUS_CATALOG": str(catalog)})
    assert bag["errors"] == {}
    # ...on the daily cron (Housing's) or the Asset the registry's commit emits.
    assert bag["timetables"]["tax.income"] == "AssetOrTimeSchedule"
    assert bag["after"]["tax.income"] == ["govbus://registry.residents/"]
    assert bag["timetables"]["registry.residents"] == "CronTriggerTimetable"
    commit = bag["dags"]["registry.residents"]["commit"]
    assert commit["outlets"] == ["alias:govbus-commits:registry.residents"]


def test_only_after_schedules_make_an_asset_triggered_dag(airflow_env, tmp_path):
    catalog = tmp_path / "catalog"
    shutil.copytree(CATALOG, catalog)
    _after(catalog, "dataset: health.disability", "    schedule: {after: [tax.income, registry.residents]}")
    bag = dagbag({**airflow_env, "GOVBUS_CATALOG": str(catalog)})
    assert bag["timetables"]["health.disability"] == "AssetTriggeredTimetable"
    assert bag["after"]["health.disability"] == ["govbus://registry.residents/", "govbus://tax.income/"]
