"""Batch-level promises of a contract's SLA, judged over one stage run.

A run reads several batches; volume and freshness are about the run, not one batch, so
the stage step feeds each conformed batch to an `SlaTracker` and asks for the verdicts
at the end:

    tracker = SlaTracker(contract)
    for batch in batches:
        tracker.observe(conformed_batch)
    for result in tracker.results(now=utcnow(), last_known=committed_cursor_time):
        ...  # report; fail the run when result.fails_run

* **volume** — the run's row count within `sla.volume.min_rows` / `max_rows`;
* **freshness** — the newest value of the contract's `cursor_field` (a date or
  timestamp; a zone-less one is taken as UTC) is at most `sla.freshness` old at `now`.
  A run that saw no row judges the newest value it is told (`last_known`, e.g. the
  committed cursor's) and, told none, reports freshness as unknown without breaching.

`fails_run` is true only for a breach when `sla.on_breach` is `fail`. Messages carry
counts and durations, never a data value.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.types as pt

from contracts.model import Contract


@dataclass(frozen=True)
class SlaResult:
    """One SLA verdict for a run: `rule` is `volume` or `freshness`."""

    rule: str
    ok: bool
    message: str
    fails_run: bool


class SlaTracker:
    """Accumulates what a run saw (row count, newest cursor value) across its batches."""

    def __init__(self, contract: Contract) -> None:
        self.contract = contract
        self.rows = 0
        self.newest: dt.datetime | None = None

    def observe(self, table: pa.Table) -> None:
        """Count `table`'s rows and keep the newest cursor value (whole-column max)."""
        self.rows += table.num_rows
        name = self.contract.cursor_field
        if name is None or name not in table.column_names or table.num_rows == 0:
            return
        values = table.column(name)
        if not pt.is_temporal(values.type):
            return
        newest = _as_utc(pc.max(values).as_py())
        if newest is not None and (self.newest is None or newest > self.newest):
            self.newest = newest

    def results(self, now: dt.datetime, last_known: dt.datetime | dt.date | None = None) -> list[SlaResult]:
        """The verdicts for the run so far (empty when the SLA promises nothing)."""
        sla = self.contract.sla
        fail = sla.on_breach == "fail"
        found: list[SlaResult] = []
        if sla.min_rows is not None or sla.max_rows is not None:
            low_ok = sla.min_rows is None or self.rows >= sla.min_rows
            high_ok = sla.max_rows is None or self.rows <= sla.max_rows
            ok = low_ok and high_ok
            bounds = f"[{sla.min_rows if sla.min_rows is not None else '-'}, "
            bounds += f"{sla.max_rows if sla.max_rows is not None else '-'}]"
            message = f"{self.rows} row(s) in the run, expected within {bounds}"
            found.append(SlaResult("volume", ok, message, fail and not ok))
        if sla.freshness is not None and self.contract.cursor_field is not None:
            newest = self.newest or _as_utc(last_known)
            if newest is None:
                message = f"no row seen and no last known value: freshness ({sla.freshness_text}) unknown"
                found.append(SlaResult("freshness", True, message, False))
            else:
                age = _as_utc(now) - newest  # type: ignore[operator]
                ok = age <= sla.freshness
                message = (
                    f"newest {self.contract.cursor_field} is {_human(age)} old, allowed {sla.freshness_text}"
                )
                found.append(SlaResult("freshness", ok, message, fail and not ok))
        return found


def _as_utc(value: dt.datetime | dt.date | None) -> dt.datetime | None:
    if value is None:
        return None
    if not isinstance(value, dt.datetime):
        value = dt.datetime(value.year, value.month, value.day)
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def _human(age: dt.timedelta) -> str:
    seconds = int(age.total_seconds())
    if seconds < 0:
        return "in the future, 0s"
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3_600)
    return f"{days}d{hours}h{rest // 60}m" if days else f"{hours}h{rest // 60}m{rest % 60}s"
