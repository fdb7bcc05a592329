"""The compacted snapshot: the newest version of each key, parts kept or rewritten, garbage collected."""

from __future__ import annotations

import functools
from pathlib import Path

import pyarrow as pa
import pytest

import contracts
from exchange.run import snapshots
from exchange.run.snapshots import Snapshot, StageToFold
from exchange.run.staging import StagingArea


def _stage(area: StagingArea, stage_id: str, *segments: dict) -> StageToFold:
    for index, columns in enumerate(segments):
        area.write_segment(stage_id, index, pa.table(columns))
    seq = int(stage_id.rsplit(".", 1)[-1])
    return StageToFold(stage_id, seq, len(segments), "fp")


def _rows(area: StagingArea, snap: Snapshot) -> list[dict]:
    rows = [r for p in snap.parts for r in area.read_table(snap.path(p)).to_pylist()]
    return sorted(rows, key=lambda r: tuple(str(v) for v in r.values()))


@pytest.fixture
def area(tmp_path: Path) -> StagingArea:
    return StagingArea("", tmp_path / "staging")


def test_a_key_staged_again_replaces_its_older_version(area: StagingArea) -> None:
    empty = Snapshot("d", 0, (), True)
    one = snapshots.fold(
        area, empty, [_stage(area, "d.1", {"k": [1, 2], "v": ["a", "b"]}, {"k": [3], "v": ["c"]})], ["k"]
    )
    assert one.seq == 1 and one.rows == 3
    two = snapshots.fold(area, one, [_stage(area, "d.2", {"k": [2, 4], "v": ["B", "d"]})], ["k"])
    assert _rows(area, two) == [
        {"k": 1, "v": "a"},
        {"k": 2, "v": "B"},
        {"k": 3, "v": "c"},
        {"k": 4, "v": "d"},
    ]
    # The part holding key 3 only was kept as it was: same file.
    assert {p.name for p in one.parts if p.rows == 1} <= {p.name for p in two.parts}


def test_composite_keys_and_a_key_twice_in_one_stage(area: StagingArea) -> None:
    empty = Snapshot("d", 0, (), True)
    first = _stage(area, "d.1", {"a": ["x", "x"], "b": [1, 2], "v": [1, 2]}, {"a": ["x"], "b": [1], "v": [3]})
    snap = snapshots.fold(area, empty, [first], ["a", "b"])
    assert _rows(area, snap) == [{"a": "x", "b": 1, "v": 3}, {"a": "x", "b": 2, "v": 2}]


def test_without_key_fields_every_row_is_kept(area: StagingArea) -> None:
    snap = snapshots.fold(area, Snapshot("d", 0, (), True), [_stage(area, "d.1", {"v": [1, 1]})], [])
    snap = snapshots.fold(area, snap, [_stage(area, "d.2", {"v": [1]})], [])
    assert snap.rows == 3


def test_garbage_collection_keeps_named_and_pinned_parts_only(area: StagingArea) -> None:
    one = snapshots.fold(area, Snapshot("d", 0, (), True), [_stage(area, "d.1", {"k": [1], "v": [1]})], ["k"])
    two = snapshots.fold(area, one, [_stage(area, "d.2", {"k": [1], "v": [2]})], ["k"])
    area.write_table(snapshots.part_path("d", "orphan-of-a-crash.parquet"), pa.table({"k": [9]}))
    pinned = [p.name for p in one.parts]
    assert snapshots.collect_garbage(area, two, pinned) == 1  # the orphan only
    assert snapshots.collect_garbage(area, two) == 1  # then the old part, no longer pinned
    assert sorted(area.names_in("_snapshots/d")) == sorted(p.name for p in two.parts)


