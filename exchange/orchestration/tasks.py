"""The three steps as plain functions for an orchestrator (Airflow tasks call these).

Each opens the bus from the environment, does one idempotent step and returns its
counts (small, JSON-serialisable: Airflow keeps them as XCom). A retry of any of them
after a crash has exactly-once effect.

`dag_specs` is what a DAG file builds its DAGs from: it reads the catalog's YAML files
only (`dag_catalog`), never a database or the network, and this module imports the bus
and the parts inside the task functions, so parsing the DAG folder stays cheap. The retry
policy comes from the environment (`RetryPolicy.from_env`), the pools from the catalog
(`agency_pools`: one per source agency, `max_concurrent_reads` slots).

What the files cannot say is read at run time instead: `requested_task` lists the
subscriptions approved in the state database (the DAG maps a second deliver task over
them), and `run_actions_task` applies what an operator asked for when triggering a run
(`RunParams`: a backfill, a cursor reset).
"""

from __future__ import annotations

import datetime as dt
import importlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from exchange.orchestration import dag_catalog
from exchange.orchestration.dag_catalog import DagSpec, SubscriptionSpec, pool_name
from exchange.state.settings import Settings
from govbus.errors import BadConfiguration, BadInput, GovBusError, TransientError
from govbus.instants import utc_now

if TYPE_CHECKING:
    from exchange.catalog.model import Catalog
    from exchange.ops import newest_cursor_value
    from exchange.orchestration.run_params import RunParams, run_actions_task

# Start-up: the DAG file imports this module every time Airflow parses it, so its module
# level imports only the light catalog reader; the bus, the steps and the alert senders
# are imported by the task functions when they run. These re-exports load on first use.
_LAZY = {
    "newest_cursor_value": "exchange.ops",
    "RunParams": "exchange.orchestration.run_params",
    "run_actions_task": "exchange.orchestration.run_params",
}


def __getattr__(name: str) -> Any:
    """The re-exports above, imported when first asked for (PEP 562)."""
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def dag_specs(catalog_dir: Path | None = None) -> list[DagSpec]:
    """One spec per dataset, in a stable order. Reads files only: no database, no network.

    A dataset's schedule is its most frequent subscription's schedule (the catalog
    declares schedules per subscription); None when no subscription names one. Read by
    the light reader `exchange.orchestration.dag_catalog` (YAML only: parsing the DAG
    folder loads neither pyarrow nor SQLAlchemy); a task loads the whole catalog when it
    opens the bus, and fails with `govbus check`'s message if the catalog is inconsistent.
    """
    return dag_catalog.dag_specs(catalog_dir or Settings.from_env().catalog_dir)


def delivery_asset_uri(dataset_id: str, recipient: str) -> str:
    """The Airflow Asset a delivery of `dataset_id` to `recipient` updates."""
    return f"govbus://{dataset_id}/{recipient}"


def dataset_asset_uri(dataset_id: str) -> str:
    """The Airflow Asset a commit of new data of `dataset_id` updates (for `after:` schedules).

    With the trailing slash Airflow's URI normalization would add anyway, so the URI a
    DAG waits on and the one the commit emits read the same everywhere."""
    return f"govbus://{dataset_id}/"


def commits_alias(dataset_id: str) -> str:
    """The AssetAlias the commit task resolves to the dataset's Asset when it committed data."""
    return f"govbus-commits:{dataset_id}"


def deliveries_alias(dataset_id: str) -> str:
    """The AssetAlias a dataset's mapped deliver task resolves to one Asset per recipient."""
    return f"govbus-deliveries:{dataset_id}"


# -- pools --------------------------------------------------------------------------------


@dataclass(frozen=True)
class PoolSpec:
    """An Airflow pool for one source agency: its stage tasks share `slots` slots."""

    name: str
    slots: int
    description: str


