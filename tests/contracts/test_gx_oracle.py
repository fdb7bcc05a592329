"""Great Expectations 1.x itself is the oracle: the Arrow engine must flag exactly the
rows GX flags (unexpected_index_list, result_format COMPLETE) and agree on success.

GX is slow to import and noisy, so it is imported here only, once per module.
"""

from __future__ import annotations

import math
import os
from typing import Any

import pyarrow as pa
import pytest

from contracts import SUPPORTED_EXPECTATIONS, Expectation, evaluate

NAN = math.nan
FRAME = {
    "num": [1.0, NAN, 5.0, 20.0, 5.0, -3.0, NAN, 7.5, NAN, 20.0],
    "num2": [0.0, 1.0, NAN, 30.0, NAN, -3.0, NAN, 7.5, NAN, NAN],
    "text": ["ab", None, "abc", "x1", "ab", "", "ABC", None, "ab", None],
    "code": ["0101", "101", None, "0101", "A101", "0202", "0303", "0404", "0101", None],
}

CASES: list[tuple[str, dict[str, Any]]] = [
    ("expect_column_values_to_not_be_null", {"column": "text"}),
    ("expect_column_values_to_not_be_null", {"column": "num"}),
    ("expect_column_values_to_be_null", {"column": "text"}),
    ("expect_column_values_to_match_regex", {"column": "code", "regex": "^[0-9]{4}$"}),
    ("expect_column_values_to_match_regex", {"column": "text", "regex": "b", "mostly": 0.5}),
    ("expect_column_values_to_not_match_regex", {"column": "text", "regex": "b"}),
    ("expect_column_values_to_be_between", {"column": "num", "min_value": 0, "max_value": 10}),
    (
        "expect_column_values_to_be_between",
        {"column": "num", "min_value": 1, "max_value": 7.5, "strict_min": True, "strict_max": True},
    ),
    ("expect_column_values_to_be_between", {"column": "num", "max_value": 5}),
    ("expect_column_values_to_be_between", {"column": "num", "min_value": 0, "mostly": 0.8}),
    ("expect_column_values_to_be_in_set", {"column": "text", "value_set": ["ab", "abc"]}),
    ("expect_column_values_to_be_in_set", {"column": "num", "value_set": [1, 5]}),
    ("expect_column_values_to_not_be_in_set", {"column": "text", "value_set": ["ab"]}),
    ("expect_column_values_to_be_unique", {"column": "text"}),
    ("expect_column_values_to_be_unique", {"column": "num"}),
    ("expect_column_values_to_be_unique", {"column": "code", "mostly": 0.7}),
    ("expect_column_value_lengths_to_be_between", {"column": "text", "min_value": 1, "max_value": 2}),
    (
        "expect_column_value_lengths_to_be_between",
        {"column": "text", "min_value": 2, "max_value": 3, "strict_min": True},
    ),
    ("expect_compound_columns_to_be_unique", {"column_list": ["num", "num2"]}),
    (
        "expect_compound_columns_to_be_unique",
        {"column_list": ["num", "num2"], "ignore_row_if": "any_value_is_missing"},
    ),
    ("expect_compound_columns_to_be_unique", {"column_list": ["num", "num2"], "ignore_row_if": "never"}),
    ("expect_compound_columns_to_be_unique", {"column_list": ["text", "code"]}),
    ("expect_column_pair_values_a_to_be_greater_than_b", {"column_A": "num", "column_B": "num2"}),
    (
        "expect_column_pair_values_a_to_be_greater_than_b",
        {"column_A": "num", "column_B": "num2", "or_equal": True},
    ),
    (
        "expect_column_pair_values_a_to_be_greater_than_b",
        {"column_A": "num", "column_B": "num2", "ignore_row_if": "either_value_is_missing"},
    ),
    (
        "expect_column_pair_values_a_to_be_greater_than_b",
        {"column_A": "num", "column_B": "num2", "ignore_row_if": "neither"},
    ),
]


@pytest.fixture(scope="module")
def gx_batch() -> Any:
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx
    import pandas as pd

    context = gx.get_context(mode="ephemeral")
    asset = context.data_sources.add_pandas("oracle").add_dataframe_asset(name="frame")
    definition = asset.add_batch_definition_whole_dataframe("whole")
    return definition.get_batch(batch_parameters={"dataframe": pd.DataFrame(FRAME)})


def _gx_result(batch: Any, kind: str, kwargs: dict[str, Any]) -> tuple[list[int], bool]:
    from great_expectations.expectations.expectation_configuration import (
        ExpectationConfiguration,
    )

    expectation = ExpectationConfiguration(type=kind, kwargs=kwargs).to_domain_obj()
    result = batch.validate(expectation, result_format="COMPLETE")
    assert result.exception_info.get("raised_exception") in (None, False), result.exception_info
    return sorted(result.result.get("unexpected_index_list") or []), bool(result.success)


def test_every_supported_expectation_is_covered() -> None:
    assert {kind for kind, _ in CASES} == set(SUPPORTED_EXPECTATIONS)


def test_arrow_engine_flags_exactly_the_rows_gx_flags(gx_batch: Any) -> None:
    table = pa.table(
        {
            "num": pa.array(FRAME["num"], from_pandas=True),  # NaN → null, as GX treats it
            "num2": pa.array(FRAME["num2"], from_pandas=True),
            "text": FRAME["text"],
            "code": FRAME["code"],
        }
    )
    disagreements = []
    for kind, kwargs in CASES:
        expected_rows, expected_success = _gx_result(gx_batch, kind, kwargs)
        (ours,) = evaluate(table, [Expectation(kind, kwargs)])
        got = (ours.unexpected_rows.to_pylist(), ours.success)
        if got != (expected_rows, expected_success):
            disagreements.append(f"{kind}{kwargs}: GX {expected_rows, expected_success}, ours {got}")
    assert not disagreements, "\n".join(disagreements)
    # the cases are not vacuous: several flag rows and several succeed only through mostly
    assert sum(1 for kind, kwargs in CASES if _gx_result(gx_batch, kind, kwargs)[0]) >= 20
