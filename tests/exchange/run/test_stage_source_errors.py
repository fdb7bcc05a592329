"""Rows a source could not read are quarantined with their position; the rest flows."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pyarrow as pa
import sqlalchemy as sa

from connectors import SourceBatch
from exchange import state


class ListSource:
    """A Source over in-memory tables, standing for a file source with unreadable lines."""

    def __init__(self, tables: list[pa.Table]) -> None:
        self.tables = tables

    def read(self, cursor, *, batch_size: int = 50_000) -> Iterator[SourceBatch]:
        start = (cursor or {}).get("done", 0)
        for i, table in enumerate(self.tables[start:], start):
            yield SourceBatch(table, {"done": i + 1})

    def close(self) -> None:
        pass


def _row(n: int, national_id: str | None = "12345678901") -> dict:
    return {
        "return_id": f"R{n:09d}",
        "national_id": national_id,
        "tax_year": 2024,
        "filing_status": "SINGLE",
        "municipality_code": "0301",
        "gross_income": "1000.00",
        "taxable_income": "900.00",
        "tax_due": "198.00",
        "postal_code": None,
        "updated_at": dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
    }


def test_unreadable_rows_go_to_quarantine_with_position_and_raw_text(bus, monkeypatch):
    rows = [_row(1), _row(2), _row(3, national_id="bad")]
    table = pa.Table.from_pylist(rows)
    errors = pa.array([None, "drop.csv line 3: expected 10 fields, found 7", None])
    table = table.append_column("_govbus_source_error", errors)
    table = table.append_column("_govbus_source_position", pa.array([None, "drop.csv:3", None]))
    table = table.append_column("_govbus_source_raw", pa.array([None, "R2;x;y", None]))
    monkeypatch.setattr(bus, "source_for", lambda dataset: ListSource([table]))

    report = bus.stage("tax.income")

    assert (report.rows_read, report.rows_staged, report.rows_quarantined) == (3, 1, 2)
    with bus.engine.connect() as conn:
        quarantined = conn.execute(
            sa.select(
                state.quarantine.c.reasons, state.quarantine.c.position, state.quarantine.c.record
            ).order_by(state.quarantine.c.id)
        ).all()
    by_position = {q.position: q for q in quarantined}
    unreadable = by_position["drop.csv:3"]
    assert unreadable.reasons == ["drop.csv line 3: expected 10 fields, found 7"]
    assert unreadable.record["_govbus_source_raw"] == "R2;x;y"
    invalid = by_position[None]
    assert invalid.record["return_id"] == "R000000003"
    assert any("national_id" in r for r in invalid.reasons)


def test_a_batch_of_only_unreadable_lines_or_no_rows_stages_nothing_and_loses_nothing(bus, monkeypatch):
    only_errors = pa.table(
        {
            "_govbus_source_error": pa.array(["feed.jsonl line 1: not JSON", "feed.jsonl line 2: not JSON"]),
            "_govbus_source_position": pa.array(["feed.jsonl:1", "feed.jsonl:2"]),
            "_govbus_source_raw": pa.array(["{oops", "]"]),
        }
    )
    empty = pa.table({"return_id": pa.array([], pa.string())})
    monkeypatch.setattr(bus, "source_for", lambda dataset: ListSource([only_errors, empty]))

    report = bus.stage("tax.income")

    assert (report.rows_read, report.rows_staged, report.rows_quarantined, report.segments) == (2, 0, 2, 0)
    with bus.engine.connect() as conn:
        positions = conn.execute(sa.select(state.quarantine.c.position)).scalars().all()
    assert sorted(positions) == ["feed.jsonl:1", "feed.jsonl:2"]
