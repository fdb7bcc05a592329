"""The local runner: stage → deliver (each subscription) → commit, in one process.

This is `govbus run` and the demo. Under Airflow the same three steps are separate
tasks (see `dags/`); the behaviour is the same because each step is idempotent.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from exchange.run.reports import DatasetRun
from govbus.errors import GovBusError

if TYPE_CHECKING:
    from exchange.ctx import StepContext

log = logging.getLogger("govbus.exchange")


def run_datasets(ctx: StepContext, dataset_ids: list[str] | None = None) -> list[DatasetRun]:
    """Stage, deliver to each subscription, commit — dataset by dataset.

    A failed subscription is recorded in the result, not raised: the others still get
    their data, and the stage waits uncommitted for the failed one's retry.
    """
    results: list[DatasetRun] = []
    for dataset_id in dataset_ids or sorted(ctx.catalog.datasets):
        ctx.catalog.dataset(dataset_id)  # unknown id: a clear error before any work
        result = DatasetRun(dataset_id)
        results.append(result)
        try:
            staged = ctx.stage(dataset_id)
        except GovBusError as exc:
            result.failures["stage"] = str(exc)
            log.error("stage of %s failed: %s", dataset_id, exc)
            continue
        result.rows_read = staged.rows_read
        result.rows_quarantined = staged.rows_quarantined
        result.sla_breaches = staged.sla
        for sub in ctx.catalog.subscriptions_for(dataset_id):
            try:
                result.deliveries[sub.id] = ctx.deliver(dataset_id, sub.id)
            except Exception as exc:
                result.failures[sub.id] = _describe(exc)
                log.error("delivery of %s to %s failed: %s", dataset_id, sub.id, _describe(exc))
        result.committed = len(ctx.commit(dataset_id).committed)
    checkpoint_ledger(ctx)
    return results


def checkpoint_ledger(ctx: StepContext) -> None:
    """Sign the ledger's tree head at the end of a run, so truncation can be detected."""
    with ctx.locked("ledger"), ctx.engine.begin() as conn:
        ctx.ledger.checkpoint(conn)


def _describe(exc: BaseException) -> str:
    """GovBus messages are safe to show; anything else shows its class only (may hold data)."""
    if isinstance(exc, GovBusError):
        return str(exc)
    return f"unexpected {type(exc).__name__}; rerun with --debug for the traceback"
