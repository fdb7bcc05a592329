"""One Airflow DAG per GovBus dataset, built from the catalog.

    apply_params ──► stage ──► deliver (mapped: one instance per catalog subscription) ──► commit
                         ├──► requested ──► deliver_requested (mapped at run time) ──┘
                         └──► freshness (datasets whose contract has an SLA freshness)

* apply_params does what an operator asked for when triggering the run (DAG params:
  `backfill_subscription`, `backfill_since`, `reset_cursor`, `reason`); a scheduled run
  sets none and it does nothing;
* stage runs in its source agency's pool (`govbus_<agency>`, as many slots as the
  agency's `max_concurrent_reads`), so a legacy system never serves more reads at once;
* deliver is mapped over the catalog files' subscriptions; requested reads, at run time,
  the subscriptions approved in the state database, and deliver_requested is mapped over
  those (none: no instance, and commit still runs). Each subscription's first delivery
  is its initial load;
* each deliver instance emits, through the dataset's AssetAlias, an event of the Asset
  `govbus://<dataset>/<recipient>` when data landed, so an agency's own DAG can be
  scheduled on exactly its deliveries;
* commit runs when every delivery is done, commits what every subscriber has, and fails
  (without retrying) if a stage still waits for a failed delivery;
* freshness fails, visibly, when the dataset's newest data is older than its SLA; it
  is a branch of its own and holds back no delivery.

Every task retries with exponential backoff (GOVBUS_TASK_RETRIES, ..._RETRY_DELAY,
..._MAX_RETRY_DELAY), alerts the operators (GOVBUS_ALERT_*) when it fails for good, and
describes its inputs and outputs to Airflow's OpenLineage provider. Parsing stays
cheap: this file reads the catalog's YAML files only (`exchange.orchestration.
dag_catalog`: no pyarrow, SQLAlchemy, connectors or contracts are imported until a task
runs) and touches no database or network (which is why requested subscriptions are
listed by a task). If the catalog's files do not read, or name an unknown agency or
dataset, the folder still imports and shows a single `govbus_catalog_broken` DAG whose
task fails with that message, instead of the datasets' DAGs silently disappearing; what
else `govbus check` finds fails each task, with its message, when the task opens the bus.
"""

from __future__ import annotations

import functools
import operator
import os
from pathlib import Path
from typing import Any

import pendulum
from airflow.sdk import DAG, Asset, AssetAlias, BaseOperator, Param, task
from airflow.sdk.exceptions import AirflowFailException
from airflow.timetables.assets import AssetOrTimeSchedule
from airflow.timetables.trigger import CronTriggerTimetable

_REPO = Path(__file__).resolve().parent.parent
os.environ.setdefault("GOVBUS_HOME", str(_REPO / ".govbus"))
os.environ.setdefault("GOVBUS_CATALOG", str(_REPO / "catalog"))

from exchange.orchestration import tasks as orchestration  # noqa: E402
from govbus.errors import BadInput, GovBusError  # noqa: E402

START = pendulum.datetime(2026, 1, 1, tz="UTC")