def agency_pools(catalog: Catalog) -> list[PoolSpec]:
    """One pool per agency that owns a dataset, sized by its `max_concurrent_reads`."""
    owners = sorted({d.contract.owner for d in catalog.datasets.values()})
    pools = []
    for owner in owners:
        agency = catalog.agencies[owner]
        description = (
            f"GovBus: reads of {agency.name}'s systems at once "
            "(max_concurrent_reads in catalog/agencies.yaml)"
        )
        pools.append(PoolSpec(pool_name(owner), agency.max_concurrent_reads, description))
    return pools


# -- retries ------------------------------------------------------------------------------


@dataclass(frozen=True)
class RetryPolicy:
    """How a failed task is retried: `retries` times, waiting `delay`, doubling up to `max_delay`.

    From the environment (`from_env`), so an operator tunes it without touching code:
    GOVBUS_TASK_RETRIES (default 3), GOVBUS_TASK_RETRY_DELAY and
    GOVBUS_TASK_MAX_RETRY_DELAY (seconds; defaults 30 and 1800).
    """

    retries: int = 3
    delay: dt.timedelta = dt.timedelta(seconds=30)
    max_delay: dt.timedelta = dt.timedelta(minutes=30)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> RetryPolicy:
        """Retries and delays from GOVBUS_TASK_RETRIES, _RETRY_DELAY and _MAX_RETRY_DELAY (checked)."""
        env = os.environ if env is None else env
        retries = _whole(env, "GOVBUS_TASK_RETRIES", 3, minimum=0)
        delay = _whole(env, "GOVBUS_TASK_RETRY_DELAY", 30, minimum=1)
        max_delay = _whole(env, "GOVBUS_TASK_MAX_RETRY_DELAY", max(1800, delay), minimum=1)
        if max_delay < delay:
            raise BadConfiguration(
                f"is {max_delay}s, less than GOVBUS_TASK_RETRY_DELAY ({delay}s)",
                where="environment variable GOVBUS_TASK_MAX_RETRY_DELAY",
                hint="make the longest wait at least the first one",
            )
        return cls(retries, dt.timedelta(seconds=delay), dt.timedelta(seconds=max_delay))

    def task_args(self) -> dict[str, Any]:
        """Airflow's BaseOperator retry arguments (exponential backoff always on)."""
        return {
            "retries": self.retries,
            "retry_delay": self.delay,
            "retry_exponential_backoff": 2.0,
            "max_retry_delay": self.max_delay,
        }


