"""Retention and erasure reach the bus's own copies: the snapshot, staged segments, quarantine.

Retention removes exactly the rows past their dataset's `data_life` and nothing else;
an erasure order removes the subject's rows there too (quarantined ones included); each
removal is a `bus-copy.removed` ledger entry that names no one.
"""

from __future__ import annotations

import datetime as dt
import json

import pyarrow as pa
import pyarrow.compute as pc
import pytest
import sqlalchemy as sa

import audit
from exchange import Bus, state
from exchange.demo import deployment as demo
from exchange.erasure import enforce_retention, purges
from exchange.erasure.holdings import REMOVED_ENTRY
from exchange.run import snapshots

ROWS = 700
TAX = "tax.income"


@pytest.fixture
def ran(govbus_home, monkeypatch: pytest.MonkeyPatch) -> Bus:
    monkeypatch.setenv("GOVBUS_BATCH_SIZE", "50000")
    bus = Bus.open()
    demo.seed(bus, rows=ROWS)
    (result,) = bus.run([TAX])
    assert result.ok, result.failures
    yield bus
    bus.close()


def _refs(table: pa.Table) -> list[str]:
    """The rows' audit pseudonyms as hex (staged raw, ADR 0008): the form `subject_ref` gives."""
    return audit.refs_as_hex(table["_subject_ref"]).to_pylist()


def _snapshot(bus: Bus) -> pa.Table:
    with bus.engine.connect() as conn:
        snap = snapshots.current(conn, TAX)
    return pa.concat_tables(bus.staging.read_table(snap.path(p)) for p in snap.parts)


def _removed_entries(bus: Bus) -> list[dict]:
    with bus.engine.connect() as conn:
        return [dict(e.payload) for e in bus.ledger.entries(conn) if e.kind == REMOVED_ENTRY]


def _quarantined(bus: Bus) -> list[dict]:
    with bus.engine.connect() as conn:
        q = state.quarantine
        return [r.record for r in conn.execute(sa.select(q.c.record).where(q.c.dataset == TAX))]


def test_retention_removes_what_is_due_and_nothing_else(ran: Bus) -> None:
    before = _snapshot(ran)
    quarantined = len(_quarantined(ran))
    assert before.num_rows == ROWS - quarantined and quarantined > 0
    # `now` ten years (the contract's data_life) and a minute after the sample's first stamp:
    # the returns stamped in that first minute are due, the later ones are not.
    first = pc.min(before["updated_at"]).as_py()
    cutoff = first + dt.timedelta(seconds=60)
    due = int(pc.sum(pc.less(before["updated_at"], pa.scalar(cutoff))).as_py())
    assert 0 < due < before.num_rows
    removals = enforce_retention(ran, now=cutoff.replace(year=cutoff.year + 10))
    assert [(r.copy, r.rows) for r in removals if r.dataset == TAX] == [("snapshot", due)]
    after = _snapshot(ran)
    assert after.num_rows == before.num_rows - due
    kept = set(after["return_id"].to_pylist())
    assert kept == {
        r
        for r, t in zip(before["return_id"].to_pylist(), before["updated_at"].to_pylist(), strict=True)
        if t >= cutoff
    }
    assert len(_quarantined(ran)) == quarantined  # they arrived today: not due
    (entry,) = [e for e in _removed_entries(ran) if e["dataset"] == TAX]
    assert entry == {
        "dataset": TAX,
        "copy": "snapshot",
        "rows": due,
        "reason": "retention",
        "data_life": "P10Y",
        "cutoff": cutoff.isoformat(),
    }
    # Again: nothing more is due. Eleven years on, everything is, quarantine included.
    assert [
        r for r in enforce_retention(ran, now=cutoff.replace(year=cutoff.year + 10)) if r.dataset == TAX
    ] == []
    later = enforce_retention(ran, now=dt.datetime.now(dt.UTC) + dt.timedelta(days=3660 + 366))
    assert {(r.copy, r.rows) for r in later if r.dataset == TAX} == {
        ("snapshot", after.num_rows),
        ("quarantine", quarantined),
    }
    # A late subscriber now receives nothing of the removed rows.
    with ran.engine.connect() as conn:
        assert snapshots.current(conn, TAX).rows == 0


def test_an_erasure_order_reaches_the_snapshot_staged_segments_and_quarantine(ran: Bus) -> None:
    # A person with a quarantined return whose identifier is intact (another field was broken).
    person = next(
        r["national_id"]
        for r in _quarantined(ran)
        if isinstance(r.get("national_id"), str) and len(r["national_id"]) == 11
    )
    ref = ran.register.subject_ref(person)
    assert ref in _refs(_snapshot(ran))
    # A new stage, staged but not yet delivered or committed, holding the person's corrected return.
    # Twenty others' returns change too: the stage's segment keeps their rows after the erasure.
    snapshot_refs = set(_refs(_snapshot(ran)))
    engine = sa.create_engine(demo.tax_db_url(ran))
    with engine.begin() as conn:
        ids = conn.execute(sa.select(demo.income_returns.c.national_id).distinct()).scalars().all()
        others = [i for i in ids if i and i != person and ran.register.subject_ref(i) in snapshot_refs][:20]
        conn.execute(
            sa.update(demo.income_returns)
            .where(demo.income_returns.c.national_id.in_([person, *others]))
            .values(updated_at=dt.datetime(2030, 1, 1))
        )
    engine.dispose()
    staged = ran.stage(TAX)
    assert staged.rows_staged > 0
    with ran.engine.connect() as conn:
        stage_id = conn.execute(
            sa.select(state.stages.c.stage_id).where(state.stages.c.status == "staged")
        ).scalar_one()
    assert ref in _refs(ran.staging.read_segment(stage_id, 0))

    run = purges.erase_subject(ran, person, dataset=TAX)
    held = {(r.copy, r.reason) for r in run.held}
    assert held == {
        ("snapshot", "erasure-order"),
        ("staged", "erasure-order"),
        ("quarantine", "erasure-order"),
    }
    assert ref not in _refs(_snapshot(ran))
    assert ref not in _refs(ran.staging.read_segment(stage_id, 0))
    assert not [r for r in _quarantined(ran) if r.get("national_id") == person]
    entries = _removed_entries(ran)
    assert {e["copy"] for e in entries} == {"snapshot", "staged", "quarantine"}
    assert all(e["subject_ref"] == ref and e["reason"] == "erasure-order" for e in entries)
    assert person not in json.dumps(entries)
    # The deliveries after it carry nothing of the person: the rest of the stage still goes out.
    # A second erasure, of the subject of the segment's first row: every later row moves up.
    first = _refs(ran.staging.read_segment(stage_id, 0))[0]
    (gone,) = [i for i in others if ran.register.subject_ref(i) == first]
    purges.erase_subject(ran, gone, dataset=TAX)
    people = [person, *others]
    with ran.engine.connect() as conn:
        before = {i: audit.deliveries_of_subject(conn, ran.register.subject_ref(i)) for i in people}
    (result,) = ran.run([TAX])
    assert result.ok
    # The segment was rewritten: the index of its deliveries follows its rows as they are now
    # (the set built from the rows as staged would name the wrong subjects, ADR 0007).
    with ran.engine.connect() as conn:
        after = {i: audit.deliveries_of_subject(conn, ran.register.subject_ref(i)) for i in people}
    assert after[person] == before[person] and after[gone] == before[gone]
    benefits = result.deliveries["benefits.tax-income"].batches
    assert benefits and all(len(after[i]) >= len(before[i]) + benefits for i in others if i != gone)
