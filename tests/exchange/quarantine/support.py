"""What the quarantine, key-index and report tests share: a small catalog, in-memory sources.

The catalog is a copy of the sample's tax.income and registry.residents with one
subscription (Benefits, by statute, into a SQLite file), so the numbers are exact; a
test may edit a contract in it (`edit_contract`) and reopen the bus, as an operator
fixing a contract would.
"""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
import sqlalchemy as sa
import yaml

from connectors import SourceBatch
from exchange import Bus, state
from tests.conftest import CATALOG

BENEFITS = """agency: benefits
subscriptions:
  - id: benefits.tax-income
    dataset: tax.income
    purpose: BENEFIT_ELIGIBILITY
    basis: {statute: SBA-12}
    fields: [return_id, national_id, tax_year, filing_status, municipality_code,
             gross_income, taxable_income, tax_due, postal_code, updated_at]
    sink:
      connector: sql
      url: sqlite:///${GOVBUS_HOME}/agencies/benefits/benefits.db
      table: tax_income
"""


def small_catalog(root: Path) -> Path:
    """tax.income and registry.residents, one subscription; returns the catalog folder."""
    catalog = root / "catalog"
    for name in ("agencies.yaml", "purposes.yaml", "legal-bases.yaml"):
        (catalog / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(CATALOG / name, catalog / name)
    shutil.copytree(CATALOG / "keys", catalog / "keys")  # agencies' published delivery keys
    for dataset in ("tax.income", "registry.residents"):
        shutil.copytree(CATALOG / "datasets" / dataset, catalog / "datasets" / dataset)
    (catalog / "subscriptions").mkdir()
    (catalog / "subscriptions" / "benefits.yaml").write_text(BENEFITS, encoding="utf-8")
    return catalog


def edit_contract(catalog: Path, dataset: str, change: Callable[[dict[str, Any]], None]) -> None:
    """Change a contract of the test catalog (as YAML data)."""
    path = catalog / "datasets" / dataset / "contract.yaml"
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(document)
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")


class ListSource:
    """A Source over in-memory tables: each `read` yields the tables not yet read."""

    def __init__(self, tables: list[pa.Table]) -> None:
        self.tables = tables

    def read(self, cursor: Any, *, batch_size: int = 50_000) -> Iterator[SourceBatch]:
        start = (cursor or {}).get("done", 0)
        for i, table in enumerate(self.tables[start:], start):
            yield SourceBatch(table, {"done": i + 1})

    def close(self) -> None:
        pass


class Sources:
    """Per-dataset in-memory sources for a bus; `feed` appends the next run's batches."""

    def __init__(self) -> None:
        self.tables: dict[str, list[pa.Table]] = {}

    def feed(self, dataset: str, *batches: list[dict[str, Any]]) -> None:
        self.tables.setdefault(dataset, []).extend(pa.Table.from_pylist(rows) for rows in batches)

    def attach(self, bus: Bus, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(bus, "source_for", lambda dataset: ListSource(self.tables.get(dataset.id, [])))


def tax_row(n: int, **changes: Any) -> dict[str, Any]:
    """A valid tax.income source row (text amounts, as the legacy system has them)."""
    row = {
        "return_id": f"R{n:09d}",
        "national_id": f"{10_000_000_000 + n}",
        "tax_year": 2024,
        "filing_status": "SINGLE",
        "municipality_code": "0301",
        "gross_income": "1000.00",
        "taxable_income": "900.00",
        "tax_due": "198.00",
        "postal_code": None,
        "updated_at": dt.datetime.now(dt.UTC) - dt.timedelta(hours=1),
    }
    row.update(changes)
    return row


def resident_row(national_id: str, **changes: Any) -> dict[str, Any]:
    """A valid registry.residents source row."""
    row = {
        "national_id": national_id,
        "surname": "Example",
        "given_name": "Person",
        "birth_date": 19800101,
        "municipality_code": "0301",
        "household_size": 2,
        "monthly_allowance": "0.00",
    }
    row.update(changes)
    return row


def quarantined(bus: Bus, dataset: str | None = None) -> list[Any]:
    """Every quarantine row (any status), oldest first."""
    q = state.quarantine
    query = sa.select(q).order_by(q.c.id)
    if dataset:
        query = query.where(q.c.dataset == dataset)
    with bus.engine.connect() as conn:
        return list(conn.execute(query).all())


def ledger_entries(bus: Bus, kind: str) -> list[Any]:
    with bus.engine.connect() as conn:
        return bus.ledger.entries(conn, kind=kind)
