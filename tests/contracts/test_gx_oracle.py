"""Great Expectations 1.x itself is the oracle: the Arrow engine must flag exactly the
rows GX flags (unexpected_index_list, result_format COMPLETE) and agree on success, on a
hand-made batch and on hypothesis-generated ones (nulls, NaN, out-of-range values, bad
patterns, impossible dates, duplicates).

GX is slow to import and noisy, so it is imported here only, once per module.
"""

from __future__ import annotations

import datetime as dt
import math
import os
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from contracts import SUPPORTED_EXPECTATIONS, Expectation, evaluate

NAN = math.nan
FRAME = {
    "num": [1.0, NAN, 5.0, 20.0, 5.0, -3.0, NAN, 7.5, NAN, 20.0],
    "num2": [0.0, 1.0, NAN, 30.0, -0.0, -3.0, NAN, 7.5, NAN, NAN],  # -0.0 equals 0.0 (pandas)
    "text": ["ab", None, "abc", "x1", "ab", "", "ABC", None, "ab", None],
    "code": ["0101", "101", None, "0101", "A101", "0202", "0303", "0404", "0101", None],
    "when": [
        "2024-02-29", "2023-02-29", None, "2024-1-5", " 2024-01-01",
        "24-01-01", "Jan 5 2024", "2024-13-01", "0000-01-01", "not a date",
    ],
}  # fmt: skip

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
    ("expect_column_values_to_match_strftime_format", {"column": "when", "strftime_format": "%Y-%m-%d"}),
    ("expect_column_values_to_match_strftime_format", {"column": "when", "strftime_format": "%b %d %Y"}),
    ("expect_column_values_to_match_strftime_format", {"column": "code", "strftime_format": "%m%d"}),
    ("expect_column_values_to_be_dateutil_parseable", {"column": "when"}),
    ("expect_column_values_to_be_dateutil_parseable", {"column": "code", "mostly": 0.6}),
    ("expect_table_row_count_to_be_between", {"min_value": 5, "max_value": 20}),
    ("expect_table_row_count_to_be_between", {"max_value": 9}),
]


@pytest.fixture(scope="module")
def gx_batch() -> Any:
    return _batch(FRAME)


_DEFINITION: list[Any] = []  # one GX context per module: building one takes a second


def _batch(frame: dict[str, list[Any]]) -> Any:
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import pandas as pd

    if not _DEFINITION:
        import great_expectations as gx

        context = gx.get_context(mode="ephemeral")
        asset = context.data_sources.add_pandas("oracle").add_dataframe_asset(name="frame")
        _DEFINITION.append(asset.add_batch_definition_whole_dataframe("whole"))
    return _DEFINITION[0].get_batch(batch_parameters={"dataframe": pd.DataFrame(frame)})


def _arrow(frame: dict[str, list[Any]]) -> pa.Table:
    columns = {name: pa.array(values, from_pandas=True) for name, values in frame.items()}  # NaN → null
    return pa.table(
        {name: values.cast(pa.string() if name in TEXT else pa.float64()) for name, values in columns.items()}
    )


TEXT = ("text", "code", "when")


def _disagreements(batch: Any, table: pa.Table) -> list[str]:
    found = []
    for kind, kwargs in CASES:
        expected_rows, expected_success = _gx_result(batch, kind, kwargs)
        (ours,) = evaluate(table, [Expectation(kind, kwargs)])
        got = (ours.unexpected_rows.to_pylist(), ours.success)
        if got != (expected_rows, expected_success):
            found.append(f"{kind}{kwargs}: GX {expected_rows, expected_success}, ours {got}")
    return found


def _gx_result(batch: Any, kind: str, kwargs: dict[str, Any]) -> tuple[list[int], bool]:
    from great_expectations.expectations.expectation_configuration import (
        ExpectationConfiguration,
    )

    expectation = ExpectationConfiguration(type=kind, kwargs=kwargs).to_domain_obj()
    result = batch.validate(expectation, result_format="COMPLETE")
    assert result.exception_info.get("raised_exception") in (None, False), result.exception_info
    return sorted(result.result.get("unexpected_index_list") or []), bool(result.success)


def test_every_supported_expectation_is_covered() -> None:
    """Every GX expectation GovBus supports; GX has no referential or check-digit rule to compare
    with (tests/contracts/test_check_digits.py compares that one with textbook implementations)."""
    in_gx = {kind for kind, compiler in SUPPORTED_EXPECTATIONS.items() if compiler.in_gx}
    assert {kind for kind, _ in CASES} == in_gx
    assert set(SUPPORTED_EXPECTATIONS) - in_gx == {
        "expect_column_values_to_be_in_dataset_keys",
        "expect_column_values_to_have_valid_check_digit",
    }


def test_arrow_engine_flags_exactly_the_rows_gx_flags(gx_batch: Any) -> None:
    disagreements = _disagreements(gx_batch, _arrow(FRAME))
    assert not disagreements, "\n".join(disagreements)
    # the cases are not vacuous: several flag rows and several succeed only through mostly
    assert sum(1 for kind, kwargs in CASES if _gx_result(gx_batch, kind, kwargs)[0]) >= 25


