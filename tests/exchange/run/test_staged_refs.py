"""Staged audit pseudonyms are raw bytes (ADR 0008) in Arrow IPC segments (ADR 0009);
segments staged before, as Parquet files with hex refs, still read, deliver and commit
exactly the same."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.feather as feather
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa

import audit
from exchange import Bus, state
from exchange.run import snapshots
from tests.exchange.run.test_fanout import DATASET, _open, _outputs, same_bus_twice

REF = "_subject_ref"


@pytest.fixture
def two_homes(govbus_home: Path) -> tuple[Path, Path]:
    return same_bus_twice(govbus_home)


def _segment_files(home: Path, suffix: str = ".arrow") -> list[Path]:
    files = sorted((home / "staging").glob(f"*/seg-*{suffix}"))
    assert files
    return files


def test_a_stage_writes_each_rows_audit_pseudonym_as_32_raw_bytes(two_homes: tuple[Path, Path]) -> None:
    home, _ = two_homes
    assert not list((home / "staging").glob("*/seg-*.parquet"))
    bus = _open(home)
    try:
        for path in _segment_files(home):
            on_disk = feather.read_table(path)  # as any Arrow IPC reader sees it
            assert on_disk.schema.field(REF).type == pa.binary(32)
            expected = bus.register.subject_refs(pc.cast(on_disk["national_id"], pa.string()))
            assert audit.refs_as_hex(on_disk[REF]).to_pylist() == expected.to_pylist()
    finally:
        bus.close()


def _as_before_adr_0008(home: Path) -> int:
    """Rewrite every staged segment as stages wrote them before ADR 0008 and 0009: a Parquet
    file `seg-NNNNN.parquet` with its refs as hex; and retire the last stage's subject sets,
    so its deliveries build theirs from the hex refs."""
    for path in _segment_files(home):
        table = feather.read_table(path)
        index = table.schema.get_field_index(REF)
        old = path.with_suffix(".parquet")
        pq.write_table(table.set_column(index, REF, audit.refs_as_hex(table[REF])), old)
        path.unlink()
        assert pq.read_schema(old).field(REF).type == pa.string()
    bus = _open(home)
    try:
        with bus.engine.begin() as conn:
            last = conn.execute(sa.select(sa.func.max(state.stages.c.stage_id))).scalar_one()
            segments = len(list((home / "staging" / last).glob("seg-*.parquet")))
            for segment in range(segments):
                audit.retire_subject_set(conn, last, segment)
        return segments
    finally:
        bus.close()


def test_segments_staged_with_hex_refs_deliver_exactly_as_raw_ones(two_homes: tuple[Path, Path]) -> None:
    raw_home, hex_home = two_homes
    assert _as_before_adr_0008(hex_home) > 0
    raw_bus, hex_bus = _open(raw_home), _open(hex_home)
    try:
        for path in _segment_files(hex_home, ".parquet"):
            stage_id, segment = path.parent.name, int(path.stem.removeprefix("seg-"))
            read = hex_bus.staging.read_segment(stage_id, segment)
            assert read.schema.field(REF).type == pa.binary(32)  # read raw, as staged now
            assert read.equals(raw_bus.staging.read_segment(stage_id, segment))
        together = raw_bus.deliver_all(DATASET)
        before = hex_bus.deliver_all(DATASET)
        for sub, report in together.items():
            assert not isinstance(report, Exception), report
            assert not isinstance(before[sub], Exception), before[sub]
            assert before[sub].counts() == report.counts()
        expected, got = _outputs(raw_bus), _outputs(hex_bus)
        # The commit folds the old Parquet segments into the snapshot as they are.
        assert hex_bus.commit(DATASET).counts() == raw_bus.commit(DATASET).counts()
        old_parts, new_parts = _snapshot(hex_bus), _snapshot(raw_bus)
    finally:
        raw_bus.close()
        hex_bus.close()
    assert got["entries"] == expected["entries"]  # merkle roots, counts, denials per batch
    assert got["groups"] == expected["groups"] and got["groups"]  # who received whom
    assert got["housing"] == expected["housing"] and got["housing"]  # consent decisions
    assert got["benefits"] == expected["benefits"] and got["benefits"]
    for name, table in expected["statistics"].items():
        assert got["statistics"][name].equals(table), name
    assert ".parquet" in {suffix for suffix, _ in old_parts}  # linked as they were (rewrites: .arrow)
    assert {suffix for suffix, _ in new_parts} == {".arrow"}
    assert [table for _, table in old_parts] == [table for _, table in new_parts]


def _snapshot(bus: Bus) -> list[tuple[str, pa.Table]]:
    """The dataset's snapshot parts: each file's suffix and its rows as read."""
    with bus.engine.connect() as conn:
        snap = snapshots.current(conn, DATASET)
    assert snap.parts
    return [(Path(p.name).suffix, bus.staging.read_table(snap.path(p))) for p in snap.parts]
