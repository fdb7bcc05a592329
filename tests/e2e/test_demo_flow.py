"""The sample deployment end to end: stage → deliver → commit on real SQLite and Parquet."""

from __future__ import annotations

import json
from collections import Counter

import pyarrow.compute as pc
import pytest
import sqlalchemy as sa

from exchange.demo import deployment as demo
from tests.e2e.catalog_variants import use_pre_disclosure_catalog
from tests.e2e.helpers import (
    benefits_rows,
    housing_rows,
    source_rows,
    sql_rows,
    statistics_files,
    statistics_table,
)

# These tests are about other mechanics (deliveries, purges, crashes, lifecycles, reports) on
# the Statistics Office's pseudonymized, complete copy: the sample as it was before disclosure
# control. The sample's disclosure policy is tested in tests/e2e/test_privacy_linkage.py.
_before_disclosure = pytest.fixture(autouse=True, name="_before_disclosure")(use_pre_disclosure_catalog)

ROWS = 2_000
TAX = ["tax.income"]


@pytest.fixture
def seeded(bus):
    report = demo.seed(bus, rows=ROWS)
    return report


def _good_source_rows(bus) -> list[dict]:
    """Source rows that pass the contract: the same rules, restated independently."""
    import re

    statuses = {"SINGLE", "JOINT", "SEPARATE", "HEAD_OF_HOUSEHOLD"}
    good = []
    for r in source_rows(bus.settings.home):
        gross = r["gross_income"] or ""
        if (
            r["national_id"] is not None
            and re.fullmatch(r"[0-9]{11}", r["national_id"])
            and re.fullmatch(r"[0-9]+\.[0-9]{2}", gross)
            and float(gross) <= 100_000_000
            and r["filing_status"] in statuses
            and re.fullmatch(r"[0-9]{4}", r["municipality_code"])
        ):
            good.append(r)
    return good


def _active_housing_subjects(bus) -> set[str]:
    from consent.register.tables import consents as consents_table  # test reads the register directly

    refs = set()
    with bus.engine.connect() as conn:
        active = sa.select(consents_table).where(
            consents_table.c.status == "ACTIVE", consents_table.c.recipient == "housing"
        )
        for row in conn.execute(active):
            refs.add(row.subject_ref)
    return refs


def test_first_run_delivers_every_good_row_to_each_subscriber(bus, seeded):
    results = bus.run(TAX)
    (result,) = results
    assert result.ok, result.failures
    good = _good_source_rows(bus)
    assert result.rows_read == ROWS
    assert result.rows_quarantined == ROWS - len(good) == seeded.broken

    # Benefits (statute, all fields): every good row once, exact decimals.
    received = benefits_rows(bus.settings.home)
    assert sorted(r["return_id"] for r in received) == sorted(r["return_id"] for r in good)
    by_id = {r["return_id"]: r for r in good}
    for r in received[:50]:
        assert str(r["gross_income"]) == by_id[r["return_id"]]["gross_income"]

    # Statistics (statute, minimized, pseudonymized): no identifier leaves.
    stats = statistics_table(bus.settings.home)
    assert stats.num_rows == len(good)
    assert "national_id" not in stats.column_names and "return_id" not in stats.column_names
    pseudonyms = set(stats["subject_pseudonym"].to_pylist())
    ids = {r["national_id"] for r in good}
    assert not pseudonyms & ids
    assert len(pseudonyms) == len(ids)  # one stable pseudonym per person
    assert all(len(p) == 64 for p in pseudonyms)

    # Housing (consent): exactly the rows whose subject has an active consent.
    import consent

    active = _active_housing_subjects(bus)
    refs = consent.pseudonymize(
        __import__("pyarrow").array([r["national_id"] for r in good]), bus.keys.audit_key()
    ).to_pylist()
    expected = sorted(r["return_id"] for r, ref in zip(good, refs, strict=True) if ref in active)
    got = sorted(r["return_id"] for r in housing_rows(bus.settings.home))
    assert got == expected
    assert 0 < len(got) < len(good)
    assert result.deliveries["housing.tax-income"].rows_denied == len(good) - len(expected)


def test_second_run_delivers_nothing_then_only_changes(bus, seeded):
    bus.run(TAX)
    files_before = len(statistics_files(bus.settings.home))
    (again,) = bus.run(TAX)
    assert again.rows_read == 0
    assert all(d.rows_delivered == 0 for d in again.deliveries.values())
    assert len(statistics_files(bus.settings.home)) == files_before

    changed, new = demo.change_some(bus)
    (third,) = bus.run(TAX)
    assert 0 < third.rows_read <= changed + new
    assert third.rows_read >= new
    assert third.deliveries["benefits.tax-income"].rows_delivered == third.rows_read - third.rows_quarantined
    assert len(benefits_rows(bus.settings.home)) == len(_good_source_rows(bus))
    # The Benefits copy equals the source for every good row, updated values included.
    source = {r["return_id"]: r["gross_income"] for r in _good_source_rows(bus)}
    assert {r["return_id"]: str(r["gross_income"]) for r in benefits_rows(bus.settings.home)} == source


