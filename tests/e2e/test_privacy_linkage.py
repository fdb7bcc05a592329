"""Issue 17's linkage attack on the sample: Statistics' copy matched against Benefits' real delivery.

Before disclosure control (the sample as it was), Statistics' exact, pseudonymized returns
match Benefits' identified copy row for row on (tax year, municipality, filing status,
gross income, taxable income, tax due): almost every row is singled out. With the sample's
policy (municipality → region, amounts to bands, k = 5 per delivered batch) no row is,
every delivered batch and their union are 5-anonymous, and Housing's and Benefits'
deliveries are byte for byte what they were.

The attack here is written independently of `consent.disclosure` (plain pyarrow joins),
so the test does not grade GovBus's measure with GovBus's own code.
"""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from exchange import Bus
from exchange.demo import deployment as demo
from tests.conftest import CATALOG
from tests.e2e.catalog_variants import without_disclosure
from tests.e2e.helpers import benefits_rows, housing_rows, statistics_files

ROWS = 20_000  # the sample's size: the figure is on it
QIS = ["tax_year", "municipality_code", "filing_status", "gross_income", "taxable_income", "tax_due"]
REGION = {"0": "NORTH", "1": "EAST", "2": "SOUTH", "3": "WEST", "4": "CENTRAL"}
BANDS = {"gross_income": (20_000, 100_000), "taxable_income": (20_000, 100_000), "tax_due": (5_000, 20_000)}


def _run(home: Path, catalog: Path, monkeypatch: pytest.MonkeyPatch, batch: int) -> Path:
    monkeypatch.setenv("GOVBUS_HOME", str(home))
    monkeypatch.setenv("GOVBUS_CATALOG", str(catalog))
    monkeypatch.setenv("GOVBUS_BATCH_SIZE", str(batch))
    monkeypatch.delenv("GOVBUS_STATE_URL", raising=False)
    bus = Bus.open()
    try:
        demo.seed(bus, rows=ROWS)
        (result,) = bus.run(["tax.income"])
        assert result.ok, result.failures
    finally:
        bus.close()
    return home


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The sample run twice: as it was before issue 17, and as it is now (one batch each)."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        before_catalog = tmp_path_factory.mktemp("catalog") / "catalog"
        shutil.copytree(CATALOG, before_catalog)
        without_disclosure(before_catalog)
        before = _run(tmp_path_factory.mktemp("before"), before_catalog, monkeypatch, 50_000)
        after = _run(tmp_path_factory.mktemp("after"), CATALOG, monkeypatch, 50_000)
        batched = _run(tmp_path_factory.mktemp("batched"), CATALOG, monkeypatch, 3_000)
    return {"before": before, "after": after, "batched": batched}


def _benefits_table(home: Path) -> pa.Table:
    rows = benefits_rows(home)
    return pa.table(
        {
            "national_id": [r["national_id"] for r in rows],
            "tax_year": pa.array([r["tax_year"] for r in rows], pa.int64()),
            "municipality_code": [r["municipality_code"] for r in rows],
            "filing_status": [r["filing_status"] for r in rows],
            **{name: pa.array([float(r[name]) for r in rows]) for name in BANDS},
        }
    )


def _as_statistics_sees_it(benefits: pa.Table, generalized: bool) -> pa.Table:
    """Benefits' values brought to the level of Statistics' copy, as an attacker would."""
    if not generalized:
        return benefits
    out = benefits.set_column(
        2, "municipality_code", pc.take(pa.array(list(REGION.values())), pc.index_in(
            pc.utf8_slice_codeunits(benefits["municipality_code"], 0, 1), value_set=pa.array(list(REGION))
        ))
    )  # fmt: skip
    for name, (band, top) in BANDS.items():
        clamped = pc.min_element_wise(out[name], float(top))
        out = out.set_column(
            out.schema.get_field_index(name), name, pc.multiply(pc.floor(pc.divide(clamped, band)), band)
        )
    return out


def _cents(table: pa.Table) -> pa.Table:
    """Amounts as whole cents (int64): exact keys for a join, whatever float each side went through."""
    for name in BANDS:
        cents = pc.cast(pc.round(pc.multiply(table[name], 100.0)), pa.int64())
        table = table.set_column(table.schema.get_field_index(name), name, cents)
    return table


