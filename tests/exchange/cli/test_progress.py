"""Progress of a run: a live display on a terminal, a line every N seconds elsewhere."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import Any

import pytest
from rich.console import Console

from exchange.cli.progress import INTERVAL_ENV, RunProgress, interval_from_env
from govbus.errors import BadConfiguration


@dataclass
class Report:
    rows_read: int
    rows_staged: int
    rows_quarantined: int


@dataclass
class Hooks:
    progress: Any = None


@dataclass
class FakeBus:
    """What RunProgress uses of a bus: its hooks and its stage step; `run` calls both."""

    hooks: Hooks = field(default_factory=Hooks)
    batches: dict[str, list[int]] = field(default_factory=dict)

    def stage(self, dataset_id: str) -> Report:
        for rows in self.batches[dataset_id]:
            self.hooks.progress("stage", rows)
        total = sum(self.batches[dataset_id])
        return Report(total, total - 1, 1)

    def run(self) -> None:
        for dataset_id in self.batches:
            self.stage(dataset_id)
            self.hooks.progress(f"deliver:{dataset_id}.sub", 7)


def console(*, terminal: bool) -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, force_terminal=terminal, width=200, color_system=None), out


def test_off_a_terminal_a_line_per_interval_names_read_staged_and_sent() -> None:
    target, out = console(terminal=False)
    bus = FakeBus(batches={"tax.income": [500, 500], "registry.residents": [10]})
    progress = RunProgress(target, interval=0)
    with progress.tracked(bus):  # type: ignore[arg-type]
        bus.run()
    lines = out.getvalue().splitlines()
    assert lines and all(" progress: " in line for line in lines)
    assert "tax.income: 500 read" in lines[1]
    assert lines[-1].endswith(
        "tax.income: 1,000 read, 999 staged, 1 quarantined; registry.residents: 10 read, 9 staged, "
        "1 quarantined; → tax.income.sub: 7 sent; → registry.residents.sub: 7 sent"
    )
    assert bus.hooks.progress is None and "stage" not in vars(bus)  # the bus is as it was


def test_a_short_run_prints_nothing_off_a_terminal() -> None:
    target, out = console(terminal=False)
    bus = FakeBus(batches={"tax.income": [500]})
    with RunProgress(target, interval=3600).tracked(bus):  # type: ignore[arg-type]
        bus.run()
    assert out.getvalue() == ""


def test_on_a_terminal_a_live_display_and_no_log_lines() -> None:
    target, out = console(terminal=True)
    bus = FakeBus(batches={"tax.income": [500, 500]})
    progress = RunProgress(target, interval=0)
    with progress.tracked(bus):  # type: ignore[arg-type]
        bus.run()
        assert progress._bar is not None and len(progress._bar.tasks) == 2  # the dataset, its subscription
    assert " progress: " not in out.getvalue()
    assert progress.line().startswith("tax.income: 1,000 read, 999 staged")


def test_the_interval_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(INTERVAL_ENV, raising=False)
    assert interval_from_env() == 10
    monkeypatch.setenv(INTERVAL_ENV, "2.5")
    assert interval_from_env() == 2.5
    for wrong in ("soon", "-1", "nan"):
        monkeypatch.setenv(INTERVAL_ENV, wrong)
        with pytest.raises(BadConfiguration, match=INTERVAL_ENV):
            interval_from_env()
