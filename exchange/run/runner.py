"""The local runner: stage → deliver (every subscription at once) → commit, in one process.

This is `govbus run` and the demo. Delivery is one fan-out per dataset: each staged
segment is read once and delivered to every subscription (`exchange.run.fanout`), each
still held, recorded, failed and retried on its own. Under Airflow the same three steps are separate
tasks (see `dags/`); the behaviour is the same because each step is idempotent. So is
what operators see: each step sends the DAG tasks' OpenLineage events (`StepEvents`, when
a transport is configured), the freshness verdict is judged as the DAG's `freshness`
task judges it, and a failed step, an SLA breach, a quarantine rate above the contract's
threshold or a late ledger checkpoint is sent as an alert (`exchange.ops`).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from exchange import ops
from exchange.run.reports import DatasetRun
from govbus.errors import GovBusError
from govbus.instants import utc_now

if TYPE_CHECKING:
    from exchange.run.context import Steps
    from exchange.run.lineage import StepEvents

log = logging.getLogger("govbus.exchange")


def run_datasets(ctx: Steps, dataset_ids: list[str] | None = None) -> list[DatasetRun]:
    """Stage, deliver to each subscription, commit — dataset by dataset.

    A failed subscription is recorded in the result, not raised: the others still get
    their data, and the stage waits uncommitted for the failed one's retry.
    """
    from exchange.run.lineage import StepEvents  # OpenLineage's client: loaded by a run, not by `Bus`

    events, alerting = StepEvents(ctx.catalog), ops.AlertSettings.from_env()
    alerts: list[ops.Alert | None] = []
    results: list[DatasetRun] = []
    finished: dict[str, bool] = {}  # dataset -> staged (True) or its stage failed (False)
    try:
        for dataset_id in dataset_ids or sorted(ctx.catalog.datasets):
            contract = ctx.catalog.dataset(dataset_id).contract  # unknown id: a clear error before any work
            result = DatasetRun(dataset_id)
            results.append(result)
            try:
                with events.step("stage", dataset_id) as seen:
                    staged = ctx.stage(dataset_id)
                    seen.update(staged.counts())
            except GovBusError as exc:
                result.failures["stage"] = str(exc)
                log.error("stage of %s failed: %s", dataset_id, exc)
                alerts.append(ops.failed_alert(dataset_id, "stage", str(exc)))
                alerts.append(_freshness(ctx, events, dataset_id))
                finished[dataset_id] = False
                continue
            result.rows_read = staged.rows_read
            result.rows_quarantined = staged.rows_quarantined
            result.sla_breaches = staged.sla
            alerts.append(ops.quarantine_alert(contract, staged.rows_read, staged.rows_quarantined))
            alerts.append(_freshness(ctx, events, dataset_id, staged.sla))
            # One fan-out: each staged segment read once for every subscription (exchange.run.fanout).
            subs = [sub.id for sub in ctx.catalog.subscriptions_for(dataset_id)]
            watch = functools.partial(events.step, "deliver", dataset_id)
            for sub_id, outcome in ctx.deliver_all(dataset_id, subs, watch).items():
                if isinstance(outcome, Exception):
                    result.failures[sub_id] = _describe(outcome)
                    log.error("delivery of %s to %s failed: %s", dataset_id, sub_id, _describe(outcome))
                    alerts.append(ops.failed_alert(dataset_id, "deliver", _describe(outcome), sub_id))
                else:
                    result.deliveries[sub_id] = outcome
            with events.step("commit", dataset_id) as seen:
                committed = ctx.commit(dataset_id)
                seen.update(committed.counts())
            result.committed = len(committed.committed)
            finished[dataset_id] = True
    finally:
        # Also when a step raised past the loop: what was delivered gets its signed tree
        # head, and what went wrong before still reaches the operators.
        checkpoint_ledger(ctx)
        with ctx.engine.connect() as conn:
            alerts.append(ops.checkpoint_alert(conn, alerting.checkpoint_max_age))
        ops.notify(ctx.engine, alerts, alerting, judged=functools.partial(_judged, finished))
    return results


def _judged(finished: dict[str, bool], notice: Any) -> bool:
    """Which alert conditions this run judged (only those can resolve): the ledger's
    checkpoint; for each dataset it finished, its failures, quarantine rate and SLA, or,
    when its stage failed, the stage's failure and the SLA only."""
    if notice.kind == ops.CHECKPOINT_LATE:
        return True
    staged = finished.get(notice.dataset)
    if staged is None:
        return False
    if not staged:
        return notice.kind == ops.SLA_BREACH or (notice.kind == ops.RUN_FAILED and notice.step == "stage")
    return notice.kind in (ops.RUN_FAILED, ops.QUARANTINE_RATE, ops.SLA_BREACH)


class _Stale(Exception):
    """The freshness verdict failed: its lineage event is a FAIL, as the DAG's task's is."""


def _freshness(
    ctx: Steps, events: StepEvents, dataset_id: str, breaches: Sequence[str] = ()
) -> ops.Alert | None:
    """Judge freshness as the DAG's `freshness` task does; one SLA alert with the stage's breaches."""
    contract = ctx.catalog.dataset(dataset_id).contract
    messages = list(breaches)
    if contract.sla.freshness is not None and contract.cursor_field is not None:  # the DAG's condition
        try:
            with events.step("freshness", dataset_id) as seen, ctx.engine.connect() as conn:
                verdict = ops.judge_freshness(conn, contract, utc_now())
                if verdict is not None and not verdict.ok:
                    raise _Stale(verdict.message)
                if verdict is not None:
                    seen.update({"freshness": verdict.allowed_text, "ok": True, "message": verdict.message})
        except _Stale as stale:
            messages.append(str(stale))
    return ops.sla_alert(dataset_id, "; ".join(dict.fromkeys(messages))) if messages else None


def checkpoint_ledger(ctx: Steps) -> None:
    """Sign the ledger's tree head at the end of a run, so truncation can be detected."""
    with ctx.locked("ledger"), ctx.engine.begin() as conn:
        ctx.ledger.checkpoint(conn)


def _describe(exc: BaseException) -> str:
    """GovBus messages are safe to show; anything else shows its class only (may hold data)."""
    if isinstance(exc, GovBusError):
        return str(exc)
    return f"unexpected {type(exc).__name__}; rerun with --debug for the traceback"