def _whole(env: Mapping[str, str], name: str, default: int, *, minimum: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
        if value < minimum:
            raise ValueError
    except ValueError:
        raise BadConfiguration(
            f"must be a whole number of at least {minimum}",
            where=f"environment variable {name}",
            hint=f"unset it to use {default}",
        ) from None
    return value


# -- the steps ----------------------------------------------------------------------------


class DeliveriesPending(TransientError):
    """A stage could not commit because a subscription does not have it yet.

    Under Airflow the commit runs after every deliver task is done, so the missing
    delivery has already used its retries: retrying the commit would not help.
    """


def stage_task(dataset_id: str) -> dict[str, Any]:
    """The stage step as an Airflow task: opens its own bus, returns the step's counts (XCom).

    Alerts on what the stage saw: SLA rules it breached (with `on_breach: warn`; a `fail`
    fails the task, and the failure callback alerts) and a quarantine rate above the
    contract's threshold.
    """
    from exchange import ops
    from exchange.bus import Bus

    alerting = ops.AlertSettings.from_env()  # a wrong setting stops the task before it reads
    bus = Bus.open()
    try:
        report = bus.stage(dataset_id)
        contract = bus.catalog.dataset(dataset_id).contract
        found = [ops.quarantine_alert(contract, report.rows_read, report.rows_quarantined)]
        if report.sla:
            found.append(ops.sla_alert(dataset_id, "; ".join(report.sla)))
        # The stage judged its quarantine rate (the freshness task judges the SLA).
        ops.notify(bus.engine, found, alerting, judged=ops.judged_kinds((ops.QUARANTINE_RATE,), dataset_id))
    finally:
        bus.close()
    return report.counts()


def deliver_task(dataset_id: str, subscription_id: str) -> dict[str, Any]:
    """One subscription's delivery as an Airflow task; the counts go to XCom."""
    from exchange.bus import Bus

    bus = Bus.open()
    try:
        return bus.deliver(dataset_id, subscription_id).counts()
    finally:
        bus.close()


def requested_task(dataset_id: str) -> list[dict[str, str]]:
    """The dataset's approved requested subscriptions, one deliver instance's kwargs each.

    Why a task: requests are approved at run time and live in the state database, which
    the DAG file must not read while Airflow parses it. So the DAG maps a second deliver
    task over this list when it runs; an empty list maps no instance (Airflow skips it).
    Catalog subscriptions are left out: the DAG maps those from the files already.
    """
    from exchange.bus import Bus

    bus = Bus.open()
    try:
        subs = [s for s in bus.catalog.subscriptions_for(dataset_id) if s.origin == "request"]
    finally:
        bus.close()
    return [{"subscription_id": s.id, "recipient": s.agency} for s in subs]


def commit_task(dataset_id: str) -> dict[str, Any]:
    """Commit what every subscription has; fail visibly if a subscription still waits."""
    from exchange.bus import Bus
    from exchange.run.runner import checkpoint_ledger

    bus = Bus.open()
    try:
        report = bus.commit(dataset_id)
        checkpoint_ledger(bus)
    finally:
        bus.close()
    if report.waiting:
        raise DeliveriesPending(
            f"committed {len(report.committed)} stage(s); a stage waits for {', '.join(report.waiting)}",
            where=f"dataset {dataset_id}",
            hint="see the failed deliver task; its retry lets the stage commit",
        )
    return report.counts()


def task_failed_alert(
    dataset_id: str, task_id: str, subscription_id: str | None, error: BaseException | None
) -> list[str]:
    """Alert that a task failed for good (its retries used): the DAG's failure callback calls this.

    The message is the GovBus error's (it holds no data value) or the exception's class
    only. Returns what could not be sent; never raises (a callback must not fail).
    """
    if isinstance(error, GovBusError):
        message = str(error)
    elif error is not None and isinstance(error.__cause__, GovBusError):  # AirflowFailException from one
        message = str(error.__cause__)
    else:
        message = type(error).__name__ if error is not None else "failed"
    from exchange import ops

    try:
        settings = ops.AlertSettings.from_env()
    except GovBusError as exc:
        return [str(exc)]
    return ops.send_alerts([ops.failed_alert(dataset_id, task_id, message, subscription_id)], settings)


def freshness_task(dataset_id: str, now: dt.datetime | None = None) -> dict[str, Any]:
    """Fail (BadInput) when the dataset's newest data is older than its SLA freshness.

    The judgement is `exchange.ops.judge_freshness` (the metrics and `govbus run` use the
    same): the newest staged `cursor_field` value, or the time the newest stage was read.
    No stage yet counts as stale: nothing has arrived. A breach is also sent as an alert.
    """
    from exchange import ops
    from exchange.bus import Bus

    alerting = ops.AlertSettings.from_env()
    bus = Bus.open()
    try:
        contract = bus.catalog.dataset(dataset_id).contract
        with bus.engine.connect() as conn:
            verdict = ops.judge_freshness(conn, contract, now or utc_now())
        if verdict is not None:  # judged: a breach is sent (once per repeat), a recovery resolves it
            found = [] if verdict.ok else [ops.sla_alert(dataset_id, verdict.message)]
            ops.notify(bus.engine, found, alerting, judged=ops.judged_kinds((ops.SLA_BREACH,), dataset_id))
    finally:
        bus.close()
    if verdict is None:
        return {"freshness": None, "ok": True}
    if not verdict.ok:
        raise BadInput(
            verdict.message,
            where=f"dataset {dataset_id}, SLA freshness",
            hint="check the source agency's system and the stage task's log; "
            "the deliveries are not held back",
        )
    return {"freshness": verdict.allowed_text, "ok": True, "message": verdict.message}


__all__ = [
    "DagSpec",
    "DeliveriesPending",
    "GovBusError",
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
    "newest_cursor_value",
    "pool_name",
    "requested_task",
    "run_actions_task",
    "stage_task",
    "task_failed_alert",
]
