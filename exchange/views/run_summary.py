"""What one run did, as `govbus run` (and `govbus demo`) shows it: a line per dataset and
one per subscription's delivery.

`run_summary(results)` turns the runner's `DatasetRun`s into frozen records, the same for
the table, `--format json` and `--format csv` (docs/cli-output.md). Counts, ids and
reasons only: a failure's message is the GovBus error's text, which names no value.

JSON: `{"ok", "datasets": [DatasetOutcome], "subscriptions": [DeliveryOutcome]}`, keys in
the order the dataclasses declare them. `DatasetOutcome.status` is `ok`, `waiting` (a
delivery failed, so its stage waits uncommitted for the retry) or `stage failed`;
`DeliveryOutcome.status` is `ok`, `failed` or the reason it was not delivered
(`suspended`, `ended`, ...). CSV: `RUN_CSV_COLUMNS`, one row per delivery with its
dataset's counts repeated, and one row with empty subscription columns for a dataset
that had no delivery (a failed stage, no subscriber).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from exchange.run.reports import DatasetRun

__all__ = ["RUN_CSV_COLUMNS", "DatasetOutcome", "DeliveryOutcome", "RunSummary", "run_summary"]

OK, WAITING, STAGE_FAILED, FAILED = "ok", "waiting", "stage failed", "failed"


@dataclass(frozen=True)
class DatasetOutcome:
    """One dataset of the run: what was read, quarantined and committed, and its SLA breaches."""

    dataset: str
    status: str
    rows_read: int
    rows_quarantined: int
    stages_committed: int
    failure: str | None
    sla_breaches: tuple[str, ...]


@dataclass(frozen=True)
class DeliveryOutcome:
    """One subscription's delivery in the run: rows delivered and denied (with why)."""

    subscription: str
    dataset: str
    status: str
    rows_delivered: int
    rows_denied: int
    denied_because: dict[str, int]
    initial_load_rows: int
    failure: str | None


@dataclass(frozen=True)
class RunSummary:
    """The run: `ok` when no stage and no delivery failed."""

    ok: bool
    datasets: tuple[DatasetOutcome, ...]
    subscriptions: tuple[DeliveryOutcome, ...]

    def to_json(self) -> dict[str, Any]:
        """The documented JSON shape."""
        return asdict(self)

    def csv_rows(self) -> list[dict[str, Any]]:
        """Rows of `RUN_CSV_COLUMNS` (see the module doc)."""
        rows: list[dict[str, Any]] = []
        for d in self.datasets:
            head = {
                "dataset": d.dataset,
                "dataset_status": d.status,
                "rows_read": d.rows_read,
                "rows_quarantined": d.rows_quarantined,
                "stages_committed": d.stages_committed,
            }
            mine = [s for s in self.subscriptions if s.dataset == d.dataset]
            for s in mine:
                rows.append(
                    {
                        **head,
                        "subscription": s.subscription,
                        "status": s.status,
                        "rows_delivered": s.rows_delivered,
                        "rows_denied": s.rows_denied,
                        "denied_because": [f"{why} {n}" for why, n in s.denied_because.items()],
                        "initial_load_rows": s.initial_load_rows,
                        "failure": s.failure,
                    }
                )
            if not mine:
                rows.append({**head, "failure": d.failure})
        return rows


RUN_CSV_COLUMNS = (
    "dataset",
    "dataset_status",
    "rows_read",
    "rows_quarantined",
    "stages_committed",
    "subscription",
    "status",
    "rows_delivered",
    "rows_denied",
    "denied_because",
    "initial_load_rows",
    "failure",
)
"""The CSV header of `govbus run --format csv` (see the module doc)."""


def run_summary(results: Iterable[DatasetRun]) -> RunSummary:
    """The run's records, datasets in run order and deliveries in the order they ran."""
    datasets: list[DatasetOutcome] = []
    deliveries: list[DeliveryOutcome] = []
    for r in results:
        stage_failure = r.failures.get("stage")
        status = STAGE_FAILED if stage_failure else (WAITING if r.failures else OK)
        datasets.append(
            DatasetOutcome(
                r.dataset,
                status,
                r.rows_read,
                r.rows_quarantined,
                r.committed,
                stage_failure,
                tuple(r.sla_breaches),
            )
        )
        for sub_id, rep in r.deliveries.items():
            deliveries.append(
                DeliveryOutcome(
                    sub_id,
                    r.dataset,
                    rep.skipped or OK,
                    rep.rows_delivered,
                    rep.rows_denied,
                    dict(sorted(rep.denials.items())),
                    rep.load_rows,
                    None,
                )
            )
        for sub_id, message in r.failures.items():
            if sub_id != "stage":
                deliveries.append(DeliveryOutcome(sub_id, r.dataset, FAILED, 0, 0, {}, 0, message))
    ok = all(d.status == OK for d in datasets)  # a failed delivery leaves its dataset waiting
    return RunSummary(ok, tuple(datasets), tuple(deliveries))
