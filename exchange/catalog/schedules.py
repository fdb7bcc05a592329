"""A subscription's `schedule` in the catalog: a time, or "after these datasets".

    schedule: "@daily"                       # an Airflow preset or a 5-field cron
    schedule: "0 6 * * 1-5"
    schedule:
      after: [registry.residents]            # when those datasets have committed new data

A dataset's DAG runs on the most frequent time among its subscriptions' schedules and,
if any of them says `after`, also whenever one of those datasets commits a stage (the
commit task emits the Airflow Asset `govbus://<dataset>/`). With no schedule at all the
DAG runs only when triggered (or by `govbus run`). Checked by `govbus check`, naming the
subscription file and line.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

PRESETS = ("@continuous", "@hourly", "@daily", "@weekly", "@monthly", "@quarterly", "@yearly")
_CRON_FIELD = re.compile(r"[0-9*,/\-A-Za-z?LW#]+")


def parse_schedule(
    value: Any, datasets: Any, bad: Callable[[str, str], None]
) -> tuple[str | None, tuple[str, ...]]:
    """(time schedule or None, datasets to run after) from a subscription's `schedule`.

    `datasets` is what dataset ids are known (a container); `bad(field, message)` records a
    problem (nothing is raised here, so every problem of the catalog is listed at once).
    """
    if value is None:
        return None, ()
    if isinstance(value, str):
        text = value.strip()
        if text in PRESETS or (
            len(text.split()) == 5 and all(_CRON_FIELD.fullmatch(part) for part in text.split())
        ):
            return text, ()
        bad("schedule", f"must be an Airflow preset ({', '.join(PRESETS)}) or a 5-field cron expression")
        return None, ()
    if isinstance(value, dict) and set(value) == {"after"}:
        after = value["after"]
        if isinstance(after, str):
            after = [after]
        if not isinstance(after, list) or not after or not all(isinstance(d, str) for d in after):
            bad("schedule", "after: must list dataset ids, e.g. after: [registry.residents]")
            return None, ()
        unknown = [d for d in after if d not in datasets]
        if unknown:
            bad("schedule", f"after: unknown dataset(s) {', '.join(unknown)}")
            return None, ()
        return None, tuple(dict.fromkeys(after))
    bad("schedule", "must be a preset, a cron expression, or a mapping `after: [dataset, ...]`")
    return None, ()


def frequency(schedule: str) -> int:
    """Sort key: lower runs more often (a cron counts as hourly)."""
    return PRESETS.index(schedule) if schedule in PRESETS else 1