def _singled_out(statistics: pa.Table, benefits: pa.Table) -> int:
    """Statistics rows whose six values match exactly one row of Benefits' copy."""
    benefits = _cents(benefits)
    left = _cents(statistics).select(QIS).cast(pa.schema([(q, benefits.schema.field(q).type) for q in QIS]))
    counts = benefits.group_by(QIS).aggregate([("national_id", "count")])
    joined = left.join(counts, keys=QIS, join_type="left outer")
    return int(pc.sum(pc.equal(pc.fill_null(joined["national_id_count"], 0), 1)).as_py() or 0)


def _statistics(home: Path) -> tuple[pa.Table, list[pa.Table]]:
    batches = [pq.read_table(p) for p in statistics_files(home)]
    table = pa.concat_tables(batches)
    for name in BANDS:
        table = table.set_column(table.schema.get_field_index(name), name, pc.cast(table[name], pa.float64()))
    return table.set_column(0, "tax_year", pc.cast(table["tax_year"], pa.int64())), batches


def test_before_almost_every_statistics_row_is_singled_out_after_none_is(runs: dict[str, Path]) -> None:
    before, _ = _statistics(runs["before"])
    after, batches = _statistics(runs["after"])
    benefits = _benefits_table(runs["before"])
    assert benefits.num_rows == before.num_rows == 19_800  # the sample's 20,000 less the quarantined 1 %

    singled_before = _singled_out(before, benefits)
    assert singled_before / before.num_rows > 0.95  # issue 17 measured 98 %
    singled_after = _singled_out(after, _as_statistics_sees_it(_benefits_table(runs["after"]), True))
    assert singled_after == 0
    print(
        f"\nlinkage attack: before {singled_before:,} of {before.num_rows:,} Statistics rows singled out "
        f"({singled_before / before.num_rows:.1%}); after {singled_after} of {after.num_rows:,}"
    )
    # No subject column reaches Statistics any more, not even a pseudonym.
    assert "subject_pseudonym" in before.column_names
    assert {"subject_pseudonym", "national_id", "return_id"}.isdisjoint(after.column_names)
    # k >= 5 on every delivered batch and on their union; most returns still arrive.
    for table in [*batches, after]:
        sizes = table.group_by(QIS).aggregate([("tax_year", "count")])["tax_year_count"]
        assert pc.min(sizes).as_py() >= 5
    assert after.num_rows >= 0.95 * before.num_rows


def test_housing_and_benefits_receive_exactly_what_they_did(runs: dict[str, Path]) -> None:
    for rows in (benefits_rows, housing_rows):
        then = sorted(json.dumps(r, default=str, sort_keys=True) for r in rows(runs["before"]))
        now = sorted(json.dumps(r, default=str, sort_keys=True) for r in rows(runs["after"]))
        assert then == now and then


def test_the_manifest_says_how_rows_were_coarsened(runs: dict[str, Path]) -> None:
    inbox = runs["after"] / "agencies" / "statistics" / "inbox" / "tax.income"
    (manifest,) = [json.loads(p.read_text()) for p in inbox.glob("*.manifest.json")]
    policy = manifest["delivery"]["disclosure"]
    assert manifest["rows"] == {"delivered": 19_091, "denied": 709}  # the suppressed rows are denied
    assert policy["k"] == 5 and policy["generalize"]["municipality_code"] == {"hierarchy": "region"}
    files = Counter(p.suffix for p in inbox.iterdir())
    assert files[".parquet"] == 1


def test_k_holds_on_every_batch_of_a_run_and_across_them(runs: dict[str, Path]) -> None:
    """Seven batches of one run: each alone and all together are 5-anonymous (global recoding)."""
    table, batches = _statistics(runs["batched"])
    assert len(batches) >= 6
    for batch in [*batches, table]:
        sizes = batch.group_by(QIS).aggregate([("tax_year", "count")])["tax_year_count"]
        assert pc.min(sizes).as_py() >= 5
    assert _singled_out(table, _as_statistics_sees_it(_benefits_table(runs["batched"]), True)) == 0