ROWS = 8
# Generated text keeps to ASCII and has no newline: the two documented differences
# (Unicode \d/\w/\s, `$` before a final newline) are tested on their own below.
_numbers = st.one_of(
    st.sampled_from([NAN, 0.0, 5.0, 7.5, -3.0, 20.0, 1.0]),  # duplicates and bounds
    st.floats(min_value=-1e6, max_value=1e6, allow_nan=False),
)
_text = st.one_of(st.none(), st.sampled_from(["", "ab", "abc", "b", "ABC"]), st.text("abAB1 ", max_size=4))
_code = st.one_of(st.none(), st.sampled_from(["0101", "0202", "1231"]), st.text("0123456789A", max_size=5))


@st.composite
def _date_text(draw: st.DrawFn) -> str | None:
    """Near-dates: right or wrong widths, impossible days, stray spaces, month names."""
    if draw(st.booleans()) and draw(st.booleans()):
        return draw(st.one_of(st.none(), st.text("0123456789-/ JanFebSepMarch:T+Z", max_size=12)))
    year = draw(st.sampled_from(["2024", "2023", "1900", "2000", "0000", "99", "024"]))
    month = draw(st.sampled_from(["01", "1", "02", "2", "12", "13", "00", "Feb", "Sep"]))
    day = draw(st.sampled_from(["01", "1", "28", "29", "30", "31", "32", " 5"]))
    sep = draw(st.sampled_from(["-", "/", " "]))
    return draw(st.sampled_from(["", " "])) + sep.join([year, month, day]) + draw(st.sampled_from(["", " "]))


# no shrinking: each step runs GX ~40 times, so shrinking would take minutes; the
# unshrunk batch (8 rows) is small enough to read
@settings(
    max_examples=10,
    deadline=None,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    num=st.lists(_numbers, min_size=ROWS, max_size=ROWS),
    num2=st.lists(_numbers, min_size=ROWS, max_size=ROWS),
    text=st.lists(_text, min_size=ROWS, max_size=ROWS),
    code=st.lists(_code, min_size=ROWS, max_size=ROWS),
    when=st.lists(_date_text(), min_size=ROWS, max_size=ROWS),
)
def test_generated_batches_agree_with_gx(
    num: list[float], num2: list[float], text: list[Any], code: list[Any], when: list[Any]
) -> None:
    frame = {"num": num, "num2": num2, "text": text, "code": code, "when": when}
    disagreements = _disagreements(_batch(frame), _arrow(frame))
    assert not disagreements, "\n".join(disagreements)


FORMATS = [
    "%Y-%m-%d",
    "%d/%m/%y",
    "%b %d %Y",
    "%Y-%m-%dT%H:%M:%S%z",
    "%I:%M %p",
    "%m-%d",
    "%Y%m%d",
    "%H:%M:%S.%f",
]


@settings(max_examples=400, deadline=None, database=None)
@given(
    fmt=st.sampled_from(FORMATS),
    value=st.one_of(
        st.text("0123456789-/: .TZ+apmAPMJanFebSep", max_size=26),
        st.datetimes(min_value=dt.datetime(1, 1, 1), max_value=dt.datetime(9999, 12, 31))
        .map(lambda d: d.strftime("%Y-%m-%d|%d/%m/%y|%b %d %Y|%Y-%m-%dT%H:%M:%S+0%H%M|%I:%M %p|%m-%d|%Y%m%d"))
        .flatmap(lambda joined: st.sampled_from(joined.split("|"))),
    ),
)
def test_strftime_matching_is_pythons_strptime(fmt: str, value: str) -> None:
    """GX's pandas engine asks `datetime.strptime(value, format)`: many more cases than GX
    itself could be run on here, against that very function."""
    try:
        dt.datetime.strptime(value, fmt)
        expected = [False]
    except ValueError:
        expected = [True]
    kwargs = {"column": "v", "strftime_format": fmt}
    (ours,) = evaluate(
        pa.table({"v": [value]}), [Expectation("expect_column_values_to_match_strftime_format", kwargs)]
    )
    assert [bool(ours.unexpected_count)] == expected, (fmt, value)


def test_non_ascii_digits_are_the_one_documented_difference() -> None:
    """Python's \\d takes Arabic-Indic digits, so GX accepts this date; GovBus flags it."""
    value = "\u0662\u0660\u0662\u0664-01-01"
    assert dt.datetime.strptime(value, "%Y-%m-%d")
    kwargs = {"column": "v", "strftime_format": "%Y-%m-%d"}
    (ours,) = evaluate(
        pa.table({"v": [value]}), [Expectation("expect_column_values_to_match_strftime_format", kwargs)]
    )
    assert ours.unexpected_rows.to_pylist() == [0]


def test_a_trailing_newline_is_the_other_documented_difference() -> None:
    """GX (pandas `str.contains`, Python's re) lets `$` match before a final newline;
    RE2's `$` is the end of the value, so GovBus flags the value."""
    import re

    assert re.search("^[0-9]{4}$", "0101\n")
    kwargs = {"column": "v", "regex": "^[0-9]{4}$"}
    (ours,) = evaluate(
        pa.table({"v": ["0101\n", "0101"]}), [Expectation("expect_column_values_to_match_regex", kwargs)]
    )
    assert ours.unexpected_rows.to_pylist() == [0]
