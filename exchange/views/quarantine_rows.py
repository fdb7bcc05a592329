"""Quarantined rows as `govbus quarantine list | show` show them: keys and reasons, values masked.

`open_rows` is the listing: open rows with their key (a personal key masked) or, for a
line the source could not read, its position, and every reason. `row_detail` is one row
in full, each field with its classification and the text `exchange.quarantine.view`
allows (personal, sensitive and unclassified values, and the raw text of an unreadable
line, masked as `•••` unless revealed — and a reveal is in the ledger before this is
called). JSON shapes (docs/cli-output.md):

    list: {"open", "shown", "rows": [{"id", "dataset", "stage_id", "key", "position",
                                      "reasons"}]}
    show: {"revealed", "ledger_seq", "rows": [{"id", "dataset", "status", "stage_id",
           "position", "created_at", "reasons", "fields": [{"name", "classification",
           "value"}]}]}

`key` is null for an unreadable line (its `position` says where it was); `value` is the
text shown (`null` for a null value). CSV: `LIST_CSV_COLUMNS` (reasons joined with `;`)
and `SHOW_CSV_COLUMNS` (one row per field of each row).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from exchange import state
from exchange.quarantine import view as quarantine_view
from exchange.views.plain import iso_times

if TYPE_CHECKING:
    from exchange.bus import Bus
    from exchange.quarantine.view import QuarantinedRow

__all__ = [
    "LIST_CSV_COLUMNS",
    "SHOW_CSV_COLUMNS",
    "QuarantineDetail",
    "QuarantineLine",
    "QuarantineListing",
    "ShownField",
    "open_rows",
    "row_detail",
    "show_csv_rows",
]


@dataclass(frozen=True)
class QuarantineLine:
    """An open row of the listing: its key (masked if personal) or position, and its reasons."""

    id: int
    dataset: str
    stage_id: str
    key: str | None
    position: str | None
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class QuarantineListing:
    """The open rows asked for: `open` of them in all, the first `shown` here."""

    open: int
    shown: int
    rows: tuple[QuarantineLine, ...]

    def to_json(self) -> dict[str, Any]:
        """The documented JSON shape."""
        return asdict(self)

    def csv_rows(self) -> list[dict[str, Any]]:
        """Rows of `LIST_CSV_COLUMNS`."""
        return [asdict(line) for line in self.rows]


LIST_CSV_COLUMNS = ("id", "dataset", "stage_id", "key", "position", "reasons")
"""The CSV header of `govbus quarantine list --format csv`."""


@dataclass(frozen=True)
class ShownField:
    """A field of a quarantined record: its classification and the text shown (maybe masked)."""

    name: str
    classification: str
    value: str


@dataclass(frozen=True)
class QuarantineDetail:
    """One quarantined row in full (values as `exchange.quarantine.view` allows them)."""

    id: int
    dataset: str
    status: str
    stage_id: str
    position: str | None
    created_at: datetime
    reasons: tuple[str, ...]
    fields: tuple[ShownField, ...]

    def to_json(self) -> dict[str, Any]:
        """The row in the documented JSON shape (time as ISO text)."""
        shaped: dict[str, Any] = iso_times(asdict(self))
        return shaped


SHOW_CSV_COLUMNS = (
    "id",
    "dataset",
    "status",
    "stage_id",
    "position",
    "reasons",
    "field",
    "classification",
    "value",
)
"""The CSV header of `govbus quarantine show --format csv`: one row per field of each row."""


def open_rows(bus: Bus, *, dataset: str | None, limit: int) -> QuarantineListing:
    """The first `limit` open rows (of `dataset`, or all), oldest first, keys masked as `show` does."""
    q = state.quarantine
    query = (
        sa.select(q.c.id, q.c.dataset, q.c.stage_id, q.c.record, q.c.reasons, q.c.position)
        .where(q.c.status == "open")  # replayed, superseded and discarded rows are resolved
        .order_by(q.c.id)
        .limit(limit)
    )
    count = sa.select(sa.func.count()).select_from(q).where(q.c.status == "open")
    if dataset:
        query = query.where(q.c.dataset == dataset)
        count = count.where(q.c.dataset == dataset)
    lines: list[QuarantineLine] = []
    with bus.engine.connect() as conn:
        total = int(conn.execute(count).scalar_one())
        for row in conn.execute(query):
            lines.append(
                QuarantineLine(
                    row.id, row.dataset, row.stage_id, _key(bus, row), row.position, tuple(row.reasons)
                )
            )
    return QuarantineListing(total, len(lines), tuple(lines))


def _key(bus: Bus, row: Any) -> str | None:
    """The row's key fields, a personal one masked; None for a line the source could not read."""
    if row.position:
        return None
    known = bus.catalog.datasets.get(row.dataset)
    keys = known.contract.key_fields if known is not None else ()
    personal = set(known.contract.fields_classified("personal", "sensitive")) if known else set()
    return ", ".join(quarantine_view.MASK if k in personal else str(row.record.get(k)) for k in keys)


def row_detail(bus: Bus, row: QuarantinedRow, *, reveal: bool) -> QuarantineDetail:
    """One found row with each field's shown text (masked unless `reveal`)."""
    fields = tuple(
        ShownField(name, kind, text)
        for name, kind, text in quarantine_view.shown_fields(bus, row, reveal=reveal)
    )
    return QuarantineDetail(
        row.id,
        row.dataset,
        row.status,
        row.stage_id,
        row.position,
        row.created_at,
        tuple(row.reasons),
        fields,
    )


def show_csv_rows(details: list[QuarantineDetail]) -> list[dict[str, Any]]:
    """Rows of `SHOW_CSV_COLUMNS`: each row's fields, one line each."""
    return [
        {
            "id": d.id,
            "dataset": d.dataset,
            "status": d.status,
            "stage_id": d.stage_id,
            "position": d.position,
            "reasons": d.reasons,
            "field": f.name,
            "classification": f.classification,
            "value": f.value,
        }
        for d in details
        for f in d.fields
    ]
