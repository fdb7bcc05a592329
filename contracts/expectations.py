"""The supported expectations: their names and parameters (Great Expectations 1.x's own)
and the compilers that turn them into Arrow checks (`contracts.arrow_checks`).

`SUPPORTED_EXPECTATIONS` maps each GX expectation type to an `ExpectationCompiler`:
call it with the kwargs to get a check, ask it which kwargs it accepts and what is wrong
with a given set (the linter does), or which columns the kwargs name. One is GovBus's
own, since GX has no rule across datasets: `expect_column_values_to_be_in_dataset_keys`
(`column`, `dataset`, optional `key_field`): each non-null value must be a key the bus
has staged for that other dataset. Its check needs the bus's key index (`needs_keys`).
Another is GovBus's own because GX has no check-digit rule:
`expect_column_values_to_have_valid_check_digit` (`column`, `algorithm`: luhn, verhoeff,
iso7064_mod97_10 or weighted with `weights` and `modulus`; `contracts.check_digits`).

Every expectation also accepts GX's `mostly` (0..1) and `meta` (a mapping). `mostly`
never lets a bad row through: each unexpected row is still quarantined; it only decides
whether the expectation as a whole succeeds on the batch (see `contracts.validation`).
`expect_table_row_count_to_be_between` is batch-level: it flags no row, its verdict is
the batch's (`ExpectationResult.success`, `observed_value`). GX kwargs that change what is
evaluated (`row_condition`, `condition_parser`) or how it
is reported (`result_format`, `catch_exceptions`) are refused by the linter.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from contracts import arrow_checks as checks
from contracts import check_digits, date_checks
from contracts.model import NAME_PATTERN

Validator = Callable[[Any], str | None]
_DATASET_ID = re.compile(NAME_PATTERN)


def _column(value: Any) -> str | None:
    return None if isinstance(value, str) and value else "must be a column name"


def _bool(value: Any) -> str | None:
    return None if isinstance(value, bool) else "must be true or false"


def _number(value: Any) -> bool:
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)


def _scalar(value: Any) -> bool:
    return _number(value) or isinstance(value, str | dt.date | dt.datetime)


def _bound(value: Any) -> str | None:
    ok = value is None or _scalar(value)
    return None if ok else "must be a number, a date/time or a string (or null)"


def _length(value: Any) -> str | None:
    ok = value is None or (isinstance(value, int) and not isinstance(value, bool) and value >= 0)
    return None if ok else "must be a non-negative integer (or null)"


def _regex(value: Any) -> str | None:
    if not isinstance(value, str):
        return "must be a regular expression string"
    try:
        # A null array compiles the pattern as well; pa.array([...]) would import pandas.
        pc.match_substring_regex(pa.nulls(1, pa.string()), value)
    except pa.ArrowInvalid:
        return "is not a valid RE2 regular expression (no look-around or back-references)"
    return None


def _value_set(value: Any) -> str | None:
    ok = isinstance(value, list) and all(v is None or _scalar(v) for v in value)
    return None if ok else "must be a list of plain values"


def _column_list(value: Any) -> str | None:
    ok = isinstance(value, list) and value and all(_column(v) is None for v in value)
    if not ok:
        return "must be a non-empty list of column names"
    return None if len(set(value)) == len(value) else "names a column twice"


def _dataset(value: Any) -> str | None:
    ok = isinstance(value, str) and _DATASET_ID.match(value)
    return None if ok else "must be a dataset id (its folder name under datasets/)"


def _mostly(value: Any) -> str | None:
    return None if _number(value) and 0 <= value <= 1 else "must be a number from 0 to 1"


def _meta(value: Any) -> str | None:
    return None if isinstance(value, dict) else "must be a mapping"


def _one_of(*allowed: str) -> Validator:
    def check(value: Any) -> str | None:
        return None if value in allowed else f"must be one of {', '.join(allowed)}"

    check.allowed = allowed  # type: ignore[attr-defined]  # read by contracts.json_schema
    return check


def _some_bound(kwargs: Mapping[str, Any]) -> str | None:
    low, high = kwargs.get("min_value"), kwargs.get("max_value")
    if low is None and high is None:
        return "min_value and max_value cannot both be null"
    if _number(low) and _number(high) and low > high:
        return "min_value is greater than max_value"
    return None


@dataclass(frozen=True)
class Param:
    """One kwarg an expectation takes: its name, the linter's check of its value (a message,
    or None when fine) and whether it must be given."""

    name: str
    check: Validator
    required: bool = False


COMMON = (Param("mostly", _mostly), Param("meta", _meta))
UNSUPPORTED = ("row_condition", "condition_parser", "result_format", "catch_exceptions")


@dataclass(frozen=True)
class ExpectationCompiler:
    """One supported expectation: parameters, the columns it reads, its Arrow check."""

    name: str
    params: tuple[Param, ...]
    columns_from: Callable[[Mapping[str, Any]], tuple[str, ...]]
    build: Callable[[Mapping[str, Any]], checks.Check]
    cross_check: Callable[[Mapping[str, Any]], str | None] | None = None
    level: str = "row"
    """'row': flags rows (quarantined); 'batch': one verdict on the whole batch."""
    in_gx: bool = True
    """False for GovBus's own expectations, which GX does not have (export leaves them out)."""
    needs_keys: bool = False
    """True: the check also takes a `KeyLookup` (the bus's key index), see `contracts.evaluate`."""

    @property
    def common(self) -> tuple[Param, ...]:
        """The parameters every expectation of this level takes (GX: `mostly` is row-level)."""
        return COMMON if self.level == "row" else (COMMON[1],)

    def __call__(self, kwargs: Mapping[str, Any]) -> checks.Check:
        """The check for `kwargs`, not validated here: `load_contract` refuses any with `problems`."""
        return self.build(kwargs)

    @property
    def accepted(self) -> tuple[str, ...]:
        """Every kwarg name this expectation takes, its own then the common ones."""
        return tuple(p.name for p in (*self.params, *self.common))

    def columns(self, kwargs: Mapping[str, Any]) -> tuple[str, ...]:
        """The columns the kwargs name (empty when they name none validly)."""
        try:
            names = self.columns_from(kwargs)
        except (KeyError, TypeError):
            return ()
        return tuple(n for n in names if isinstance(n, str))

    def problems(self, kwargs: Mapping[str, Any]) -> list[tuple[str, str]]:
        """(kwarg, message) for each thing wrong with `kwargs`; empty when all is well."""
        found: list[tuple[str, str]] = []
        by_name = {p.name: p for p in (*self.params, *self.common)}
        for name, value in kwargs.items():
            if name in UNSUPPORTED:
                found.append((name, f"GovBus does not support {name!r}"))
            elif name not in by_name:
                accepted = ", ".join(self.accepted)
                found.append((name, f"{self.name} does not accept {name!r} (accepts: {accepted})"))
            elif (message := by_name[name].check(value)) is not None:
                found.append((name, message))
        for param in self.params:
            if param.required and param.name not in kwargs:
                found.append((param.name, f"{self.name} requires {param.name!r}"))
        if not found and self.cross_check is not None and (message := self.cross_check(kwargs)):
            found.append(("", message))
        return found


