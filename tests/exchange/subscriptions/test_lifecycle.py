"""A subscription's life: suspend, resume (with the current state again), end, end date,
backfill, and a cursor reset — each a ledger entry."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from exchange import Bus, state
from exchange.demo import deployment as demo
from exchange.run.cursor_reset import reset_cursor
from exchange.subscriptions import decisions, lifecycle, requests
from govbus.errors import BadInput
from tests.e2e.catalog_variants import use_pre_disclosure_catalog

# These tests are about other mechanics (deliveries, purges, crashes, lifecycles, reports) on
# the Statistics Office's pseudonymized, complete copy: the sample as it was before disclosure
# control. The sample's disclosure policy is tested in tests/e2e/test_privacy_linkage.py.
_before_disclosure = pytest.fixture(autouse=True, name="_before_disclosure")(use_pre_disclosure_catalog)

TAX = ["tax.income"]
SUB = "statistics.tax-income"


@pytest.fixture
def ran(govbus_home: Path) -> Iterator[Bus]:
    """The sample with 700 returns after one run of tax.income."""
    bus = Bus.open()
    demo.seed(bus, rows=700)
    (result,) = bus.run(TAX)
    assert result.ok
    yield bus
    bus.close()


def _entries(bus: Bus, kind: str) -> list[dict]:
    with bus.engine.connect() as conn:
        return [
            json.loads(e.payload) if isinstance(e.payload, str) else e.payload
            for e in bus.ledger.entries(conn)
            if e.kind == kind
        ]


def _staged_rows(bus: Bus) -> int:
    with bus.engine.connect() as conn:
        return int(conn.execute(sa.select(state.dataset_snapshots.c.rows)).scalar() or 0)


def test_first_delivery_activates_with_an_entry(ran: Bus) -> None:
    activated = [e for e in _entries(ran, "subscription.lifecycle") if e["subscription"] == SUB]
    assert len(activated) == 1
    assert activated[0]["from_status"] is None and activated[0]["to_status"] == "active"
    assert activated[0]["load"] == {"snapshot_seq": 0, "rows": 0, "since": None}
    assert activated[0]["origin"] == "catalog" and activated[0]["basis"] == "statute:STAT-7"


def test_suspended_holds_nothing_back_and_resume_sends_the_state_again(ran: Bus) -> None:
    lifecycle.suspend(ran, SUB, by="tax.officer", reason="audit pending")
    demo.change_some(ran)
    (second,) = ran.run(TAX)
    assert second.deliveries[SUB].skipped == "suspended"
    assert second.committed == 1  # the others' stage committed without it
    lifecycle.resume(ran, SUB, by="tax.officer", reason="audit done")
    (third,) = ran.run(TAX)
    assert third.deliveries[SUB].load_rows == _staged_rows(ran) > 0
    moves = [
        (e["from_status"], e["to_status"])
        for e in _entries(ran, "subscription.lifecycle")
        if e["subscription"] == SUB
    ]
    assert moves == [(None, "active"), ("active", "suspended"), ("suspended", "active"), ("active", "active")]


def test_an_ended_subscription_is_not_delivered_and_cannot_resume(ran: Bus) -> None:
    lifecycle.end(ran, SUB, by="statistics.director", reason="survey discontinued")
    demo.change_some(ran)
    (again,) = ran.run(TAX)
    assert again.deliveries[SUB].skipped == "ended" and again.deliveries[SUB].rows_delivered == 0
    with pytest.raises(BadInput, match="is ended"):
        lifecycle.resume(ran, SUB, by="x", reason="")


def test_the_end_date_ends_a_requested_subscription(ran: Bus) -> None:
    spec = requests.RequestSpec(
        agency="statistics",
        dataset="tax.income",
        purpose="OFFICIAL_STATISTICS",
        statute="STAT-7",
        fields=("tax_year",),
        sink={"connector": "parquet", "directory": "${GOVBUS_HOME}/agencies/statistics/inbox/short"},
        id="statistics.short",
        ends_on=dt.date.today() + dt.timedelta(days=1),
        requested_by="analyst",
    )
    requests.submit(ran, spec)
    decisions.decide(
        ran, "statistics.short", decision="approve", role="owner", agency="tax", by="t", reason="ok"
    )
    rq = state.subscription_requests
    with ran.engine.begin() as conn:  # time passes
        conn.execute(sa.update(rq).values(ends_on=dt.date.today() - dt.timedelta(days=1)))
    later = Bus.open()
    try:
        (result,) = later.run(TAX)
        assert result.deliveries["statistics.short"].skipped == "ended"
    finally:
        later.close()
    (last,) = [e for e in _entries(ran, "subscription.lifecycle") if e["subscription"] == "statistics.short"]
    assert last["to_status"] == "ended" and "end date" in last["reason"] and last["approval_seq"]


def test_a_backfill_since_a_date_sends_only_the_rows_changed_since(ran: Bus) -> None:
    demo.change_some(ran)
    ran.run(TAX)
    lifecycle.request_backfill(ran, SUB, by="analyst", since=None)
    (full,) = ran.run(TAX)
    assert full.deliveries[SUB].load_rows == _staged_rows(ran)
    # Since the source's last change: only the corrected and the new returns.
    engine = sa.create_engine(f"sqlite:///{demo.tax_db_path(ran)}")
    with engine.connect() as conn:
        last = conn.execute(sa.text("SELECT max(updated_at) FROM income_returns")).scalar()
    engine.dispose()
    since = dt.datetime.fromisoformat(str(last)).replace(tzinfo=dt.UTC)
    lifecycle.request_backfill(ran, SUB, by="analyst", since=since)
    (partial,) = ran.run(TAX)
    assert 0 < partial.deliveries[SUB].load_rows < full.deliveries[SUB].load_rows
    backfills = [e for e in _entries(ran, "subscription.lifecycle") if e["reason"].startswith("backfill")]
    assert [e["reason"] for e in backfills] == ["backfill", f"backfill since {since.isoformat()}"]


def test_a_cursor_reset_reads_the_source_again_and_is_refused_mid_run(ran: Bus) -> None:
    with ran.engine.connect() as conn:
        read_first = conn.execute(sa.select(state.stages.c.rows_read)).scalar()
    seq = reset_cursor(ran, "tax.income", by="tax.engineer", reason="amounts fixed in place")
    (again,) = ran.run(TAX)
    assert again.rows_read == read_first  # everything read again
    (entry,) = _entries(ran, "dataset.cursor-reset")
    assert entry["to"] == "start" and entry["after_seq"] == 1 and seq
    # Mid-run (a stage staged, not committed) it is refused.
    lifecycle.suspend(ran, SUB, by="x", reason="")  # (does not hold the commit)
    demo.change_some(ran)
    ran.stage("tax.income")
    with pytest.raises(BadInput, match="not yet committed"):
        reset_cursor(ran, "tax.income", by="x", reason="y")
