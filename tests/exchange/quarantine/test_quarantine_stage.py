"""Stage-time rules that reach beyond one batch: uniqueness across the batches of a stage,
superseded quarantine rows, the referential rule and its key index of hashed keys."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from contracts import REPEAT_NOTE
from exchange import Bus, state
from tests.exchange.quarantine.support import (
    Sources,
    edit_contract,
    quarantined,
    resident_row,
    tax_row,
)

UNIQUE = "return_id: expect_column_values_to_be_unique()"


def test_a_key_split_across_two_batches_of_one_stage_is_a_duplicate(bus, monkeypatch):
    sources = Sources()
    # batch 1: R1, R2, R2 (a duplicate inside the batch: both flagged, as GX does)
    # batch 2: R1 again (already read in batch 1), R3
    sources.feed(
        "tax.income", [tax_row(1), tax_row(2), tax_row(2)], [tax_row(1, gross_income="5.00"), tax_row(3)]
    )
    sources.attach(bus, monkeypatch)

    report = bus.stage("tax.income")

    assert (report.rows_read, report.rows_staged, report.rows_quarantined) == (5, 2, 3)
    rows = quarantined(bus)
    by_reason = sorted((r.record["return_id"], r.reasons) for r in rows)
    assert by_reason == [
        ("R000000001", [UNIQUE + REPEAT_NOTE]),  # the later one; the first was staged with batch 1
        ("R000000002", [UNIQUE]),
        ("R000000002", [UNIQUE]),
    ]


def test_the_same_key_in_a_later_stage_is_an_update_not_a_duplicate(bus, monkeypatch):
    sources = Sources()
    sources.feed("tax.income", [tax_row(1), tax_row(2)])
    sources.attach(bus, monkeypatch)
    assert bus.stage("tax.income").rows_staged == 2
    sources.feed("tax.income", [tax_row(1, gross_income="1200.00")])  # the source corrected R1

    report = bus.stage("tax.income")

    assert (report.rows_staged, report.rows_quarantined) == (1, 0)


def test_compound_uniqueness_spans_batches_and_follows_ignore_row_if(catalog, state_url, monkeypatch):
    def compound(doc):
        doc["expectations"].append(
            {
                "type": "expect_compound_columns_to_be_unique",
                "kwargs": {"column_list": ["national_id", "tax_year", "postal_code"]},
            }
        )

    edit_contract(catalog, "tax.income", compound)
    bus = Bus.open()
    sources = Sources()
    person = "12345678901"
    sources.feed(
        "tax.income",
        [tax_row(1, national_id=person, postal_code="1000"), tax_row(2, national_id=person, tax_year=2023)],
        # same (person, 2024, "1000") as R1: a repeat; (person, 2023, None) as R2: nulls equal
        [tax_row(3, national_id=person, postal_code="1000"), tax_row(4, national_id=person, tax_year=2023)],
    )
    sources.attach(bus, monkeypatch)
    try:
        report = bus.stage("tax.income")
        rows = quarantined(bus)
    finally:
        bus.close()
    assert (report.rows_staged, report.rows_quarantined) == (2, 2)
    assert sorted(r.record["return_id"] for r in rows) == ["R000000003", "R000000004"]
    assert all(r.reasons[0].endswith(REPEAT_NOTE) for r in rows)


def test_an_open_row_is_superseded_when_its_key_arrives_valid(bus, monkeypatch):
    sources = Sources()
    sources.feed("tax.income", [tax_row(1), tax_row(2, filing_status="UNKNOWN")])
    sources.attach(bus, monkeypatch)
    first = bus.stage("tax.income")
    [row] = quarantined(bus)
    assert row.status == "open"
    sources.feed("tax.income", [tax_row(2, filing_status="JOINT")])  # fixed at the source

    second = bus.stage("tax.income")

    [row] = quarantined(bus)
    assert (row.status, row.resolved_stage_id) == ("superseded", second.stage_id)
    assert first.stage_id != second.stage_id


def _refer_to_residents(doc):
    doc["expectations"].append(
        {
            "type": "expect_column_values_to_be_in_dataset_keys",
            "kwargs": {"column": "national_id", "dataset": "registry.residents"},
        }
    )


def test_referential_rule_checks_the_hashed_keys_of_the_other_dataset(catalog, state_url, monkeypatch):
    edit_contract(catalog, "tax.income", _refer_to_residents)
    known, unknown = "11111111111", "22222222222"
    bus = Bus.open()
    sources = Sources()
    sources.feed("registry.residents", [resident_row(known), resident_row("33333333333", household_size=99)])
    sources.feed("tax.income", [tax_row(1, national_id=known), tax_row(2, national_id=unknown)])
    sources.attach(bus, monkeypatch)
    try:
        residents = bus.stage("registry.residents")
        report = bus.stage("tax.income")
        with bus.engine.connect() as conn:
            index = conn.execute(sa.select(state.dataset_keys)).all()
        rows = quarantined(bus, "tax.income")
    finally:
        bus.close()
    assert (residents.rows_staged, residents.rows_quarantined) == (1, 1)
    # only the staged resident is a key; what is stored is a 64-hex keyed hash, not the id
    assert [(r.dataset, r.field, r.stage_id) for r in index] == [
        ("registry.residents", "national_id", residents.stage_id)
    ]
    assert len(index[0].key_hash) == 64 and known not in index[0].key_hash
    assert (report.rows_staged, report.rows_quarantined) == (1, 1)
    [row] = rows
    assert row.record["national_id"] == unknown
    assert row.reasons == [
        "national_id: expect_column_values_to_be_in_dataset_keys(dataset='registry.residents')"
    ]


def test_no_raw_identifier_reaches_the_key_index_table(catalog, state_url, monkeypatch):
    edit_contract(catalog, "tax.income", _refer_to_residents)
    ids = [f"{40_000_000_000 + i}" for i in range(50)]
    bus = Bus.open()
    sources = Sources()
    sources.feed("registry.residents", [resident_row(i) for i in ids])
    sources.attach(bus, monkeypatch)
    try:
        bus.stage("registry.residents")
        with bus.engine.connect() as conn:
            rows = conn.execute(sa.select(state.dataset_keys)).all()
    finally:
        bus.close()
    dump = repr(rows)
    assert len(rows) == len({r.key_hash for r in rows}) == 50
    assert not any(i in dump for i in ids)


def test_a_crashed_stage_takes_its_keys_with_it(catalog, state_url, monkeypatch):
    edit_contract(catalog, "tax.income", _refer_to_residents)
    bus = Bus.open()
    sources = Sources()
    sources.feed("registry.residents", [resident_row("11111111111")], [resident_row("22222222222")])

    class Crash(Exception):
        pass

    progress = []

    def crash_after_first_batch(event, rows):
        progress.append(rows)
        if len(progress) == 1:
            raise Crash

    sources.attach(bus, monkeypatch)
    bus.hooks.progress = crash_after_first_batch
    try:
        with pytest.raises(Crash):
            bus.stage("registry.residents")
        with bus.engine.connect() as conn:
            # The crash came as the first batch landed; the stage pipeline may have written the
            # second batch by then (exchange/run/stage_pipeline.py): the crashed stage holds 1 or 2.
            crashed = conn.execute(sa.select(state.dataset_keys.c.stage_id)).scalars().all()
        assert len(crashed) in (1, 2) and len(set(crashed)) == 1
        bus.hooks.progress = None
        retry = bus.stage("registry.residents")  # discards the crashed attempt first
        with bus.engine.connect() as conn:
            owners = conn.execute(sa.select(state.dataset_keys.c.stage_id)).scalars().all()
    finally:
        bus.close()
    assert owners == [retry.stage_id, retry.stage_id] and crashed[0] != retry.stage_id
