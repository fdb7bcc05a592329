"""One Airflow DAG per GovBus dataset, built from the catalog: stage → deliver → commit.

Parsing stays cheap: this file reads the catalog's YAML and Avro files and touches no
database or network. If the catalog is broken, the folder still imports and shows a
single `govbus_catalog_broken` DAG whose task fails with the `govbus check` message,
instead of the datasets' DAGs silently disappearing.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pendulum
from airflow.sdk import DAG, Asset, task

_REPO = Path(__file__).resolve().parent.parent
os.environ.setdefault("GOVBUS_HOME", str(_REPO / ".govbus"))
os.environ.setdefault("GOVBUS_CATALOG", str(_REPO / "catalog"))

from exchange import orchestration  # noqa: E402 - after the environment defaults above
from exchange.orchestration import delivery_asset_uri  # noqa: E402
from govbus.errors import GovBusError  # noqa: E402

DEFAULT_ARGS = {
    "owner": "govbus",
    "retries": 3,
    "retry_delay": timedelta(seconds=30),
    "retry_exponential_backoff": True,
    "max_retry_delay": timedelta(minutes=30),
}
START = pendulum.datetime(2026, 1, 1, tz="UTC")


def _dataset_dag(spec: orchestration.DagSpec) -> DAG:
    with DAG(
        dag_id=spec.dataset,
        description=spec.description,
        schedule=spec.schedule,
        start_date=START,
        catchup=False,
        max_active_runs=1,
        default_args=DEFAULT_ARGS,
        tags=["govbus", f"owner:{spec.owner}"],
    ) as dag:

        @task(task_id="stage")
        def stage(dataset_id: str) -> dict:
            return orchestration.stage_task(dataset_id)

        @task(task_id="commit", trigger_rule="all_done")
        def commit(dataset_id: str) -> dict:
            return orchestration.commit_task(dataset_id)

        staged = stage(spec.dataset)
        committed = commit(spec.dataset)
        for sub_id, recipient in spec.subscriptions:
            # Each delivery emits an Asset event an agency's own DAG can be scheduled on.
            @task(
                task_id="deliver_" + sub_id.replace(".", "_").replace("-", "_"),
                outlets=[Asset(delivery_asset_uri(spec.dataset, recipient))],
            )
            def deliver(dataset_id: str, subscription_id: str) -> dict:
                return orchestration.deliver_task(dataset_id, subscription_id)

            staged >> deliver(spec.dataset, sub_id) >> committed
        if not spec.subscriptions:
            staged >> committed
    return dag


def _broken_catalog_dag(message: str) -> DAG:
    with DAG(
        dag_id="govbus_catalog_broken",
        description="The GovBus catalog does not load; run `govbus check`.",
        schedule=None,
        start_date=START,
        catchup=False,
        tags=["govbus"],
    ) as dag:

        @task(task_id="govbus_check")
        def govbus_check() -> None:
            raise GovBusError(message, hint="fix the catalog; `govbus check` lists every problem")

        govbus_check()
    return dag


try:
    _specs = orchestration.dag_specs()
except GovBusError as exc:
    globals()["govbus_catalog_broken"] = _broken_catalog_dag(str(exc))
else:
    for _spec in _specs:
        globals()[f"govbus_{_spec.dataset.replace('.', '_')}"] = _dataset_dag(_spec)