def test_crash_after_sink_write_then_rerun_is_exactly_once(bus, seeded):
    crashes = Counter()

    def crash(batch_id: str) -> None:
        """Crash once per subscription, after its second batch was written."""
        for victim in ("statistics", "benefits"):
            if victim in batch_id:
                crashes[victim] += 1
                if crashes[victim] == 2:
                    raise RuntimeError("power cut after the sink wrote")

    bus.hooks.after_sink_write = crash
    (first,) = bus.run(TAX)
    assert set(first.failures) == {"benefits.tax-income", "statistics.tax-income"}
    assert "housing.tax-income" in first.deliveries  # the others were not held back
    # Written: the first (logged), the second (crashed before its log) and the third, which
    # the sink writes while the second's audit work finishes; the retry rewrites both.
    assert len(statistics_files(bus.settings.home)) == 3

    (second,) = bus.run(TAX)  # the retry
    assert second.ok, second.failures
    good = _good_source_rows(bus)
    received = benefits_rows(bus.settings.home)
    assert Counter(r["return_id"] for r in received) == Counter(r["return_id"] for r in good)
    stats = statistics_table(bus.settings.home)
    assert stats.num_rows == len(good)  # no duplicate file, no missing batch
    # One ledger entry per delivered batch, none for the crashed attempt.
    from audit.tables import ledger as ledger_table

    with bus.engine.connect() as conn:
        kinds = Counter(
            json.loads(p)["subscription"]
            for p in conn.execute(
                sa.select(ledger_table.c.payload).where(ledger_table.c.kind == "delivery")
            ).scalars()
        )
        batches = dict(
            conn.execute(
                sa.text("SELECT subscription_id, count(*) FROM deliveries GROUP BY subscription_id")
            ).all()
        )
    assert kinds == Counter(batches)


def test_revoked_consent_stops_delivery_of_that_subject(bus, seeded):
    bus.run(TAX)
    housing = housing_rows(bus.settings.home)
    victim = housing[0]["national_id"]
    from consent.register.tables import consents as consents_table

    ref = bus.register.subject_ref(victim)
    with bus.engine.begin() as conn:
        consent_id = conn.execute(
            sa.select(consents_table.c.consent_id).where(
                consents_table.c.subject_ref == ref,
                consents_table.c.status == "ACTIVE",
                consents_table.c.recipient == "housing",
            )
        ).scalar_one()
        bus.register.revoke(conn, consent_id)
    # The source corrects every return of that person, and one of someone else's.
    other = next(r for r in housing if r["national_id"] != victim)
    engine = sa.create_engine(demo.tax_db_url(bus))
    with engine.begin() as conn:
        conn.execute(
            sa.update(demo.income_returns)
            .where(demo.income_returns.c.national_id.in_([victim, other["national_id"]]))
            .values(taxable_income="1.00", updated_at=__import__("datetime").datetime(2027, 1, 1))
        )
    engine.dispose()
    (result,) = bus.run(TAX)
    assert result.ok
    after = housing_rows(bus.settings.home)
    victim_rows = [r for r in after if r["national_id"] == victim]
    assert victim_rows and all(str(r["taxable_income"]) != "1.00" for r in victim_rows)
    assert any(str(r["taxable_income"]) == "1.00" for r in after if r["national_id"] == other["national_id"])
    benefits = [r for r in benefits_rows(bus.settings.home) if r["national_id"] == victim]
    assert benefits and all(str(r["taxable_income"]) == "1.00" for r in benefits)
    assert result.deliveries["housing.tax-income"].rows_denied >= len(victim_rows)


def test_statistics_pseudonyms_differ_from_what_another_recipient_would_get(bus, seeded):
    import consent

    bus.run(TAX)
    stats = statistics_table(bus.settings.home)
    ids = __import__("pyarrow").array([r["national_id"] for r in _good_source_rows(bus)])
    for_stats = set(
        consent.pseudonymize(ids, bus.keys.pseudonym_key("statistics", "OFFICIAL_STATISTICS")).to_pylist()
    )
    for_housing = set(
        consent.pseudonymize(ids, bus.keys.pseudonym_key("housing", "OFFICIAL_STATISTICS")).to_pylist()
    )
    assert set(stats["subject_pseudonym"].to_pylist()) == for_stats
    assert not for_stats & for_housing
    assert pc.all(pc.is_valid(stats["gross_income"])).as_py()


def test_registry_mainframe_export_reaches_benefits_and_bad_records_keep_their_offset(bus, seeded):
    from exchange import state
    from exchange.demo import registry as demo_registry

    (result,) = bus.run(["registry.residents"])
    assert result.ok, result.failures
    people = ROWS // 2
    assert result.rows_read == people
    broken = people // 97  # the sample damages every 97th record
    assert result.rows_quarantined == broken
    received = sql_rows(bus.settings.home / "agencies" / "benefits" / "benefits.db", "residents")
    assert len(received) == people - broken
    assert {type(r["monthly_allowance"]).__name__ for r in received} <= {"Decimal", "str"}
    with bus.engine.connect() as conn:
        positions = (
            conn.execute(
                sa.select(state.quarantine.c.position).where(
                    state.quarantine.c.dataset == "registry.residents"
                )
            )
            .scalars()
            .all()
        )
    assert len(positions) == broken and all("residents-0000.dat@" in p for p in positions)
    # Archived only after commit; the next export is read once and updates the copy.
    archive = demo_registry.export_dir(bus) / "archive"
    assert [p.name for p in archive.iterdir()] == ["residents-0000.dat"]
    demo.change_some(bus)
    (again,) = bus.run(["registry.residents"])
    assert again.rows_read == people
    after = sql_rows(bus.settings.home / "agencies" / "benefits" / "benefits.db", "residents")
    before = {r["national_id"]: r["household_size"] for r in received}
    changed = [r for r in after if before.get(r["national_id"]) not in (None, r["household_size"])]
    assert changed
    (third,) = bus.run(["registry.residents"])
    assert third.rows_read == 0
