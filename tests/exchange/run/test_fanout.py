"""Fan-out delivery: the same outputs as one subscription at a time, each segment read once,
and a failing subscription stopping only itself (retried later exactly once)."""

from __future__ import annotations

import json
import os
import shutil
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa

from audit import AUDIT_METADATA, subject_sets
from exchange import Bus, state
from exchange.demo import deployment as demo
from exchange.run.deliver import Delivery
from exchange.run.staging import StagingArea
from exchange.state import Settings
from tests.e2e.helpers import sql_rows, statistics_files

DATASET = "tax.income"


def _open(home: Path) -> Bus:
    """A bus on `home` (the environment otherwise: the sample catalog, batches of 500 rows)."""
    return Bus.open(Settings.from_env({**os.environ, "GOVBUS_HOME": str(home)}))


def _staged_twice_one_delivered(home: Path) -> None:
    """Two uncommitted stages of tax.income (3 segments each); housing already has the first."""
    bus = _open(home)
    try:
        demo.seed(bus, rows=1400)
        bus.stage(DATASET)
        assert bus.deliver(DATASET, "housing.tax-income").batches == 3
        demo.change_some(bus, share=0.3, new=200)
        assert bus.stage(DATASET).segments >= 2
    finally:
        bus.close()


def _outputs(bus: Bus) -> dict[str, Any]:
    """What the deliveries left: ledger entries, checkpoints, index groups, the agencies' copies."""
    ledger = AUDIT_METADATA.tables["ledger"]
    with bus.engine.connect() as conn:
        entries = {}
        batch_of_seq = {}
        for seq, payload in conn.execute(
            sa.select(ledger.c.seq, ledger.c.payload).where(ledger.c.kind == "delivery")
        ):
            body = json.loads(payload)
            batch_of_seq[seq] = body["batch_id"]
            entries[body["batch_id"]] = {
                k: body.get(k)
                for k in ("subscription", "merkle_root", "rows_delivered", "rows_denied", "denials", "fields")
            }
        dv = state.deliveries
        checkpoints = sorted(
            tuple(r)
            for r in conn.execute(
                sa.select(
                    dv.c.subscription_id,
                    dv.c.stage_id,
                    dv.c.segment,
                    dv.c.batch_id,
                    dv.c.rows_delivered,
                    dv.c.rows_denied,
                )
            )
        )
        # Who received whom, by batch (the ledger seqs differ with the order of the appends).
        groups = sorted((batch_of_seq[seq], key) for key, seq in subject_sets.entries(conn))
    home = bus.settings.home
    agencies = home / "agencies"
    return {
        "entries": entries,
        "checkpoints": checkpoints,
        "groups": groups,
        "benefits": sorted(map(repr, sql_rows(agencies / "benefits" / "benefits.db", "tax_income"))),
        "housing": sorted(map(repr, sql_rows(agencies / "housing" / "housing.db", "applicant_income"))),
        "statistics": {p.name: pq.read_table(p) for p in statistics_files(home)},
    }


def same_bus_twice(home: Path) -> tuple[Path, Path]:
    """The same bus twice (same keys, state, stages), so their deliveries can be compared."""
    _staged_twice_one_delivered(home)
    copy = home.parent / "copy-home"
    shutil.copytree(home, copy)
    return home, copy


@pytest.fixture
def two_homes(govbus_home: Path) -> tuple[Path, Path]:
    """`same_bus_twice` on the test's home."""
    return same_bus_twice(govbus_home)


