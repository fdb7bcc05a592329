"""Instants in time: every timestamp consent/ stores or compares is an aware UTC datetime.

Why one helper: SQLite keeps datetimes as text without a zone and PostgreSQL as
`timestamptz`; both compare correctly only if everything is UTC. A naive datetime passed
by a caller is taken to be UTC already (the bus runs in UTC), never local time.
"""

from __future__ import annotations

from datetime import UTC, datetime


def as_utc(value: datetime) -> datetime:
    """The same instant as an aware UTC datetime (naive input is read as UTC)."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def utc_now() -> datetime:
    """Now, aware, in UTC."""
    return datetime.now(UTC)


def iso_utc(value: datetime) -> str:
    """Fixed-width ISO 8601 text of an instant (UTC, microseconds): stable for hashing."""
    return as_utc(value).isoformat(timespec="microseconds")
