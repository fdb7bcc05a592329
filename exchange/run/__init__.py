"""The three steps of an exchange run (stage → deliver → commit), the local runner and replay.

What a caller must know: the steps take a `StepContext` (what they use of the bus,
named) and return typed reports; `exchange.bus.Bus` composes everything and satisfies
it. Each step is idempotent, so a retry after a crash anywhere has exactly-once effect.
Below this room: `quarantine`, `catalog`, `state`.
"""

from __future__ import annotations

from exchange.run.catalog_changes import CATALOG_CHANGED, catalog_items, record_catalog_change
from exchange.run.columns import PSEUDONYM_COLUMN, SUBJECT_REF_COLUMN
from exchange.run.commit import commit_dataset
from exchange.run.context import Hooks, ProgressFn, StepContext, Steps
from exchange.run.deliver import deliver_subscription, delivered_schema
from exchange.run.fanout import deliver_fanout
from exchange.run.history import recorded
from exchange.run.replay import replay
from exchange.run.reports import CommitReport, DatasetRun, DeliverReport, StageReport
from exchange.run.runner import checkpoint_ledger, run_datasets
from exchange.run.stage import stage_dataset
from exchange.run.staging import StagingArea, redact

__all__ = [
    "CATALOG_CHANGED",
    "PSEUDONYM_COLUMN",
    "SUBJECT_REF_COLUMN",
    "CommitReport",
    "DatasetRun",
    "DeliverReport",
    "Hooks",
    "ProgressFn",
    "StageReport",
    "StagingArea",
    "StepContext",
    "Steps",
    "catalog_items",
    "checkpoint_ledger",
    "commit_dataset",
    "deliver_fanout",
    "deliver_subscription",
    "delivered_schema",
    "record_catalog_change",
    "recorded",
    "redact",
    "replay",
    "run_datasets",
    "stage_dataset",
]