def test_a_commit_killed_after_its_transaction_is_finished_by_the_next_commit(govbus_home: Path) -> None:
    """The staged segments of a committed stage (left by a kill before the discard) go next time."""
    from exchange import Bus
    from exchange.demo import deployment as demo

    bus = Bus.open()
    try:
        demo.seed(bus, rows=300)
        bus.stage("tax.income")
        for sub in bus.catalog.subscriptions_for("tax.income"):
            bus.deliver("tax.income", sub.id)
        real_discard = bus.staging.discard
        bus.staging.discard = lambda stage_id: None  # type: ignore[method-assign]  # "killed" before it
        try:
            first = bus.commit("tax.income")
        finally:
            bus.staging.discard = real_discard  # type: ignore[method-assign]
        (stage_id,) = first.committed
        assert bus.staging.names_in(stage_id)  # left behind
        assert bus.commit("tax.income").committed == []
        assert bus.staging.names_in(stage_id) == []
    finally:
        bus.close()


@pytest.mark.parametrize("memory_bytes", [24 * 2**20, 64])
def test_a_fold_keeps_the_newest_version_of_every_key(
    area: StagingArea, memory_bytes: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Keys held in memory or spilled to disk at every segment: the same rows, each key's
    newest version, also for keys repeated within a stage and across its segments."""
    import numpy as np

    monkeypatch.setattr(
        snapshots, "SeenKeys", functools.partial(contracts.SeenKeys, memory_bytes=memory_bytes)
    )

    rng = np.random.default_rng(11)
    snap = Snapshot("d", 0, (), True)
    newest: dict[tuple[str, int], int] = {}
    value = 0
    for seq in range(1, 5):
        segments = []
        for _ in range(3):
            a = rng.choice(["x", "y", "zz"], size=12).tolist()
            b = rng.integers(0, 6, size=12).tolist()
            values = list(range(value, value + 12))
            value += 12
            newest.update(zip(zip(a, b, strict=True), values, strict=True))
            segments.append({"a": a, "b": b, "v": values})
        stage = _stage(area, f"d.{seq}", *segments)
        snap = snapshots.fold(area, snap, [stage], ["a", "b"])
    assert _rows(area, snap) == _rows_of(newest)
    assert snap.rows == len(newest)


def _rows_of(newest: dict[tuple[str, int], int]) -> list[dict]:
    rows = [{"a": a, "b": b, "v": v} for (a, b), v in newest.items()]
    return sorted(rows, key=lambda r: tuple(str(v) for v in r.values()))


def test_a_fold_reads_each_key_column_once_and_holds_the_keys_in_bounded_memory(
    area: StagingArea, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One pass over the stage's segments and the older parts, whatever the stage's size:
    folding in partitions re-read every segment for each one (21 s for 10 M rows). The set
    spills to disk instead, so what it holds in memory stays below its cap."""
    held: list[tuple[int, int, int]] = []  # (keys, spilled runs, bytes in memory) at close

    class Small(contracts.SeenKeys):
        def __init__(self) -> None:
            super().__init__(memory_bytes=2_000)

        def close(self) -> None:
            held.append((len(self), self.spilled_runs, self.memory_bytes))
            super().close()

    monkeypatch.setattr(snapshots, "SeenKeys", Small)
    reads: list[str] = []
    original = StagingArea.read_table

    def counting(self: StagingArea, name: str, *args: object, **kwargs: object) -> object:
        if kwargs.get("columns") == ["k"]:  # a read of the key column only
            reads.append(name)
        return original(self, name, *args, **kwargs)

    monkeypatch.setattr(StagingArea, "read_table", counting)
    segments = [{"k": list(range(s, s + 400)), "v": [0] * 400} for s in range(0, 1200, 400)]
    one = snapshots.fold(area, Snapshot("d", 0, (), True), [_stage(area, "d.1", *segments)], ["k"])
    reads.clear()
    two = snapshots.fold(area, one, [_stage(area, "d.2", *segments)], ["k"])
    assert sorted(reads) == sorted(set(reads)), "a key column was read twice"
    assert len(reads) == 3 + len(one.parts)  # the stage's segments, then each older part
    (keys, runs, in_memory) = held[-1]
    assert keys == 1200 and runs >= 2 and in_memory < 2 * 2_000, held
    assert two.rows == 1200 and all(p.name.startswith("000002-") for p in two.parts)
