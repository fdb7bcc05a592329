"""Minimization never leaks a field: a property test over random subscriptions and bases.

Each example draws a batch, sensitive fields, a statute (or none), consents in every
state at the delivery instant (boundaries included) and a subscription's field list,
runs decide → select → minimize as the exchange does, and checks the result against an
oracle written independently of consent/: which rows may leave, and with which fields.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from consent import (
    ACTIVE,
    EXPIRED,
    PAUSED,
    PENDING,
    REVOKED,
    ConsentTimeline,
    Statute,
    decide,
    minimize,
)
from govbus.errors import BadConfiguration

AT = datetime(2025, 6, 1, tzinfo=UTC)
DAY = timedelta(days=1)
POOL = [f"f{i}" for i in range(7)]
SUBJECTS = [f"s{i}" for i in range(6)]
SCOPE = {"dataset": "d", "recipient": "r", "purpose": "P"}
STATES = [ACTIVE, PAUSED, REVOKED, EXPIRED, PENDING]


def _consent_row(subject: str, number: int, fields: frozenset[str], state: str):  # type: ignore[no-untyped-def]
    """A timeline row (and pause windows) whose state at AT is `state`, at the boundaries."""
    cid = f"c{number}"
    start, until, revoked, windows = AT - 2 * DAY, None, None, []
    if state == PENDING:
        start = AT + DAY
    elif state == EXPIRED:
        until = AT  # valid_until exactly now: no longer in force
    elif state == REVOKED:
        revoked = AT  # revoked exactly now
    elif state == PAUSED:
        windows = [(cid, AT, AT + DAY)]  # paused exactly now
    covers_all = ",".join(sorted(fields))
    return (subject, cid, covers_all, start, until, revoked, AT - 3 * DAY), windows


@st.composite
def examples(draw: st.DrawFn):  # type: ignore[no-untyped-def]
    rows = draw(st.integers(0, 25))
    subjects = draw(st.lists(st.sampled_from([*SUBJECTS, None]), min_size=rows, max_size=rows))
    requested = draw(st.lists(st.sampled_from(POOL), min_size=1, max_size=len(POOL), unique=True))
    sensitive = draw(st.sets(st.sampled_from(POOL)))
    consents = draw(
        st.lists(
            st.tuples(
                st.sampled_from(SUBJECTS),
                st.frozensets(st.sampled_from(POOL), min_size=1),
                st.sampled_from(STATES),
            ),
            max_size=12,
        )
    )
    statute = None
    if draw(st.booleans()):
        statute = Statute(
            id="S-1",
            law="Act 1",
            fields=tuple(draw(st.sets(st.sampled_from(POOL), min_size=1))),
            valid_from=AT - DAY if draw(st.booleans()) else AT + DAY,
            **SCOPE,
        )
    return subjects, requested, sensitive, consents, statute


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(examples())
def test_minimization_never_leaks_a_field(example) -> None:  # type: ignore[no-untyped-def]
    subjects, requested, sensitive, consents, statute = example
    table = pa.table(
        {
            "row": pa.array(range(len(subjects)), pa.int64()),
            "subject": pa.array(subjects, pa.string()),
            **{name: pa.array([hash((name, i)) for i in range(len(subjects))], pa.int64()) for name in POOL},
        }
    )
    built = [_consent_row(s, n, f, state) for n, (s, f, state) in enumerate(consents)]
    timeline = ConsentTimeline.build(
        [(s, cid, set(requested) <= set(text.split(",")), *rest) for (s, cid, text, *rest), _ in built],
        [w for _, windows in built for w in windows],
    )
    decision = decide(
        table.column("subject"),
        statute=statute,
        consents=timeline.active(AT),
        at=AT,
        fields=requested,
        **SCOPE,
    )
    by_statute = statute is not None and decision.basis == statute.id
    basis_fields = set(statute.fields) if by_statute and statute else set(requested)
    # The oracle, independent of consent/: who may receive which fields.
    statute_ok = (
        statute is not None
        and statute.valid_from is not None
        and statute.valid_from <= AT
        and set(requested) <= set(statute.fields)
    )
    consenting = {s for s, f, state in consents if state == ACTIVE and set(requested) <= f}
    expected_rows = [i for i, s in enumerate(subjects) if statute_ok or s in consenting]
    assert by_statute == statute_ok
    try:
        out = minimize(decision.select(table), requested, basis_fields=basis_fields, sensitive=sensitive)
    except BadConfiguration:
        assert not set(requested) <= basis_fields or (sensitive & set(requested)) - basis_fields
        return
    assert out.column_names == requested  # exactly the fields asked for, in order
    assert set(out.column_names) <= basis_fields
    assert not (set(out.column_names) & sensitive) - basis_fields
    assert decision.select(table).column("row").to_pylist() == expected_rows
    assert out.equals(table.take(pa.array(expected_rows, pa.int64())).select(requested))


def test_sensitive_needs_an_explicit_basis() -> None:
    table = pa.table({"a": [1], "grade": [2]})
    assert minimize(table, ["a", "grade"], basis_fields={"a", "grade"}, sensitive={"grade"}).column_names == [
        "a",
        "grade",
    ]
    with pytest.raises(BadConfiguration, match="grade is sensitive"):
        minimize(table, ["a", "grade"], sensitive={"grade"})
    with pytest.raises(BadConfiguration, match="not allowed by the legal basis"):
        minimize(table, ["a", "grade"], basis_fields={"a"})
