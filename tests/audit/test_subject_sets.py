"""The access index by shared subject sets (ADR 0007): what deliveries record comes back per
subject, on each database, beside the rows of the per-delivery layout before it."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy.engine import Engine

from audit import AUDIT_METADATA, access_index, subject_sets
from exchange.state import migrate as schema_migrations
from tests.audit.index_engines import PARAMS, index_engine
from tests.audit.test_access_index import random_refs
from tests.conftest import engine_at_revision

_engine = pytest.fixture(params=PARAMS, name="engine")(index_engine)


def piece_refs(rows: int, people: int, seed: int) -> pa.Array:
    """A piece's refs: `rows` rows of `people` subjects (most appear more than once), some null."""
    pool = random_refs(people, seed)
    picks = np.random.default_rng(seed).integers(0, people, rows)
    refs = pool.take(pa.array(picks))
    nulls = np.zeros(rows, bool)
    nulls[::97] = True
    return pa.array(refs.to_pylist(), pa.string(), mask=nulls)


def test_a_subset_of_rows_carries_exactly_the_subjects_group_finds_for_it() -> None:
    refs = piece_refs(5_000, 3_000, seed=1)
    built = subject_sets.build(refs)
    assert built.rows == 5_000 and built.set_id is None
    keys = b"".join(keys for _, _, keys in built.groups)
    assert built.subjects == len(keys) // 32 == len(set(r for r in refs.to_pylist() if r))
    for seed in range(5):
        rows = np.sort(np.random.default_rng(seed).choice(5_000, 1_700, replace=False))
        carried = built.carried(rows)
        got = {keys[i * 32 : i * 32 + 32] for i in np.flatnonzero(carried)}
        expected = {
            grouped[at : at + 32]
            for _, grouped in access_index.group(refs.take(pa.array(rows)))
            for at in range(0, len(grouped), 32)
        }
        assert got == expected
    # Buckets ascending, each group's first index where the one before it ended.
    firsts = [first for _, first, _ in built.groups]
    assert firsts == sorted(firsts) and firsts[0] == 0
    assert [b for b, _, _ in built.groups] == sorted({b for b, _, _ in built.groups})


def test_lookups_find_exactly_the_deliveries_of_every_subject_in_both_layouts(engine: Engine) -> None:
    refs = piece_refs(4_000, 2_500, seed=2)
    built = subject_sets.build(refs)
    truth: dict[str, set[int]] = defaultdict(set)
    values = refs.to_pylist()
    with engine.begin() as conn:
        set_id = subject_sets.write_set(conn, built, stage_id="S1", segment=0)
        found = subject_sets.current(conn, "S1", 0, 4_000)
        assert found is not None and found.set_id == set_id and found.subjects == built.subjects
        assert np.array_equal(found.row_subjects, built.row_subjects)
        for seq in (10, 11, 12):
            rows = np.sort(np.random.default_rng(seq).choice(4_000, 900 * (seq - 9), replace=False))
            subject_sets.write_delivery(conn, seq, set_id, found.carried(rows))
            truth_rows = [values[i] for i in rows.tolist()]
            for ref in truth_rows:
                if ref is not None:
                    truth[ref].add(seq)
        # A delivery of the layout before migration 0011, still found.
        legacy = random_refs(50, seed=99)
        access_index.write(conn, access_index.group(legacy), 9)
        for ref in legacy.to_pylist():
            truth[ref].add(9)
    with engine.connect() as conn:
        pairs = list(subject_sets.entries(conn))
        assert len(pairs) == len(set(pairs)) == sum(len(s) for s in truth.values())
        assert {(ref, seq) for ref, seeqs in truth.items() for seq in seeqs} == set(pairs)
        everyone = [r for r in set(values) if r is not None] + legacy.to_pylist()[:5]
        for ref in everyone[:400]:
            assert subject_sets.deliveries_of(conn, ref) == sorted(truth.get(ref, ()))
        assert subject_sets.deliveries_of(conn, random_refs(1, seed=5).to_pylist()[0]) == []


def test_a_retired_set_still_answers_for_its_deliveries_and_is_no_segment_s_current_set(
    engine: Engine,
) -> None:
    refs = piece_refs(1_000, 800, seed=3)
    built = subject_sets.build(refs)
    with engine.begin() as conn:
        set_id = subject_sets.write_set(conn, built, stage_id="S2", segment=4)
        subject_sets.write_delivery(conn, 20, set_id, built.carried(None))
        # Built from another row count (a rewritten segment): not this segment's set.
        assert subject_sets.current(conn, "S2", 4, 999) is None
        subject_sets.retire(conn, "S2", 4)
        assert subject_sets.current(conn, "S2", 4, 1_000) is None
    someone = next(r for r in refs.to_pylist() if r)
    with engine.connect() as conn:
        assert subject_sets.deliveries_of(conn, someone) == [20]


def test_a_discarded_stage_leaves_no_set_behind(engine: Engine) -> None:
    with engine.begin() as conn:
        for segment in (0, 1):
            subject_sets.write_set(
                conn, subject_sets.build(piece_refs(300, 200, seed=segment)), stage_id="S3", segment=segment
            )
        kept = subject_sets.write_set(
            conn, subject_sets.build(piece_refs(300, 200, seed=7)), stage_id="S4", segment=0
        )
        subject_sets.forget_stage(conn, "S3")
        sets, buckets = AUDIT_METADATA.tables["subject_sets"], AUDIT_METADATA.tables["subject_set_buckets"]
        assert conn.execute(sa.select(sets.c.set_id)).scalars().all() == [kept]
        assert set(conn.execute(sa.select(buckets.c.set_id)).scalars()) == {kept}


def test_nothing_carried_writes_no_row(engine: Engine) -> None:
    built = subject_sets.build(piece_refs(100, 80, seed=4))
    with engine.begin() as conn:
        set_id = subject_sets.write_set(conn, built)
        assert subject_sets.write_delivery(conn, 30, set_id, np.zeros(built.subjects, bool)) == 0
        assert not list(subject_sets.entries(conn))


@pytest.fixture(params=["sqlite", "postgresql"])
def at_0011(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    with engine_at_revision(request.param, "0011", tmp_path, "subject_sets_down") as eng:
        yield eng


def test_downgrading_0011_moves_every_delivery_s_subjects_into_per_delivery_rows(at_0011: Engine) -> None:
    refs = piece_refs(3_000, 2_000, seed=6)
    built = subject_sets.build(refs)
    with at_0011.begin() as conn:
        set_id = subject_sets.write_set(conn, built, stage_id="S5", segment=0)
        for seq in (1, 2):
            rows = np.sort(np.random.default_rng(seq).choice(3_000, 1_000, replace=False))
            subject_sets.write_delivery(conn, seq, set_id, built.carried(rows))
        before = sorted(subject_sets.entries(conn))
    assert len(before) > 1_000
    with at_0011.begin() as conn:
        command.downgrade(schema_migrations.alembic_config(conn), "0010")
    with at_0011.connect() as conn:
        assert sorted(access_index.entries(conn)) == before
        assert not sa.inspect(conn).has_table("access_deliveries")
    schema_migrations.upgrade(at_0011)
    with at_0011.connect() as conn:
        assert sorted(subject_sets.entries(conn)) == before
