"""Progress of a run: rows read, staged and sent per subscription, while it runs.

On a terminal (stderr), a Rich progress display: a line per dataset with the rows read
so far (then read, staged and quarantined once its stage ends) and a line per
subscription with the rows delivered so far. Elsewhere (a pipe, a file, a CI log, cron),
a plain line on stderr at most every `GOVBUS_PROGRESS_SECONDS` seconds (default 10;
0 prints at every batch), so a long run shows it is alive without flooding the log:

    12:03:05 progress: tax.income: 150,000 read; → housing.tax-income: 40,000 sent

A short run prints none. Stdout keeps only the command's output (the summary, or its
JSON or CSV). The bus reports a batch through `bus.hooks.progress` ("stage" with the rows
read, "deliver:<subscription>" with the staged rows a delivery went through, denied
ones included); which dataset a "stage" event belongs to, and how many rows its stage
kept, is learnt by wrapping the bus's `stage` step for the run (`tracked`).

Imported by `govbus --help`: rich and the standard library only; the bus comes in as an
argument.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from govbus.errors import BadConfiguration

if TYPE_CHECKING:
    from exchange.bus import Bus
    from exchange.run import DatasetRun

__all__ = ["INTERVAL_ENV", "RunProgress", "run_with_progress"]

INTERVAL_ENV = "GOVBUS_PROGRESS_SECONDS"
_DEFAULT_INTERVAL = 10.0


def run_with_progress(bus: Bus, dataset_ids: list[str] | None, target: Console) -> list[DatasetRun]:
    """`bus.run(dataset_ids)` with its progress shown on `target`, the error console (see
    the module doc)."""
    with RunProgress(target, interval=interval_from_env()).tracked(bus):
        return bus.run(dataset_ids)


def interval_from_env() -> float:
    """Seconds between two progress lines off a terminal (GOVBUS_PROGRESS_SECONDS)."""
    text = os.environ.get(INTERVAL_ENV, "").strip()
    if not text:
        return _DEFAULT_INTERVAL
    try:
        seconds = float(text)
    except ValueError:
        seconds = -1.0
    if not seconds >= 0:
        raise BadConfiguration(
            f"{text!r} is not a number of seconds", where=INTERVAL_ENV, hint="e.g. 30, or 0"
        )
    return seconds


class RunProgress:
    """What a run has done so far, shown on `target` as the module doc says."""

    def __init__(self, target: Console, *, interval: float = _DEFAULT_INTERVAL) -> None:
        self.target = target
        self.interval = interval
        self.dataset: str | None = None
        self.read: dict[str, int] = {}
        self.staged: dict[str, tuple[int, int]] = {}  # dataset → (staged, quarantined), once done
        self.sent: dict[str, int] = {}
        self._bar: Progress | None = None
        self._tasks: dict[str, Any] = {}
        self._last = time.monotonic()

    @contextmanager
    def tracked(self, bus: Bus) -> Iterator[RunProgress]:
        """Listen to the bus's progress and stage steps for the block; restored after."""
        live = self.target.is_terminal
        if live:
            self._bar = Progress(
                SpinnerColumn(),
                TextColumn("{task.description}"),
                TimeElapsedColumn(),
                console=self.target,
                transient=True,
            )
        bus.hooks.progress = self.advance
        bus.stage = self._stage_step(bus.stage)  # type: ignore[method-assign]
        try:
            if self._bar is not None:
                with self._bar:
                    yield self
            else:
                yield self
        finally:
            bus.hooks.progress = None
            del bus.stage  # the class's method again

    def _stage_step(self, stage: Callable[[str], Any]) -> Callable[[str], Any]:
        def step(dataset_id: str) -> Any:
            self.dataset = dataset_id
            self.read.setdefault(dataset_id, 0)
            self._show(dataset_id)
            report = stage(dataset_id)
            self.staged[dataset_id] = (report.rows_staged, report.rows_quarantined)
            self.read[dataset_id] = report.rows_read
            self._show(dataset_id)
            return report

        return step

    def advance(self, event: str, rows: int) -> None:
        """The bus's progress hook: a batch was read ("stage") or went to a subscription."""
        if event.startswith("deliver:"):
            key = "→ " + event.removeprefix("deliver:")
            self.sent[key] = self.sent.get(key, 0) + rows
        elif event == "stage" and self.dataset is not None:
            key = self.dataset
            self.read[key] = self.read.get(key, 0) + rows
        else:
            key = event
            self.sent[key] = self.sent.get(key, 0) + rows
        self._show(key)

    def line(self) -> str:
        """Where the run is, in one line (what is printed off a terminal)."""
        parts = []
        for dataset, read in self.read.items():
            text = f"{dataset}: {read:,} read"
            if dataset in self.staged:
                staged, quarantined = self.staged[dataset]
                text += f", {staged:,} staged, {quarantined:,} quarantined"
            parts.append(text)
        parts += [f"{key}: {rows:,} sent" for key, rows in self.sent.items()]
        return "; ".join(parts)

    def _describe(self, key: str) -> str:
        if key in self.staged:
            staged, quarantined = self.staged[key]
            return f"{key}: {self.read[key]:,} read, {staged:,} staged, {quarantined:,} quarantined"
        if key in self.read:
            return f"{key}: {self.read[key]:,} read"
        return f"{key}: {self.sent.get(key, 0):,} sent"

    def _show(self, key: str) -> None:
        if self._bar is not None:
            if key not in self._tasks:
                self._tasks[key] = self._bar.add_task(self._describe(key), total=None)
            self._bar.update(self._tasks[key], description=self._describe(key))
            if key in self.staged:
                self._bar.stop_task(self._tasks[key])
            return
        now = time.monotonic()
        if now - self._last >= self.interval and self.line():
            self._last = now
            stamp = datetime.now().strftime("%H:%M:%S")
            self.target.print(
                f"{stamp} progress: {self.line()}", highlight=False, markup=False, soft_wrap=True
            )
