"""A stage's batches validated together: uniqueness across batches (exact, compact key
set), the referential rule through a key lookup, run totals and the GX-shaped result."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contracts import (
    REPEAT_NOTE,
    Contract,
    Expectation,
    SeenKeys,
    StageValidation,
    encode_keys,
    evaluate,
    validation_result,
)
from govbus.errors import BadConfiguration

UNIQUE = Expectation("expect_column_values_to_be_unique", {"column": "k"})
REFERS = Expectation("expect_column_values_to_be_in_dataset_keys", {"column": "k", "dataset": "other"})


def contract(*expectations: Expectation) -> Contract:
    return Contract(
        id="d",
        version="1.0.0",
        owner="o",
        description="",
        purpose="",
        schema_ref="schema/v1.avsc",
        compatibility="NONE",
        subject_field="k",
        key_fields=("k",),
        cursor_field=None,
        source={},
        fields={},
        expectations=expectations,
    )


def issues(validation: StageValidation, **columns: list[Any]) -> list[tuple[int, str]]:
    found = validation.check(pa.table(columns))
    return list(zip(found["row"].to_pylist(), found["reason"].to_pylist(), strict=True))


def test_a_key_read_in_an_earlier_batch_is_flagged_in_the_later_one() -> None:
    validation = StageValidation(contract(UNIQUE))
    reason = "k: expect_column_values_to_be_unique()"
    assert issues(validation, k=["a", "b", "b", None]) == [(1, reason), (2, reason)]  # GX in the batch
    # "a" and "b" were read before (b was itself a duplicate); nulls are never keys
    assert issues(validation, k=["c", "a", None, "b", "d", "c"]) == [
        (0, reason),  # c twice in this batch: GX's rule, no repeat note
        (1, reason + REPEAT_NOTE),
        (3, reason + REPEAT_NOTE),
        (5, reason),
    ]
    assert issues(validation, k=["e"]) == []
    [total] = validation.results()
    assert (total.element_count, total.considered, total.unexpected_count, total.success) == (11, 9, 6, False)


def test_a_new_stage_starts_with_no_keys() -> None:
    """Across stages a key may come again: an incremental source re-sends changed rows."""
    first, second = StageValidation(contract(UNIQUE)), StageValidation(contract(UNIQUE))
    assert issues(first, k=["a", "b"]) == []
    assert issues(second, k=["a"]) == []


def test_mostly_is_judged_on_the_run_totals() -> None:
    rule = Expectation("expect_column_values_to_be_unique", {"column": "k", "mostly": 0.75})
    validation = StageValidation(contract(rule))
    validation.check(pa.table({"k": ["a", "b", "c", "d"]}))
    validation.check(pa.table({"k": ["a", "e", "f", "g"]}))  # one repeat of eight: 87.5 % unique
    assert validation.results()[0].success is True
    validation.check(pa.table({"k": ["b", "c", "h", "i"]}))  # three of twelve: 75 %
    assert validation.results()[0].success is True
    validation.check(pa.table({"k": ["d"]}))
    assert validation.results()[0].success is False


def test_compound_keys_span_batches_with_ignore_row_if() -> None:
    rule = Expectation("expect_compound_columns_to_be_unique", {"column_list": ["a", "b"]})
    validation = StageValidation(contract(rule))
    assert issues(validation, a=[1, 1, None], b=["x", None, None]) == []
    found = issues(validation, a=[1, 1, None, 2], b=["x", None, None, "x"])
    # (1, x) and (1, null) were read before; (null, null) is skipped (all_values_are_missing)
    assert [row for row, _ in found] == [0, 1]
    never = Expectation(
        "expect_compound_columns_to_be_unique", {"column_list": ["a", "b"], "ignore_row_if": "never"}
    )
    validation = StageValidation(contract(never))
    validation.check(pa.table({"a": pa.array([None], pa.int64()), "b": pa.array([None], pa.string())}))
    assert [
        row for row, _ in issues(validation, a=pa.array([None], pa.int64()), b=pa.array([None], pa.string()))
    ] == [0]


@settings(max_examples=40, deadline=None)
@given(
    batches=st.lists(
        st.lists(st.tuples(st.one_of(st.none(), st.sampled_from("abc")), st.integers(0, 2)), max_size=10),
        min_size=1,
        max_size=5,
    )
)
def test_keys_encoded_ahead_give_the_same_issues(batches: list[list[tuple[str | None, int]]]) -> None:
    # The stage encodes a batch's keys on its preparer thread (`keys_of`), ahead of `check`.
    rules = (UNIQUE, Expectation("expect_compound_columns_to_be_unique", {"column_list": ["k", "n"]}))
    itself, ahead = StageValidation(contract(*rules)), StageValidation(contract(*rules))
    for batch in batches:
        table = pa.table(
            {
                "k": pa.array([k for k, _ in batch], pa.string()),
                "n": pa.array([n for _, n in batch], pa.int64()),
            }
        )
        keys = ahead.keys_of(table)
        assert ahead.check(table, keys=keys).equals(itself.check(table))
    assert [r.unexpected_count for r in ahead.results()] == [r.unexpected_count for r in itself.results()]


def test_the_row_count_rule_is_judged_on_the_whole_run() -> None:
    count = Expectation("expect_table_row_count_to_be_between", {"min_value": 5})
    validation = StageValidation(contract(count))
    validation.check(pa.table({"k": ["a", "b", "c"]}))  # 3 < 5 in this batch: no row flagged
    validation.check(pa.table({"k": ["d", "e"]}))
    [total] = validation.results()
    assert (total.success, total.observed_value) == (True, 5)


def test_the_referential_rule_asks_the_lookup_and_skips_nulls() -> None:
    asked: list[tuple[str, str | None, list[Any]]] = []

    def keys(dataset: str, key_field: str | None, values: pa.Array) -> pa.Array:
        asked.append((dataset, key_field, values.to_pylist()))
        return pc.is_in(values, value_set=pa.array(["a", "b"]))

    validation = StageValidation(contract(REFERS), keys=keys)
    reason = "k: expect_column_values_to_be_in_dataset_keys(dataset='other')"
    assert issues(validation, k=["a", "z", None, "b"]) == [(1, reason)]
    assert asked == [("other", None, ["a", "z", None, "b"])]
    with pytest.raises(BadConfiguration, match="needs the keys the bus has staged"):
        evaluate(pa.table({"k": ["a"]}), [REFERS])
    with pytest.raises(BadConfiguration, match="cannot run on these column types"):
        evaluate(pa.table({"k": [1.5]}), [REFERS], keys=keys)


def test_conform_issues_are_passed_through_and_counted() -> None:
    validation = StageValidation(contract(UNIQUE))
    conform = pa.table(
        {
            "row": pa.array([2, 0], pa.int64()),
            "reason": ["k: cannot convert to int", "k: cannot convert to int"],
        }
    )
    found = validation.check(pa.table({"k": ["a", "a", None]}), conform)
    assert found["row"].to_pylist() == [0, 0, 1, 2]
    assert dict(validation.conform_issues) == {"k: cannot convert to int": 2}


def test_the_validation_result_is_gx_shaped_and_holds_counts_only() -> None:
    from great_expectations.core.expectation_validation_result import ExpectationSuiteValidationResultSchema

    validation = StageValidation(contract(UNIQUE, REFERS), keys=lambda d, f, v: pc.equal(v, "secret-1"))
    validation.check(pa.table({"k": ["secret-1", "secret-2", "secret-2", None]}))
    result = validation_result(
        contract(UNIQUE, REFERS),
        "d.000001.abcdef",
        validation.results(),
        run_time=dt.datetime(2026, 1, 2, tzinfo=dt.UTC),
        rows_read=4,
        rows_quarantined=2,
        conform_issues={},
    )
    loaded = ExpectationSuiteValidationResultSchema().load(json.loads(json.dumps(result)))
    assert loaded.success is False and loaded.statistics["unsuccessful_expectations"] == 2
    unique = result["results"][0]["result"]
    assert unique == {
        "element_count": 4,
        "unexpected_count": 2,
        "unexpected_percent": pytest.approx(200 / 3),
        "missing_count": 1,
        "missing_percent": 25.0,
        "unexpected_percent_total": 50.0,
        "unexpected_percent_nonmissing": pytest.approx(200 / 3),
    }
    assert "secret" not in json.dumps(result)


# -- the key set --------------------------------------------------------------------------


def test_encoding_tells_apart_what_looks_alike() -> None:
    def encoded(*columns: pa.Array) -> list[bytes]:
        return [bytes(k) for k in encode_keys(list(columns))]

    a = encoded(pa.array(["a", "ab", None, "", "-"]), pa.array(["bc", "c", None, None, ""]))
    assert len(set(a)) == 5
    assert encoded(pa.array([0.0, -0.0]))[0] == encoded(pa.array([0.0, -0.0]))[1]
    # NUL bytes inside values are kept apart from the width padding
    padded = SeenKeys()
    padded.add(encode_keys([pa.array(["abc\x00\x00\x00\x00"])]))
    assert padded.contains(encode_keys([pa.array(["abc"])])).tolist() == [False]


@settings(max_examples=60, deadline=None)
@given(
    batches=st.lists(
        st.lists(st.tuples(st.one_of(st.none(), st.text(max_size=3)), st.integers(-2, 2)), max_size=12),
        min_size=1,
        max_size=6,
    )
)
def test_the_key_set_answers_like_a_python_set(batches: list[list[tuple[str | None, int]]]) -> None:
    seen = SeenKeys()
    reference: set[tuple[str | None, int]] = set()
    for batch in batches:
        keys = encode_keys(
            [pa.array([t for t, _ in batch], pa.string()), pa.array([n for _, n in batch], pa.int64())]
        )
        assert seen.contains(keys).tolist() == [item in reference for item in batch]
        seen.add(keys)
        reference.update(batch)
        assert len(seen) == len(reference)


@settings(max_examples=40, deadline=None)
@given(
    batches=st.lists(st.lists(st.text(alphabet="ab\x00", max_size=4), max_size=10), min_size=1, max_size=5)
)
def test_the_key_set_stays_exact_when_hashes_collide(batches: list[list[str]]) -> None:
    """Every key hashed into one of 2 values: the byte comparison alone keeps it exact."""
    from contracts import seen_keys

    real = seen_keys.key_hashes
    seen_keys.key_hashes = lambda keys: real(keys) & np.uint64(1)
    try:
        seen, reference = SeenKeys(), set()
        for batch in batches:
            keys = encode_keys([pa.array(batch, pa.string())])
            assert seen.contains(keys).tolist() == [k in reference for k in batch]
            assert seen.add(keys).tolist() == [k in reference for k in batch]
            reference.update(batch)
            assert len(seen) == len(reference)
    finally:
        seen_keys.key_hashes = real


def test_the_key_set_is_linear_not_quadratic() -> None:
    """A million keys in 20 batches of 50,000: one merge per batch, no Python per key."""
    import time

    seen = SeenKeys()
    ids = pa.array([f"R{n:09d}" for n in np.random.default_rng(1).permutation(1_000_000)])
    started = time.perf_counter()
    for start in range(0, 1_000_000, 50_000):
        assert not seen.add(encode_keys([ids.slice(start, 50_000)])).any()
    assert len(seen) == 1_000_000
    assert time.perf_counter() - started < 20  # about 1 s on the 2-core development machine