def test_fanout_delivers_exactly_what_one_subscription_at_a_time_delivers(
    two_homes: tuple[Path, Path],
) -> None:
    one_by_one, fanned = (_open(home) for home in two_homes)
    try:
        subs = [s.id for s in one_by_one.catalog.subscriptions_for(DATASET)]
        assert len(subs) == 3
        singles = {sub: one_by_one.deliver(DATASET, sub) for sub in subs}
        together = fanned.deliver_all(DATASET)
        assert list(together) == subs
        for sub in subs:
            report = together[sub]
            assert not isinstance(report, Exception), report
            assert report.counts() == singles[sub].counts()
        assert together["housing.tax-income"].batches < together["benefits.tax-income"].batches
        expected, got = _outputs(one_by_one), _outputs(fanned)
    finally:
        one_by_one.close()
        fanned.close()
    assert got["entries"] == expected["entries"]  # merkle roots, counts and fields per batch
    assert got["checkpoints"] == expected["checkpoints"]
    assert got["groups"] == expected["groups"] and got["groups"]
    assert got["benefits"] == expected["benefits"] and got["benefits"]
    assert got["housing"] == expected["housing"] and got["housing"]
    assert got["statistics"].keys() == expected["statistics"].keys()
    for name, table in expected["statistics"].items():
        assert got["statistics"][name].equals(table), name
    assert not any("__govbus_row" in t.column_names for t in got["statistics"].values())


def _count_reads(monkeypatch: pytest.MonkeyPatch) -> Counter[tuple[str, int]]:
    """Count segment reads through the staging area (the reads still happen)."""
    reads: Counter[tuple[str, int]] = Counter()
    real = StagingArea.read_segment

    def counted(self: StagingArea, stage_id: str, segment: int) -> Any:
        reads[(stage_id, segment)] += 1
        return real(self, stage_id, segment)

    monkeypatch.setattr(StagingArea, "read_segment", counted)
    return reads


