"""Instants in time: every timestamp consent/ stores or compares is an aware UTC datetime.

Why one helper: SQLite keeps datetimes as text without a zone and PostgreSQL as
`timestamptz`; both compare correctly only if everything is UTC. A naive datetime passed
by a caller is taken to be UTC already (the bus runs in UTC), never local time.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from govbus.errors import BadInput


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


def parse_instant(text: str, *, where: str, end_of_day: bool = False) -> datetime:
    """An instant from ISO 8601 text; a bare date is midnight UTC of that day.

    With `end_of_day`, a bare date means the midnight *after* it (an exclusive end that
    still covers the whole day, as statutes' `valid_until` does). Naive times are UTC.
    Raises BadInput naming `where` (never echoing the text).
    """
    value = text.strip() if isinstance(text, str) else ""
    try:
        if len(value) == 10:
            start = datetime.combine(date.fromisoformat(value), time(), tzinfo=UTC)
            return start + timedelta(days=1) if end_of_day else start
        return as_utc(datetime.fromisoformat(value.replace("Z", "+00:00")))
    except ValueError:
        raise BadInput(
            "is not a date (YYYY-MM-DD) or an ISO 8601 time",
            where=where,
            hint="for example 2025-01-31 or 2025-01-31T12:00:00+01:00",
        ) from None
