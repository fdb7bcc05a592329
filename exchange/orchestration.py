"""The three steps as plain functions for an orchestrator (Airflow tasks call these).

Each opens the bus from the environment, does one idempotent step and returns its
counts (small, JSON-serialisable: Airflow keeps them as XCom). A retry of any of them
after a crash has exactly-once effect.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from exchange.bus import Bus
from exchange.catalog import load_catalog
from exchange.runner import checkpoint_ledger
from exchange.settings import Settings
from govbus.errors import GovBusError, TransientError


@dataclass(frozen=True)
class DagSpec:
    """What a DAG file needs to build one dataset's DAG, read from the catalog alone."""

    dataset: str
    owner: str
    schedule: str | None
    subscriptions: tuple[tuple[str, str], ...]  # (subscription id, recipient agency)
    description: str


def dag_specs(catalog_dir: Path | None = None) -> list[DagSpec]:
    """One spec per dataset, in a stable order. Reads files only: no database, no network.

    A dataset's schedule is its most frequent subscription's schedule (the catalog
    declares schedules per subscription); None when no subscription names one.
    """
    settings = Settings.from_env()
    catalog = load_catalog(catalog_dir or settings.catalog_dir)
    specs = []
    for dataset_id in sorted(catalog.datasets):
        subs = catalog.subscriptions_for(dataset_id)
        schedules = sorted({s.schedule for s in subs if s.schedule}, key=_frequency)
        specs.append(
            DagSpec(
                dataset=dataset_id,
                owner=catalog.datasets[dataset_id].contract.owner,
                schedule=schedules[0] if schedules else None,
                subscriptions=tuple((s.id, s.agency) for s in subs),
                description=catalog.datasets[dataset_id].contract.description,
            )
        )
    return specs


def delivery_asset_uri(dataset_id: str, recipient: str) -> str:
    """The Airflow Asset a delivery of `dataset_id` to `recipient` updates."""
    return f"govbus://{dataset_id}/{recipient}"


_PRESETS = ["@continuous", "@hourly", "@daily", "@weekly", "@monthly", "@quarterly", "@yearly"]


def _frequency(schedule: str) -> int:
    return _PRESETS.index(schedule) if schedule in _PRESETS else 1  # cron: treat as hourly-ish


def stage_task(dataset_id: str) -> dict[str, Any]:
    bus = Bus.open()
    try:
        return bus.stage(dataset_id).counts()
    finally:
        bus.close()


def deliver_task(dataset_id: str, subscription_id: str) -> dict[str, Any]:
    bus = Bus.open()
    try:
        return bus.deliver(dataset_id, subscription_id).counts()
    finally:
        bus.close()


def commit_task(dataset_id: str) -> dict[str, Any]:
    """Commit what every subscription has; fail visibly if a subscription still waits."""
    bus = Bus.open()
    try:
        report = bus.commit(dataset_id)
        checkpoint_ledger(bus)
    finally:
        bus.close()
    if report.waiting:
        raise TransientError(
            f"committed {len(report.committed)} stage(s); a stage waits for {', '.join(report.waiting)}",
            where=f"dataset {dataset_id}",
            hint="see the failed deliver task; its retry lets the stage commit",
        )
    return report.counts()


__all__ = [
    "DagSpec",
    "GovBusError",
    "commit_task",
    "dag_specs",
    "deliver_task",
    "delivery_asset_uri",
    "stage_task",
]
