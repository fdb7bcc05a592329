"""The compacted snapshot: the newest version of each key, parts kept or rewritten, garbage collected."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

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


@pytest.mark.parametrize("partition_keys", [1_000_000, 7, 2])
def test_a_fold_in_partitions_keeps_the_newest_version_of_every_key(
    area: StagingArea, partition_keys: int
) -> None:
    """Folded in partitions by key hash (bounded memory) or at once: the same rows, each key's
    newest version, also for keys repeated within a stage and across its segments."""
    import numpy as np

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
        snap = snapshots.fold(area, snap, [stage], ["a", "b"], partition_keys=partition_keys)
    assert _rows(area, snap) == _rows_of(newest)
    assert snap.rows == len(newest)


def _rows_of(newest: dict[tuple[str, int], int]) -> list[dict]:
    rows = [{"a": a, "b": b, "v": v} for (a, b), v in newest.items()]
    return sorted(rows, key=lambda r: tuple(str(v) for v in r.values()))


def test_a_large_stage_is_folded_one_partition_of_keys_at_a_time(
    area: StagingArea, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The keys held at once are a partition's (about `partition_keys`), not the stage's."""
    from contracts import SeenKeys

    held: list[SeenKeys] = []

    class Counting(SeenKeys):
        def __init__(self) -> None:
            super().__init__()
            held.append(self)

    monkeypatch.setattr(snapshots, "SeenKeys", Counting)
    segments = [{"k": list(range(s, s + 400)), "v": [0] * 400} for s in range(0, 1200, 400)]
    one = snapshots.fold(area, Snapshot("d", 0, (), True), [_stage(area, "d.1", *segments)], ["k"])
    two = snapshots.fold(area, one, [_stage(area, "d.2", *segments)], ["k"], partition_keys=300)
    assert len(held) == 1 + 4, "one set for the first stage, one per partition for the second"
    assert len(held[0]) == 1200
    assert all(len(keys) < 600 for keys in held[1:]), [len(keys) for keys in held[1:]]
    assert sum(len(keys) for keys in held[1:]) == 1200
    assert two.rows == 1200 and all(p.name.startswith("000002-") for p in two.parts)