def test_each_staged_segment_is_read_once_for_every_subscription(
    two_homes: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    reads = _count_reads(monkeypatch)
    bus = _open(two_homes[0])
    try:
        bus.deliver_all(DATASET)
        with bus.engine.connect() as conn:
            segments = conn.execute(sa.select(sa.func.sum(state.stages.c.segments))).scalar_one()
    finally:
        bus.close()
    assert segments >= 5 and len(reads) == segments
    assert set(reads.values()) == {1}
    # The count is real: one subscription at a time reads each segment once per subscription.
    reads.clear()
    bus = _open(two_homes[1])
    try:
        for sub in ("benefits.tax-income", "statistics.tax-income"):
            bus.deliver(DATASET, sub)
    finally:
        bus.close()
    assert set(reads.values()) == {2}


def test_a_failing_sink_stops_only_its_subscription_and_its_retry_is_exactly_once(
    two_homes: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    home = two_homes[0]
    inbox = home / "agencies" / "statistics" / "inbox"
    shutil.rmtree(inbox, ignore_errors=True)
    inbox.parent.mkdir(parents=True, exist_ok=True)
    inbox.write_text("not a folder: the statistics sink cannot write here")
    bus = _open(home)
    try:
        (result,) = bus.run([DATASET])
        assert set(result.failures) == {"statistics.tax-income"}
        assert result.deliveries["benefits.tax-income"].batches >= 5
        assert result.deliveries["housing.tax-income"].batches >= 2
        assert result.committed == 0  # the stages wait for statistics
        with bus.engine.connect() as conn:
            runs = dict(
                conn.execute(
                    sa.select(state.runs.c.subscription_id, state.runs.c.status).where(
                        state.runs.c.step == "deliver", state.runs.c.subscription_id.is_not(None)
                    )
                ).all()
            )
        assert runs["statistics.tax-income"] == "failed" and runs["benefits.tax-income"] == "ok"
        inbox.unlink()
        (again,) = bus.run([DATASET])
        assert again.ok, again.failures
        assert again.deliveries["benefits.tax-income"].batches == 0  # nothing delivered twice
        assert again.deliveries["statistics.tax-income"].batches >= 5
        assert again.committed == 2
        with bus.engine.connect() as conn:
            dv = state.deliveries
            rows = conn.execute(
                sa.select(dv.c.subscription_id, dv.c.stage_id, dv.c.segment, dv.c.rows_delivered)
            ).all()
            ledger = AUDIT_METADATA.tables["ledger"]
            batches = [
                json.loads(p)["batch_id"]
                for (p,) in conn.execute(sa.select(ledger.c.payload).where(ledger.c.kind == "delivery"))
            ]
            pairs = list(subject_sets.entries(conn))
    finally:
        bus.close()
    assert len(rows) == len(set(rows))  # one checkpoint per (subscription, segment)
    assert len(batches) == len(set(batches)) == len(rows)  # one ledger entry per batch
    assert len(pairs) == len(set(pairs))
    written = [r for r in rows if r[0] == "statistics.tax-income" and r[3]]  # an empty batch has no file
    assert len(statistics_files(home)) == len(written)


def _send_threads(monkeypatch: pytest.MonkeyPatch, first_send: Any) -> list[tuple[str, int]]:
    """Record (subscription, thread id) of every send; `first_send(sub_id)` runs before each
    subscription's first one."""
    real = Delivery.send
    sends: list[tuple[str, int]] = []
    lock = threading.Lock()

    def send(self: Delivery, piece: Any, shared: Any) -> None:
        with lock:
            first = all(s != self.sub.id for s, _ in sends)
            sends.append((self.sub.id, threading.get_ident()))
        if first:
            first_send(self.sub.id)
        real(self, piece, shared)

    monkeypatch.setattr(Delivery, "send", send)
    return sends


def test_subscriptions_are_sent_to_at_the_same_time_each_on_its_own_thread(
    two_homes: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    # benefits and statistics both start with the first stage's first segment: each first
    # send waits for the other's. One subscription at a time, the barrier would break.
    barrier = threading.Barrier(2, timeout=30)

    def meet(sub_id: str) -> None:
        if sub_id != "housing.tax-income":
            barrier.wait()

    sends = _send_threads(monkeypatch, meet)
    bus = _open(two_homes[0])
    try:
        reports = bus.deliver_all(DATASET)
    finally:
        bus.close()
    assert not any(isinstance(r, Exception) for r in reports.values()), reports
    threads = {sub: {name for s, name in sends if s == sub} for sub, _ in sends}
    assert len(threads) == 3 and all(len(names) == 1 for names in threads.values())
    assert len(set().union(*threads.values())) == 3  # one thread each, none the caller's
    assert threading.get_ident() not in set().union(*threads.values())
    # each subscription's own pieces still arrive in its own order (stage, segment)
    bus = _open(two_homes[0])
    try:
        with bus.engine.connect() as conn:
            dv = state.deliveries
            orders = {
                sub: conn.execute(
                    sa.select(dv.c.stage_id, dv.c.segment)
                    .where(dv.c.subscription_id == sub)
                    .order_by(dv.c.ledger_seq)
                ).all()
                for sub in threads
            }
    finally:
        bus.close()
    assert all(order == sorted(order) and order for order in orders.values()), orders


def test_an_interruption_reaches_every_open_subscription_and_leaves_no_thread(
    two_homes: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupt(sub_id: str) -> None:
        if sub_id == "statistics.tax-income":
            raise KeyboardInterrupt

    _send_threads(monkeypatch, interrupt)
    bus = _open(two_homes[0])
    try:
        with pytest.raises(KeyboardInterrupt):
            bus.deliver_all(DATASET)
        with bus.engine.connect() as conn:
            runs = conn.execute(
                sa.select(state.runs.c.subscription_id, state.runs.c.status, state.runs.c.error).where(
                    state.runs.c.step == "deliver"
                )
            ).all()
    finally:
        bus.close()
    assert {r.subscription_id for r in runs} == {"benefits.tax-income", "housing.tax-income",
                                                 "statistics.tax-income"}  # fmt: skip
    # statistics was interrupted; the others were under way or waiting: none is left "running"
    assert {r.status for r in runs} <= {"failed", "ok"}
    assert any(r.subscription_id == "statistics.tax-income" and r.error == "KeyboardInterrupt" for r in runs)
    assert not [t for t in threading.enumerate() if t.name.startswith("govbus-deliver")]
    # the interrupted subscriptions are delivered on the next run, exactly once
    bus = _open(two_homes[0])
    try:
        (result,) = bus.run([DATASET])
        assert result.ok, result.failures
        with bus.engine.connect() as conn:
            dv = state.deliveries
            rows = conn.execute(sa.select(dv.c.subscription_id, dv.c.stage_id, dv.c.segment)).all()
    finally:
        bus.close()
    assert len(rows) == len(set(rows))
