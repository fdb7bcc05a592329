"""The steps as Airflow task functions, DAG and pool specs built from the catalog, alerts
on failed tasks, OpenLineage events, and the Celery deployment on one machine
(`celery_stack`): what `dags/` imports (and nothing else of exchange).
"""

from __future__ import annotations

from exchange.orchestration import lineage, tasks
from exchange.orchestration.lineage import NAMESPACE, step_lineage
from exchange.orchestration.tasks import (
    DagSpec,
    DeliveriesPending,
    PoolSpec,
    RetryPolicy,
    RunParams,
    SubscriptionSpec,
    agency_pools,
    commit_task,
    commits_alias,
    dag_specs,
    dataset_asset_uri,
    deliver_task,
    deliveries_alias,
    delivery_asset_uri,
    freshness_task,
    newest_cursor_value,
    pool_name,
    requested_task,
    run_actions_task,
    stage_task,
    task_failed_alert,
)

__all__ = [
    "NAMESPACE",
    "DagSpec",
    "DeliveriesPending",
    "PoolSpec",
    "RetryPolicy",
    "RunParams",
    "SubscriptionSpec",
    "agency_pools",
    "commit_task",
    "commits_alias",
    "dag_specs",
    "dataset_asset_uri",
    "deliver_task",
    "deliveries_alias",
    "delivery_asset_uri",
    "freshness_task",
    "lineage",
    "newest_cursor_value",
    "pool_name",
    "requested_task",
    "run_actions_task",
    "stage_task",
    "step_lineage",
    "task_failed_alert",
    "tasks",
]