class GovBusStepOperator(BaseOperator):
    """Runs one step of a dataset's exchange and tells OpenLineage what it read and wrote.

    The step's counts are its XCom and feed the `govbus` run facet; no data value, subject
    identifier or connector setting reaches either.
    """

    step = ""
    ui_color = "#e8f1fb"

    def __init__(self, *, dataset_id: str, subscription_id: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.dataset_id = dataset_id
        self.subscription_id = subscription_id
        self.govbus_counts: dict[str, Any] | None = None

    def execute(self, context: Any) -> dict[str, Any]:
        self.govbus_counts = self.run_step(context)
        return self.govbus_counts

    def run_step(self, context: Any) -> dict[str, Any]:
        raise NotImplementedError

    # Airflow's OpenLineage provider calls these (its DefaultExtractor) around execute.
    def get_openlineage_facets_on_start(self) -> Any:
        return self._lineage()

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        return self._lineage()

    def get_openlineage_facets_on_failure(self, task_instance: Any) -> Any:
        return self._lineage()

    def _lineage(self) -> Any:
        from airflow.providers.openlineage.extractors import OperatorLineage

        from exchange.orchestration.lineage import step_lineage

        found = step_lineage(self.step, self.dataset_id, self.subscription_id, self.govbus_counts)
        return OperatorLineage(inputs=found.inputs, outputs=found.outputs, run_facets=found.run_facets)


class StageOperator(GovBusStepOperator):
    step = "stage"

    def run_step(self, context: Any) -> dict[str, Any]:
        return orchestration.stage_task(self.dataset_id)


class DeliverOperator(GovBusStepOperator):
    """Mapped over the dataset's subscriptions; emits its recipient's Asset event."""

    step = "deliver"

    def __init__(self, *, recipient: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.recipient = recipient

    def run_step(self, context: Any) -> dict[str, Any]:
        counts = orchestration.deliver_task(self.dataset_id, self.subscription_id or "")
        if counts.get("batches"):
            # Only when data landed: an agency's DAG runs on deliveries, not on empty runs.
            uri = orchestration.delivery_asset_uri(self.dataset_id, self.recipient)
            extra = {k: counts[k] for k in ("batches", "rows_delivered", "rows_denied")}
            extra["subscription"] = self.subscription_id
            alias = AssetAlias(orchestration.deliveries_alias(self.dataset_id))
            context["outlet_events"][alias].add(Asset(uri), extra=extra)
        return counts


class CommitOperator(GovBusStepOperator):
    step = "commit"

    def run_step(self, context: Any) -> dict[str, Any]:
        try:
            counts = orchestration.commit_task(self.dataset_id)
        except orchestration.DeliveriesPending as exc:
            # The missing delivery already used its retries (commit runs after it): fail now.
            raise AirflowFailException(str(exc)) from exc
        if counts.get("committed"):
            # New data is in: DAGs whose catalog schedule says `after: [this dataset]` run.
            alias = AssetAlias(orchestration.commits_alias(self.dataset_id))
            context["outlet_events"][alias].add(
                Asset(orchestration.dataset_asset_uri(self.dataset_id)),
                extra={"stages": len(counts["committed"])},
            )
        return counts


class FreshnessOperator(GovBusStepOperator):
    step = "freshness"
    ui_color = "#fdf3e1"

    def run_step(self, context: Any) -> dict[str, Any]:
        return orchestration.freshness_task(self.dataset_id)


class ApplyParamsOperator(BaseOperator):
    """Before the stage: applies the run's params (a backfill, a cursor reset); else nothing.

    A wrong param or a change the bus refuses fails the run at once (no retry could fix
    it), with the message naming the param, before anything is read or delivered.
    """

    ui_color = "#f3eefb"

    def __init__(self, *, dataset_id: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.dataset_id = dataset_id

    def execute(self, context: Any) -> dict[str, Any]:
        try:
            return orchestration.run_actions_task(self.dataset_id, context["params"], by=_who(context))
        except BadInput as exc:  # a busy database (TransientError) is retried like any task
            raise AirflowFailException(str(exc)) from exc


class RequestedOperator(BaseOperator):
    """Lists the dataset's approved requested subscriptions; deliver_requested maps over them."""

    ui_color = "#e8f1fb"

    def __init__(self, *, dataset_id: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.dataset_id = dataset_id

    def execute(self, context: Any) -> list[dict[str, str]]:
        return orchestration.requested_task(self.dataset_id)


def _alert_failed(context: Any) -> None:
    """Failure callback: a task failed for good (retries used); alert the operators.

    The freshness task alerts its SLA breach itself, so its failure is not sent twice.
    """
    task = context["task"]
    if task.task_id == "freshness":
        return
    dataset_id = getattr(task, "dataset_id", None) or context["dag"].dag_id
    subscription_id = getattr(task, "subscription_id", None)
    orchestration.task_failed_alert(dataset_id, task.task_id, subscription_id, context.get("exception"))


def _who(context: Any) -> str:
    """Who acts, as the ledger records it: the run, and the user who triggered it if known."""
    run = context["dag_run"]
    user = getattr(run, "triggering_user_name", None)
    return f"{user} (airflow:{run.run_id})" if user else f"airflow:{run.run_id}"


def _params() -> dict[str, Param]:
    """What an operator may ask for when triggering a run (the UI's form; `--conf` on the CLI)."""
    return {
        "backfill_subscription": Param(
            None,
            type=["null", "string"],
            title="Backfill subscription",
            description="Subscription id of this dataset that receives the current state again in this run.",
        ),
        "backfill_since": Param(
            None,
            type=["null", "string"],
            title="Backfill since",
            description="Only rows whose cursor field is at or after this date or ISO 8601 instant.",
        ),
        "reset_cursor": Param(
            False,
            type="boolean",
            title="Reset the cursor",
            description="Read the source again from the start: every subscriber receives those rows.",
        ),
        "reason": Param(
            "",
            type="string",
            title="Reason",
            description="Why (recorded in the ledger; required with reset_cursor).",
        ),
    }


def _dataset_dag(spec: orchestration.DagSpec, retry: orchestration.RetryPolicy) -> DAG:
    with DAG(
        dag_id=spec.dataset,
        description=spec.description,
        schedule=_schedule(spec),
        start_date=START,
        catchup=False,
        max_active_runs=1,
        default_args={"owner": "govbus", "on_failure_callback": _alert_failed, **retry.task_args()},
        tags=["govbus", f"owner:{spec.owner}"],
        params=_params(),
    ) as dag:
        apply_params = ApplyParamsOperator(task_id="apply_params", dataset_id=spec.dataset)
        stage = StageOperator(task_id="stage", dataset_id=spec.dataset, pool=spec.pool)
        commit = CommitOperator(
            task_id="commit",
            dataset_id=spec.dataset,
            trigger_rule="all_done",
            outlets=[AssetAlias(orchestration.commits_alias(spec.dataset))],
        )
        deliveries = {
            "dataset_id": spec.dataset,
            "outlets": [AssetAlias(orchestration.deliveries_alias(spec.dataset))],
            "map_index_template": "{{ task.subscription_id }}",
        }
        apply_params >> stage
        if spec.subscriptions:
            deliver = DeliverOperator.partial(task_id="deliver", **deliveries).expand_kwargs(
                [{"subscription_id": s.id, "recipient": s.recipient} for s in spec.subscriptions]
            )
            stage >> deliver >> commit
        # Approved at run time, so listed at run time: the state database is not read at parse.
        requested = RequestedOperator(task_id="requested", dataset_id=spec.dataset)
        deliver_requested = DeliverOperator.partial(task_id="deliver_requested", **deliveries).expand_kwargs(
            requested.output
        )
        stage >> requested >> deliver_requested >> commit
        if spec.freshness:
            # Its own branch: it judges whatever the stage left (also when the stage failed),
            # fails visibly on a breach, and no delivery or commit waits for it.
            stage >> FreshnessOperator(
                task_id="freshness",
                dataset_id=spec.dataset,
                trigger_rule="all_done",
                retries=0,
                doc_md=f"Fails when the newest data of {spec.dataset} is older than {spec.freshness}.",
            )
    return dag


def _schedule(spec: orchestration.DagSpec) -> Any:
    """The catalog's time schedule, the Assets of the datasets it runs `after`, or both."""
    if not spec.after:
        return spec.schedule
    assets = [Asset(orchestration.dataset_asset_uri(d)) for d in spec.after]
    condition = functools.reduce(operator.or_, assets)  # any one of them (a list means all)
    if spec.schedule is None:
        return condition
    timetable = CronTriggerTimetable(spec.schedule, timezone="UTC")
    return AssetOrTimeSchedule(timetable=timetable, assets=condition)


def _broken_catalog_dag(message: str) -> DAG:
    with DAG(
        dag_id="govbus_catalog_broken",
        description="The GovBus catalog (or its settings) does not load; run `govbus check`.",
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
    _retry = orchestration.RetryPolicy.from_env()
except GovBusError as exc:
    globals()["govbus_catalog_broken"] = _broken_catalog_dag(str(exc))
else:
    for _spec in _specs:
        globals()[f"govbus_{_spec.dataset.replace('.', '_')}"] = _dataset_dag(_spec, _retry)
