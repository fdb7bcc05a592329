"""Expectations on Arrow batches: null semantics, typed constants, reasons, grouping."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from contracts import Expectation, evaluate, group_issues, load_contract, validate
from govbus.errors import BadConfiguration
from schemas import conform, load_schema

REPO = Path(__file__).resolve().parents[2]
TAX = REPO / "catalog" / "datasets" / "tax.income"
UTC = dt.UTC


def flagged(table: pa.Table, kind: str, **kwargs: Any) -> list[int]:
    (result,) = evaluate(table, [Expectation(kind, kwargs)])
    return result.unexpected_rows.to_pylist()


NULLY = pa.table(
    {
        "s": ["a1", None, "bb", "a1", None, ""],
        "n": pa.array([5, None, -1, 5, None, 100], pa.int32()),
        "m": pa.array([4, None, None, 6, 1, 100], pa.int64()),
    }
)


@pytest.mark.parametrize(
    ("kind", "kwargs", "rows"),
    [
        ("expect_column_values_to_not_be_null", {"column": "s"}, [1, 4]),
        ("expect_column_values_to_be_null", {"column": "s"}, [0, 2, 3, 5]),
        ("expect_column_values_to_match_regex", {"column": "s", "regex": "^a"}, [2, 5]),
        ("expect_column_values_to_not_match_regex", {"column": "s", "regex": "1"}, [0, 3]),
        ("expect_column_values_to_be_between", {"column": "n", "min_value": 0, "max_value": 10}, [2, 5]),
        (
            "expect_column_values_to_be_between",
            {"column": "n", "min_value": 5, "strict_min": True},
            [0, 2, 3],
        ),
        ("expect_column_values_to_be_in_set", {"column": "s", "value_set": ["a1", ""]}, [2]),
        ("expect_column_values_to_not_be_in_set", {"column": "s", "value_set": ["a1"]}, [0, 3]),
        ("expect_column_values_to_be_unique", {"column": "s"}, [0, 3]),  # nulls are not duplicates
        ("expect_column_values_to_be_unique", {"column": "n"}, [0, 3]),
        ("expect_column_value_lengths_to_be_between", {"column": "s", "min_value": 1}, [5]),
        ("expect_compound_columns_to_be_unique", {"column_list": ["s", "n"]}, [0, 3]),
        (
            "expect_compound_columns_to_be_unique",
            {"column_list": ["s", "n"], "ignore_row_if": "never"},
            [0, 1, 3, 4],  # all-null rows count, and a null equals a null
        ),
        (
            "expect_compound_columns_to_be_unique",
            {"column_list": ["s", "n"], "ignore_row_if": "any_value_is_missing"},
            [0, 3],
        ),
        (
            "expect_column_pair_values_a_to_be_greater_than_b",
            {"column_A": "n", "column_B": "m"},
            [2, 3, 4, 5],
        ),
        (
            "expect_column_pair_values_a_to_be_greater_than_b",
            {"column_A": "n", "column_B": "m", "or_equal": True, "ignore_row_if": "either_value_is_missing"},
            [3],
        ),
    ],
)
def test_each_expectation_with_nulls(kind: str, kwargs: dict[str, Any], rows: list[int]) -> None:
    assert flagged(NULLY, kind, **kwargs) == rows


def test_typed_constants_compare_with_decimal_timestamp_and_enum_columns() -> None:
    table = pa.table(
        {
            "amount": pa.array(
                [Decimal("0.00"), Decimal("-0.01"), Decimal("100000000.01"), None], pa.decimal128(14, 2)
            ),
            "at": pa.array(
                [dt.datetime(2019, 12, 31, 23, tzinfo=UTC), dt.datetime(2020, 1, 1, tzinfo=UTC), None, None],
                pa.timestamp("us", tz="UTC"),
            ),
            "status": pa.array(["SINGLE", "JOINT", None, "JOINT"]).dictionary_encode(),
        }
    )
    between = "expect_column_values_to_be_between"
    assert flagged(table, between, column="amount", min_value=0, max_value=100000000) == [1, 2]
    assert flagged(table, between, column="amount", min_value=0.005) == [0, 1]
    assert flagged(table, between, column="at", min_value=dt.date(2020, 1, 1)) == [0]
    assert flagged(table, between, column="at", max_value="2019-12-31T23:30:00+00:00") == [1]
    assert flagged(table, between, column="at", min_value=dt.datetime(2020, 1, 1)) == [0]  # naive = UTC
    in_set = "expect_column_values_to_be_in_set"
    assert flagged(table, in_set, column="amount", value_set=[0, "-0.01"]) == [2]
    assert flagged(table, in_set, column="status", value_set=["JOINT"]) == [0]
    assert flagged(table, "expect_column_values_to_match_regex", column="amount", regex=r"^\d+\.\d\d$") == [1]


def test_mostly_keeps_flagging_rows_but_decides_success() -> None:
    expectation = Expectation(
        "expect_column_values_to_match_regex", {"column": "s", "regex": "^a", "mostly": 0.5}
    )
    (result,) = evaluate(NULLY, [expectation])
    assert result.unexpected_rows.to_pylist() == [2, 5]  # still quarantined
    assert result.considered == 4 and result.unexpected_count == 2
    assert result.success  # 2 of 4 non-null values pass: 0.5 ≥ mostly
    assert result.reason == "s: expect_column_values_to_match_regex(regex='^a')"
    strict = Expectation("expect_column_values_to_match_regex", {"column": "s", "regex": "^a"})
    assert not evaluate(NULLY, [strict])[0].success


def test_tax_batch_validates_with_reasons_that_never_carry_values() -> None:
    contract = load_contract(TAX / "contract.yaml")
    schema = load_schema(contract.schema_path)
    batch = pa.table(
        {
            "return_id": ["R000000001", "R000000001", "R000000003"],
            "national_id": ["12345678901", "9876", None],
            "tax_year": [2024, 1999, 2020],
            "filing_status": ["SINGLE", "MARRIED", "JOINT"],
            "municipality_code": ["0101", "0202", "x303"],
            "gross_income": ["5000.00", "-1", "100000000.01"],
            "taxable_income": ["1", "1", "1"],
            "tax_due": ["1", "1", "1"],
            "updated_at": ["2024-01-01T00:00:00Z"] * 3,
        }
    )
    conformed = conform(batch, schema)
    issues = validate(conformed.table, contract)
    assert issues.to_pylist() == [
        {"row": 0, "reason": "return_id: expect_column_values_to_be_unique()"},
        {"row": 1, "reason": "national_id: expect_column_values_to_match_regex(regex='^[0-9]{11}$')"},
        {
            "row": 1,
            "reason": "gross_income: expect_column_values_to_be_between(min_value=0, max_value=100000000)",
        },
        {"row": 1, "reason": "tax_year: expect_column_values_to_be_between(min_value=2000, max_value=2030)"},
        {
            "row": 1,
            "reason": "filing_status: expect_column_values_to_be_in_set("
            "value_set=['SINGLE', 'JOINT', 'SEPARATE', 'HEAD_OF_HOUSEHOLD'])",
        },
        {"row": 1, "reason": "return_id: expect_column_values_to_be_unique()"},
        {"row": 2, "reason": "national_id: expect_column_values_to_not_be_null()"},
        {
            "row": 2,
            "reason": "gross_income: expect_column_values_to_be_between(min_value=0, max_value=100000000)",
        },
        {"row": 2, "reason": "municipality_code: expect_column_values_to_match_regex(regex='^[0-9]{4}$')"},
    ]
    for reason in issues.column("reason").to_pylist():
        assert not any(v in reason for v in ("R000000001", "9876", "MARRIED", "x303", "1999", "100000000.01"))

    grouped = group_issues(pa.concat_tables([conformed.issues, issues]))
    assert grouped.schema == pa.schema([("row", pa.int64()), ("reasons", pa.list_(pa.string()))])
    assert grouped.column("row").to_pylist() == [0, 1, 2]
    assert grouped.column("reasons").to_pylist()[2] == [
        "national_id: null in a non-nullable field",
        "national_id: expect_column_values_to_not_be_null()",
        "gross_income: expect_column_values_to_be_between(min_value=0, max_value=100000000)",
        "municipality_code: expect_column_values_to_match_regex(regex='^[0-9]{4}$')",
    ]


def test_group_issues_of_nothing_is_an_empty_typed_table() -> None:
    empty = validate(pa.table({"s": pa.array([], pa.string())}).slice(0, 0), load_contract_stub())
    grouped = group_issues(empty)
    assert grouped.num_rows == 0 and grouped.column_names == ["row", "reasons"]


def load_contract_stub() -> Any:
    from contracts import Contract

    return Contract(
        id="stub",
        version="1.0.0",
        owner="x",
        description="",
        purpose="",
        schema_ref="schema/v1.avsc",
        compatibility="NONE",
        subject_field="s",
        key_fields=("s",),
        cursor_field=None,
        source={"connector": "sql"},
        fields={},
        expectations=(Expectation("expect_column_values_to_not_be_null", {"column": "s"}),),
    )


def test_misuse_at_run_time_is_a_configuration_error_naming_the_line() -> None:
    with pytest.raises(BadConfiguration, match="lacks: missing") as err:
        evaluate(
            NULLY, [Expectation("expect_column_values_to_be_unique", {"column": "missing"}, line=7)], "c.yaml"
        )
    assert err.value.where == "c.yaml:7"
    with pytest.raises(BadConfiguration, match="unsupported expectation"):
        evaluate(NULLY, [Expectation("expect_table_row_count_to_equal", {"value": 1})])
    with pytest.raises(BadConfiguration, match="cannot run"):
        evaluate(
            NULLY, [Expectation("expect_column_values_to_be_between", {"column": "n", "min_value": "abc"})]
        )
