"""`SubjectGroups.of(rows)` groups exactly as `group(refs.take(rows))` (what a fan-out relies on)."""

from __future__ import annotations

import hashlib

import numpy as np
import pyarrow as pa
import pytest

from audit import access_index


def _refs(count: int, people: int, rng: np.random.Generator, nulls: float = 0.0) -> pa.Array:
    who = rng.integers(0, people, count)
    values = [hashlib.sha256(str(p).encode()).hexdigest() for p in who]
    mask = rng.random(count) < nulls
    return pa.array([None if m else v for v, m in zip(values, mask, strict=True)], pa.string())


@pytest.mark.parametrize(("count", "people", "nulls"), [(5000, 1200, 0.0), (3000, 3000, 0.05), (40, 3, 0.2)])
def test_every_subset_groups_as_group_does(count: int, people: int, nulls: float) -> None:
    rng = np.random.default_rng(count)
    refs = _refs(count, people, rng, nulls)
    shared = access_index.SubjectGroups(pa.chunked_array([refs.slice(0, count // 3), refs.slice(count // 3)]))
    assert shared.of() == access_index.group(refs)
    for share in (1.0, 0.5, 0.01):
        rows = np.flatnonzero(rng.random(count) < share)
        assert shared.of(rows) == access_index.group(refs.take(pa.array(rows))), share
    assert shared.of(np.array([], np.int64)) == []


def test_first_occurrence_among_the_rows_orders_a_bucket() -> None:
    # Same bucket (same first 10 bits), so their order inside the group is by first occurrence.
    a, b = "00" + "1" * 62, "00" + "2" * 62
    refs = pa.array([a, b, a])
    shared = access_index.SubjectGroups(refs)
    assert shared.of(np.array([1, 2])) == access_index.group(pa.array([b, a]))
    assert shared.of(np.array([1, 2]))[0][1] == bytes.fromhex(b) + bytes.fromhex(a)


def test_all_null_refs_give_no_groups() -> None:
    shared = access_index.SubjectGroups(pa.nulls(4, pa.string()))
    assert shared.of() == [] and shared.of(np.array([0, 3])) == []


def test_a_sliced_array_groups_its_own_rows() -> None:
    """A slice reaches the decoder with an offset into its parent's buffers."""
    rng = np.random.default_rng(3)
    refs = _refs(900, 400, rng, nulls=0.1)
    for start in (1, 7, 450):
        part = refs.slice(start, 300)
        assert access_index.SubjectGroups(part).of() == access_index.group(part), start
        valid = part.filter(part.is_valid())
        assert access_index.SubjectGroups(valid).of() == access_index.group(valid), start
