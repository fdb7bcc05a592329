"""The local runner: stage → deliver (each subscription) → commit, in one process.

This is `govbus run` and the demo. Under Airflow the same three steps are separate
tasks (see `dags/`); the behaviour is the same because each step is idempotent.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from govbus.errors import GovBusError

if TYPE_CHECKING:
    from exchange.bus import Bus

log = logging.getLogger("govbus.exchange")


@dataclass
class DatasetRun:
    """What one run did for one dataset; the CLI prints it as the summary table."""

    dataset: str
    rows_read: int = 0
    rows_quarantined: int = 0
    deliveries: dict[str, Any] = field(default_factory=dict)  # subscription id → DeliverReport
    failures: dict[str, str] = field(default_factory=dict)  # step or subscription → message
    committed: int = 0
    sla_breaches: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures


def run_datasets(bus: Bus, dataset_ids: list[str] | None = None) -> list[DatasetRun]:
    results: list[DatasetRun] = []
    for dataset_id in dataset_ids or sorted(bus.catalog.datasets):
        bus.catalog.dataset(dataset_id)  # unknown id: a clear error before any work
        result = DatasetRun(dataset_id)
        results.append(result)
        try:
            staged = bus.stage(dataset_id)
        except GovBusError as exc:
            result.failures["stage"] = str(exc)
            log.error("stage of %s failed: %s", dataset_id, exc)
            continue
        result.rows_read = staged.rows_read
        result.rows_quarantined = staged.rows_quarantined
        result.sla_breaches = staged.sla
        for sub in bus.catalog.subscriptions_for(dataset_id):
            try:
                result.deliveries[sub.id] = bus.deliver(dataset_id, sub.id)
            except Exception as exc:
                result.failures[sub.id] = _describe(exc)
                log.error("delivery of %s to %s failed: %s", dataset_id, sub.id, _describe(exc))
        result.committed = len(bus.commit(dataset_id).committed)
    checkpoint_ledger(bus)
    return results


def checkpoint_ledger(bus: Bus) -> None:
    """Sign the ledger's tree head at the end of a run, so truncation can be detected."""
    with bus.locked("ledger"), bus.engine.begin() as conn:
        bus.ledger.checkpoint(conn)


def _describe(exc: BaseException) -> str:
    """GovBus messages are safe to show; anything else shows its class only (may hold data)."""
    if isinstance(exc, GovBusError):
        return str(exc)
    return f"unexpected {type(exc).__name__}; rerun with --debug for the traceback"
