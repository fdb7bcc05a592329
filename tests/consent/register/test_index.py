"""ConsentIndex answers exactly as index_in would, and timelines reuse it between changes."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pyarrow.compute as pc
from hypothesis import given, settings
from hypothesis import strategies as st

import audit
from consent import ConsentTimeline, decide
from consent.register.index import ConsentIndex

T0 = datetime(2025, 1, 1, tzinfo=UTC)
SCOPE = {"dataset": "d", "recipient": "r", "purpose": "P"}


def ref(n: int) -> str:
    return hashlib.sha256(str(n).encode()).hexdigest()


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.integers(0, 30), max_size=40), st.lists(st.one_of(st.none(), st.integers(0, 40)), max_size=60)
)
def test_same_answers_as_index_in(consenting: list[int], batch: list[int | None]) -> None:
    table = pa.table(
        {
            "subject_ref": pa.array([ref(n) for n in consenting], pa.string()),
            "consent_id": pa.array([f"c{i}" for i in range(len(consenting))], pa.string()),
        }
    )
    refs = pa.array([None if n is None else ref(n) for n in batch], pa.string())
    expected = pc.index_in(refs, value_set=table.column("subject_ref").combine_chunks())
    index = ConsentIndex(table)
    got = index.positions(pa.chunked_array([refs[:7], refs[7:]]))
    assert got.to_pylist() == expected.to_pylist()  # first consent wins for duplicates
    # The raw form of the same refs (as staged, ADR 0008), sliced: the same answers.
    raw = audit.refs_as_raw(pa.array([None, *refs.to_pylist()], pa.string())).slice(1)
    assert index.positions(raw).to_pylist() == expected.to_pylist()


def test_prefix_collision_never_allows_the_wrong_subject() -> None:
    mine, other = "ab" * 8 + "0" * 48, "ab" * 8 + "f" * 48  # same first 16 hex digits
    index = ConsentIndex(pa.table({"subject_ref": [mine], "consent_id": ["c1"]}))
    assert index.positions(pa.array([other, mine, None, "not-hex" * 9 + "x"])).to_pylist() == [
        None,
        0,
        None,
        None,
    ]
    short = ConsentIndex(pa.table({"subject_ref": ["r1", "r2"], "consent_id": ["c1", "c2"]}))
    assert short.positions(pa.array(["r2", "zz", None])).to_pylist() == [1, None, None]
    # Raw refs: a prefix collision is a miss too, and an index of malformed refs finds nothing.
    raw = audit.refs_as_raw(pa.array([other, mine, None]))
    assert index.positions(raw).to_pylist() == [None, 0, None]
    assert short.positions(raw).to_pylist() == [None, None, None]


def test_active_index_is_reused_until_a_consent_changes_state() -> None:
    rows = [
        (ref(1), "c1", True, T0, T0 + timedelta(days=10), None, T0),
        (ref(2), "c2", True, T0 + timedelta(days=5), None, None, T0),
    ]
    timeline = ConsentTimeline.build(rows, [("c1", T0 + timedelta(days=2), T0 + timedelta(days=3))])
    first = timeline.active_index(T0 + timedelta(hours=1))
    assert timeline.active_index(T0 + timedelta(days=1, hours=23)) is first  # nothing changed
    paused = timeline.active_index(T0 + timedelta(days=2))
    assert paused is not first and len(paused) == 0
    refs = pa.array([ref(1), ref(2)])
    for day in range(0, 12):
        at = T0 + timedelta(days=day)
        by_index = decide(refs, statute=None, consents=timeline.active_index(at), at=at, **SCOPE)
        by_table = decide(refs, statute=None, consents=timeline.active(at), at=at, **SCOPE)
        assert by_index.allowed.equals(by_table.allowed), day
        assert by_index.consent_ids is not None and by_table.consent_ids is not None
        assert by_index.consent_ids.to_pylist() == by_table.consent_ids.to_pylist()


def test_large_index_with_duplicates_matches_index_in() -> None:
    subjects = [n % 3000 for n in range(5000)]  # 2000 subjects with two consents
    table = pa.table(
        {"subject_ref": [ref(n) for n in subjects], "consent_id": [f"c{i}" for i in range(5000)]}
    )
    refs = pa.array([ref(n) for n in range(0, 6000, 3)] + [None])
    expected = pc.index_in(refs, value_set=table.column("subject_ref").combine_chunks())
    assert ConsentIndex(table).positions(refs).to_pylist() == expected.to_pylist()