def _single(kwargs: Mapping[str, Any]) -> tuple[str, ...]:
    return (kwargs["column"],)


def _compiler(
    name: str,
    build: Callable[[Mapping[str, Any]], checks.Check],
    *params: Param,
    columns_from: Callable[[Mapping[str, Any]], tuple[str, ...]] = _single,
    cross_check: Callable[[Mapping[str, Any]], str | None] | None = None,
    level: str = "row",
    in_gx: bool = True,
    needs_keys: bool = False,
) -> ExpectationCompiler:
    if columns_from is _single:
        params = (Param("column", _column, required=True), *params)
    return ExpectationCompiler(name, params, columns_from, build, cross_check, level, in_gx, needs_keys)


def _no_columns(kwargs: Mapping[str, Any]) -> tuple[str, ...]:
    return ()


_BOUNDS = (
    Param("min_value", _bound),
    Param("max_value", _bound),
    Param("strict_min", _bool),
    Param("strict_max", _bool),
)
_LENGTHS = (
    Param("min_value", _length),
    Param("max_value", _length),
    Param("strict_min", _bool),
    Param("strict_max", _bool),
)

SUPPORTED_EXPECTATIONS: dict[str, ExpectationCompiler] = {
    c.name: c
    for c in (
        _compiler("expect_column_values_to_not_be_null", checks.not_be_null),
        _compiler("expect_column_values_to_be_null", checks.be_null),
        _compiler(
            "expect_column_values_to_match_regex",
            checks.match_regex,
            Param("regex", _regex, required=True),
        ),
        _compiler(
            "expect_column_values_to_not_match_regex",
            checks.not_match_regex,
            Param("regex", _regex, required=True),
        ),
        _compiler("expect_column_values_to_be_between", checks.between, *_BOUNDS, cross_check=_some_bound),
        _compiler(
            "expect_column_values_to_be_in_set",
            checks.in_set,
            Param("value_set", _value_set, required=True),
        ),
        _compiler(
            "expect_column_values_to_not_be_in_set",
            checks.not_in_set,
            Param("value_set", _value_set, required=True),
        ),
        _compiler("expect_column_values_to_be_unique", checks.unique),
        _compiler(
            "expect_column_value_lengths_to_be_between",
            checks.lengths_between,
            *_LENGTHS,
            cross_check=_some_bound,
        ),
        _compiler(
            "expect_compound_columns_to_be_unique",
            checks.compound_unique,
            Param("column_list", _column_list, required=True),
            Param(
                "ignore_row_if",
                _one_of("all_values_are_missing", "any_value_is_missing", "never"),
            ),
            columns_from=lambda kw: tuple(kw["column_list"]),
        ),
        _compiler(
            "expect_column_pair_values_a_to_be_greater_than_b",
            checks.pair_greater,
            Param("column_A", _column, required=True),
            Param("column_B", _column, required=True),
            Param("or_equal", _bool),
            Param(
                "ignore_row_if",
                _one_of("both_values_are_missing", "either_value_is_missing", "neither"),
            ),
            columns_from=lambda kw: (kw["column_A"], kw["column_B"]),
        ),
        _compiler(
            "expect_column_values_to_match_strftime_format",
            date_checks.match_strftime_format,
            Param("strftime_format", date_checks.strftime_problem, required=True),
        ),
        _compiler("expect_column_values_to_be_dateutil_parseable", date_checks.dateutil_parseable),
        _compiler(
            "expect_table_row_count_to_be_between",
            checks.row_count_between,
            *_LENGTHS,
            columns_from=_no_columns,
            cross_check=_some_bound,
            level="batch",
        ),
        # GovBus's own (GX has no check-digit rule): see contracts.check_digits.
        _compiler(
            "expect_column_values_to_have_valid_check_digit",
            check_digits.check_digit,
            Param("algorithm", _one_of(*check_digits.ALGORITHMS), required=True),
            Param("weights", check_digits.weights_problem),
            Param("modulus", check_digits.modulus_problem),
            cross_check=check_digits.check_digit_problem,
            in_gx=False,
        ),
        # GovBus's own (GX has no cross-dataset rule): see contracts.stage_validation.
        _compiler(
            "expect_column_values_to_be_in_dataset_keys",
            checks.in_dataset_keys,  # type: ignore[arg-type]  # a KeyedCheck: needs_keys
            Param("dataset", _dataset, required=True),
            Param("key_field", _column),
            in_gx=False,
            needs_keys=True,
        ),
    )
}
"""GX expectation type → its compiler. Only these types may appear in a contract."""
