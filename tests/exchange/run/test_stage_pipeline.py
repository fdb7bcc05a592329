"""The stage pipeline: a single thread's effects in a single thread's order, with the check of
one batch beside the write of the previous, bounded batches in flight, the earliest error."""

from __future__ import annotations

import threading
from concurrent.futures import Future
from typing import Any

import pyarrow as pa
import pytest

from exchange.run.stage_pipeline import StagePipeline


def _batch(n: int) -> pa.Table:
    return pa.table({"n": pa.array([n] * (n + 1), pa.int64())})


class Recorder:
    """check/write/landed that log what they do, in the order they do it."""

    def __init__(self, *, fail_check: int | None = None, fail_write: int | None = None) -> None:
        self.log: list[tuple[str, int]] = []
        self.landed: list[tuple[int, int, Any]] = []
        self.threads: set[int] = set()
        self.in_flight = 0
        self.most_in_flight = 0
        self._lock = threading.Lock()
        self.fail_check, self.fail_write = fail_check, fail_write

    def _note(self, what: str, n: int) -> None:
        with self._lock:
            self.log.append((what, n))
            self.threads.add(threading.get_ident())

    def check(self, data: pa.Table, previous: Future[None] | None) -> int:
        n = data["n"][0].as_py()
        with self._lock:
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
        if n == self.fail_check:
            raise ValueError(f"check {n}")
        self._note("check", n)
        return n

    def write(self, n: int) -> None:
        self._note("write began", n)  # a batch's first effect (its quarantined rows, in the stage)
        if n == self.fail_write:
            raise OSError(f"write {n}")
        self._note("write", n)

    def done(self, what: str) -> list[int]:
        return [n for w, n in self.log if w == what]

    def land(self, n: int, rows: int, cursor: Any) -> None:
        with self._lock:
            self.in_flight -= 1
        self.landed.append((n, rows, cursor))


def test_effects_come_in_one_threads_order_on_other_threads() -> None:
    rec = Recorder()
    with StagePipeline(rec.check, rec.write, rec.land) as pipeline:
        for n in range(8):
            pipeline.put(_batch(n), f"c{n}")
    assert rec.done("check") == list(range(8))
    writes = [entry for entry in rec.log if entry[0] != "check"]
    assert writes == [(what, n) for n in range(8) for what in ("write began", "write")]
    assert rec.landed == [(n, n + 1, f"c{n}") for n in range(8)]
    assert threading.get_ident() not in rec.threads and len(rec.threads) == 2
    assert not [t for t in threading.enumerate() if t.name.startswith("govbus-stage")]


def test_the_next_batch_is_checked_while_the_previous_is_written() -> None:
    # write(0) waits until check(1) has begun: one thread for both would never get there.
    check_began = threading.Event()
    written: list[int] = []

    def check(data: pa.Table, previous: Future[None] | None) -> int:
        n = data["n"][0].as_py()
        if n == 1:
            check_began.set()
        return n

    def write(n: int) -> None:
        if n == 0:
            assert check_began.wait(timeout=30), "batch 1 was not checked during batch 0's write"
        written.append(n)

    with StagePipeline(check, write, lambda *_: None) as pipeline:
        for n in range(3):
            pipeline.put(_batch(n), None)
    assert written == [0, 1, 2]


def test_at_most_depth_batches_are_in_flight() -> None:
    rec = Recorder()
    with StagePipeline(rec.check, rec.write, rec.land, depth=2) as pipeline:
        for n in range(20):
            pipeline.put(_batch(n), None)
            assert rec.in_flight <= 2
    assert rec.most_in_flight <= 3  # the two in flight and the one being put
    assert len(rec.landed) == 20


def test_a_failed_write_stops_every_later_write_and_is_raised() -> None:
    rec = Recorder(fail_write=3)

    def stage() -> None:
        with StagePipeline(rec.check, rec.write, rec.land) as pipeline:
            for n in range(10):
                pipeline.put(_batch(n), None)

    with pytest.raises(OSError, match="write 3"):
        stage()
    assert rec.done("write") == [0, 1, 2]
    # batch 4 and later may be checked, but nothing of theirs is written (not even begun)
    assert rec.done("write began") == [0, 1, 2, 3]
    assert [n for n, _, _ in rec.landed] == [0, 1, 2]
    assert not [t for t in threading.enumerate() if t.name.startswith("govbus-stage")]


def _read_then_break(pipeline: StagePipeline[int], batches: int) -> None:
    for n in range(batches):
        pipeline.put(_batch(n), None)
    raise ConnectionError("the source broke")


def test_the_earliest_error_wins_over_the_callers() -> None:
    # the source breaks right after batch 1 is put, while batch 1 may not be checked yet:
    # one thread would have checked it (and failed) before reading on.
    rec = Recorder(fail_check=1)

    def stage() -> None:
        with StagePipeline(rec.check, rec.write, rec.land) as pipeline:
            _read_then_break(pipeline, 2)

    with pytest.raises(ValueError, match="check 1") as raised:
        stage()
    assert isinstance(raised.value.__cause__, ConnectionError)
    assert rec.done("write") == [0]


def test_the_callers_error_is_raised_after_the_batches_in_flight_are_written() -> None:
    rec = Recorder()

    def stage() -> None:
        with StagePipeline(rec.check, rec.write, rec.land) as pipeline:
            _read_then_break(pipeline, 2)

    with pytest.raises(ConnectionError, match="source"):
        stage()
    assert rec.done("write") == [0, 1]
    assert not [t for t in threading.enumerate() if t.name.startswith("govbus-stage")]


def test_a_prepare_step_runs_ahead_of_the_checks_on_a_thread_of_its_own() -> None:
    # check(0) waits until prepare(1) has begun: without a thread of its own for the
    # preparing, batch 1 would only be prepared after batch 0's check.
    prepare_began = threading.Event()
    prepared: list[int] = []
    threads: dict[str, set[int]] = {"prepare": set(), "check": set()}

    def prepare(data: pa.Table) -> int:
        n = data["n"][0].as_py()
        threads["prepare"].add(threading.get_ident())
        prepared.append(n)
        if n == 1:
            prepare_began.set()
        return n * 10

    def check(value: int, previous: Future[None] | None) -> int:
        threads["check"].add(threading.get_ident())
        if value == 0:
            assert prepare_began.wait(timeout=30), "batch 1 was not prepared during batch 0's check"
        return value

    written: list[int] = []
    with StagePipeline(check, written.append, lambda *_: None, prepare=prepare) as pipeline:
        for n in range(4):
            pipeline.put(_batch(n), None)
    assert prepared == [0, 1, 2, 3]
    assert written == [0, 10, 20, 30]  # each check got its batch as prepared
    assert threads["prepare"].isdisjoint(threads["check"] | {threading.get_ident()})
    assert not [t for t in threading.enumerate() if t.name.startswith("govbus-stage")]


def test_a_failed_prepare_fails_its_batch_in_order() -> None:
    rec = Recorder()

    def prepare(data: pa.Table) -> pa.Table:
        if data["n"][0].as_py() == 2:
            raise ValueError("prepare 2")
        return data

    def stage() -> None:
        with StagePipeline(rec.check, rec.write, rec.land, prepare=prepare) as pipeline:
            for n in range(6):
                pipeline.put(_batch(n), None)

    with pytest.raises(ValueError, match="prepare 2"):
        stage()
    assert rec.done("write began") == [0, 1]  # nothing of batch 2 or later is written
    assert [n for n, _, _ in rec.landed] == [0, 1]
    assert not [t for t in threading.enumerate() if t.name.startswith("govbus-stage")]
