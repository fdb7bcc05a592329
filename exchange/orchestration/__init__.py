"""The steps as Airflow task functions, DAG and pool specs built from the catalog, alerts
on failed tasks, OpenLineage events, and the Celery deployment on one machine
(`celery_stack`): what `dags/` imports (and nothing else of exchange).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from govbus.lazy_faces import lazy_face

if TYPE_CHECKING:
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

# Where each public name lives: imported on first use (PEP 562). The DAG file imports
# `tasks`, whose module level needs neither the bus nor OpenLineage's client: they load
# when a task runs. A new public name goes here, under TYPE_CHECKING above and in
# `__all__` (tests/architecture/test_lazy_faces.py).
_LAZY: dict[str, tuple[str, str]] = {
    "lineage": ("exchange.orchestration.lineage", ""),
    "tasks": ("exchange.orchestration.tasks", ""),
    "NAMESPACE": ("exchange.orchestration.lineage", "NAMESPACE"),
    "step_lineage": ("exchange.orchestration.lineage", "step_lineage"),
    "DagSpec": ("exchange.orchestration.tasks", "DagSpec"),
    "DeliveriesPending": ("exchange.orchestration.tasks", "DeliveriesPending"),
    "PoolSpec": ("exchange.orchestration.tasks", "PoolSpec"),
    "RetryPolicy": ("exchange.orchestration.tasks", "RetryPolicy"),
    "RunParams": ("exchange.orchestration.tasks", "RunParams"),
    "SubscriptionSpec": ("exchange.orchestration.tasks", "SubscriptionSpec"),
    "agency_pools": ("exchange.orchestration.tasks", "agency_pools"),
    "commit_task": ("exchange.orchestration.tasks", "commit_task"),
    "commits_alias": ("exchange.orchestration.tasks", "commits_alias"),
    "dag_specs": ("exchange.orchestration.tasks", "dag_specs"),
    "dataset_asset_uri": ("exchange.orchestration.tasks", "dataset_asset_uri"),
    "deliver_task": ("exchange.orchestration.tasks", "deliver_task"),
    "deliveries_alias": ("exchange.orchestration.tasks", "deliveries_alias"),
    "delivery_asset_uri": ("exchange.orchestration.tasks", "delivery_asset_uri"),
    "freshness_task": ("exchange.orchestration.tasks", "freshness_task"),
    "newest_cursor_value": ("exchange.orchestration.tasks", "newest_cursor_value"),
    "pool_name": ("exchange.orchestration.tasks", "pool_name"),
    "requested_task": ("exchange.orchestration.tasks", "requested_task"),
    "run_actions_task": ("exchange.orchestration.tasks", "run_actions_task"),
    "stage_task": ("exchange.orchestration.tasks", "stage_task"),
    "task_failed_alert": ("exchange.orchestration.tasks", "task_failed_alert"),
}


__getattr__, __dir__ = lazy_face(__name__, _LAZY)


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
