"""`catalog.changed` ledger entries: a changed catalog is recorded once, an unchanged one never."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import pytest
from typer.testing import CliRunner

import audit
from exchange import Bus
from exchange.cli.main import app
from exchange.demo import deployment as demo
from exchange.run.catalog_changes import CATALOG_CHANGED, catalog_items, record_catalog_change
from tests.conftest import CATALOG

HOUSING_FIELDS = "fields: [return_id, national_id, tax_year, gross_income, taxable_income, updated_at]"


@pytest.fixture
def catalog(
    govbus_home: Path, state_url: str | None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """A temporary copy of the sample catalog that the bus reads (edit it freely)."""
    copy = tmp_path / "catalog"
    shutil.copytree(CATALOG, copy)
    monkeypatch.setenv("GOVBUS_CATALOG", str(copy))
    return copy


def _entries(kind: str | None = None) -> list[audit.LedgerEntry]:
    bus = Bus.open()
    try:
        with bus.engine.connect() as conn:
            return bus.ledger.entries(conn, kind=kind)
    finally:
        bus.close()


def _run_tax(*, new_data: bool = False) -> None:
    bus = Bus.open()
    try:
        if new_data:
            demo.change_some(bus)
        (result,) = bus.run(["tax.income"])
        assert result.ok, result.failures
    finally:
        bus.close()


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def test_a_run_records_a_changed_subscription_once_and_an_unchanged_catalog_never(catalog):
    bus = Bus.open()
    try:
        demo.seed(bus, rows=300)
        items, _ = catalog_items(bus.catalog)
    finally:
        bus.close()
    _run_tax()
    [first] = _entries(CATALOG_CHANGED)
    assert first.payload["previous_sha256"] is None  # the first run records the whole catalog
    assert [c["item"] for c in first.payload["changes"]] == sorted(items)
    assert {c["change"] for c in first.payload["changes"]} == {"added"}
    assert "subscription:housing.tax-income" in items and "schema:tax.income/v1" in items

    _run_tax()  # no change: no entry
    assert len(_entries(CATALOG_CHANGED)) == 1

    _edit(
        catalog / "subscriptions" / "housing.yaml",
        HOUSING_FIELDS,
        "fields: [return_id, national_id, tax_year, gross_income, updated_at]",
    )
    before = _entries()[-1].seq
    _run_tax(new_data=True)
    same_first, second = _entries(CATALOG_CHANGED)
    assert same_first == first
    assert second.seq == before + 1  # before anything of this run: the stage starts with it
    assert (
        second.payload["previous_sha256"]
        == first.payload["catalog_sha256"]
        != second.payload["catalog_sha256"]
    )
    [change] = second.payload["changes"]
    old_sha = first.payload["items"]["subscription:housing.tax-income"]
    assert change == {
        "item": "subscription:housing.tax-income",
        "change": "changed",
        "old_sha256": old_sha,
        "new_sha256": second.payload["items"]["subscription:housing.tax-income"],
        "fields_added": [],
        "fields_removed": ["taxable_income"],
    }
    # The deliveries after it carry the new fields; the whole ledger still verifies.
    housing = [e for e in _entries("delivery") if e.payload["recipient"] == "housing" and e.seq > second.seq]
    assert housing and all("taxable_income" not in e.payload["fields"] for e in housing)
    bus = Bus.open()
    try:
        with bus.engine.connect() as conn:
            assert bus.ledger.verify(conn).ok
    finally:
        bus.close()


def test_layout_comments_and_key_order_are_not_changes(catalog):
    bus = Bus.open()
    try:
        assert record_catalog_change(bus) is not None
    finally:
        bus.close()
    housing = catalog / "subscriptions" / "housing.yaml"
    text = housing.read_text()
    reordered = text.replace("    purpose: HOUSING_ALLOWANCE\n", "").replace(
        "    basis: consent\n",
        "    basis: consent  # applicants consent on the form\n    purpose: HOUSING_ALLOWANCE\n",
    )
    housing.write_text("# Housing Agency: reviewed 2026-11\n" + reordered)
    bus = Bus.open()
    try:
        assert record_catalog_change(bus) is None
    finally:
        bus.close()
    assert len(_entries(CATALOG_CHANGED)) == 1


def test_each_kind_of_item_is_named_added_removed_or_changed(catalog):
    bus = Bus.open()
    try:
        record_catalog_change(bus)
    finally:
        bus.close()
    _edit(catalog / "agencies.yaml", "name: Housing Agency", "name: Housing and Homes Agency")
    _edit(catalog / "purposes.yaml", "Producing official statistics;", "Producing the official statistics;")
    _edit(catalog / "datasets" / "tax.income" / "contract.yaml", "freshness: P2D", "freshness: P3D")
    (catalog / "subscriptions" / "statistics.yaml").unlink()
    bus = Bus.open()
    try:
        entry = record_catalog_change(bus)
        assert record_catalog_change(bus) is None
    finally:
        bus.close()
    assert entry is not None and entry.kind == CATALOG_CHANGED
    changes = {c["item"]: c["change"] for c in entry.payload["changes"]}
    assert changes == {
        "agency:housing": "changed",
        "dataset:tax.income": "changed",
        "purpose:OFFICIAL_STATISTICS": "changed",
        "subscription:statistics.tax-income": "removed",
    }
    removed = next(c for c in entry.payload["changes"] if c["change"] == "removed")
    assert removed["new_sha256"] is None and removed["fields_added"] == []
    assert "tax_year" in removed["fields_removed"]
    # Names and fingerprints only: nothing of the catalog's text (let alone data).
    assert "Housing and Homes" not in audit.canonical_json(entry.payload)


def test_workers_starting_together_record_a_change_once(catalog):
    buses = [Bus.open() for _ in range(4)]
    barrier = threading.Barrier(len(buses))
    recorded: list[object] = []

    def work(bus: Bus) -> None:
        barrier.wait()
        recorded.append(record_catalog_change(bus))

    threads = [threading.Thread(target=work, args=(b,)) for b in buses]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    for b in buses:
        b.close()
    assert len(recorded) == 4 and sum(1 for r in recorded if r is not None) == 1
    assert len(_entries(CATALOG_CHANGED)) == 1


def test_the_command_records_on_demand(catalog, monkeypatch):
    from exchange.cli import audit as cli_audit

    monkeypatch.setattr(cli_audit.console, "width", 200)
    runner = CliRunner()
    first = runner.invoke(app, ["audit", "catalog"])
    assert first.exit_code == 0 and "recorded entry 1" in first.output and "added" in first.output
    assert "nothing changed" in runner.invoke(app, ["audit", "catalog"]).output
    _edit(catalog / "subscriptions" / "housing.yaml", "taxable_income, ", "")
    third = runner.invoke(app, ["audit", "catalog"])
    assert "changed  subscription:housing.tax-income  fields -taxable_income" in third.output
    assert "recorded entry 2: 1 change(s)" in third.output
    assert [e.kind for e in _entries()] == [CATALOG_CHANGED, CATALOG_CHANGED]
