"""What each step reports: typed, so the CLI, the DAG tasks and the tests read fields, not keys.

`counts()` is the JSON a step stores in its `runs` row (`govbus status` shows it).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

__all__ = ["CommitReport", "DatasetRun", "DeliverReport", "StageReport"]


@dataclass
class StageReport:
    """What staging one dataset did: rows read, staged and quarantined, batch rules breached."""

    dataset: str
    stage_id: str | None
    rows_read: int = 0
    rows_staged: int = 0
    rows_quarantined: int = 0
    segments: int = 0
    sla: list[str] = field(default_factory=list)  # breached batch-level rules

    def counts(self) -> dict[str, Any]:
        """The report as the JSON stored in the step's `runs` row."""
        return {
            "stage_id": self.stage_id,
            "rows_read": self.rows_read,
            "rows_staged": self.rows_staged,
            "rows_quarantined": self.rows_quarantined,
            "segments": self.segments,
            "sla_breaches": self.sla,
        }


@dataclass
class DeliverReport:
    """What one subscription's delivery did: batches and rows delivered, rows denied by reason.

    `load_rows`: of the rows delivered, those of its initial load (or backfill);
    `skipped`: why nothing was delivered (`suspended`, `ended`), None when it was delivered.
    """

    subscription: str
    batches: int = 0
    rows_delivered: int = 0
    rows_denied: int = 0
    denials: Counter[str] = field(default_factory=Counter)
    load_rows: int = 0
    skipped: str | None = None

    def counts(self) -> dict[str, Any]:
        """The report as the JSON stored in the step's `runs` row."""
        counts: dict[str, Any] = {
            "batches": self.batches,
            "rows_delivered": self.rows_delivered,
            "rows_denied": self.rows_denied,
            "denials": dict(self.denials),
        }
        if self.load_rows:
            counts["load_rows"] = self.load_rows
        if self.skipped:
            counts["skipped"] = self.skipped
        return counts


@dataclass
class CommitReport:
    """Which stages became committed and which still wait for a subscription."""

    dataset: str
    committed: list[str] = field(default_factory=list)
    waiting: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, Any]:
        """The report as the JSON stored in the step's `runs` row."""
        return {"committed": self.committed, "waiting": self.waiting}


@dataclass
class DatasetRun:
    """What one run did for one dataset; the CLI prints it as the summary table."""

    dataset: str
    rows_read: int = 0
    rows_quarantined: int = 0
    deliveries: dict[str, DeliverReport] = field(default_factory=dict)  # by subscription id
    failures: dict[str, str] = field(default_factory=dict)  # step or subscription → message
    committed: int = 0
    sla_breaches: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when no step or subscription of the run failed."""
        return not self.failures
