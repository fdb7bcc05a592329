"""Shapes as JSON takes them: every datetime (at any depth) as ISO 8601 text.

The views' records keep `datetime`s, which the tables format for people; their JSON and
CSV forms (docs/cli-output.md) carry the instant as ISO 8601 text with its UTC offset,
whichever state database it came from.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from govbus.instants import as_utc

__all__ = ["iso_times"]


def iso_times(value: Any) -> Any:
    """`value` with each datetime in it (dicts, lists, tuples) as ISO 8601 text in UTC
    (`2025-03-01T08:00:00+00:00`; SQLite's zone-less values are UTC, as the bus writes them)."""
    if isinstance(value, datetime):
        return as_utc(value).isoformat()
    if isinstance(value, dict):
        return {k: iso_times(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [iso_times(v) for v in value]
    return value
