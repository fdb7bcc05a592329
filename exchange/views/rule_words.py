"""A contract's expectations in plain words, for readers of the catalog.

`rule_text(expectation)` turns one expectation of `contract.yaml` (Great Expectations'
vocabulary, `contracts.SUPPORTED_EXPECTATIONS`) into a sentence an agency can read:
`national_id is never empty`, `gross_income is between 0 and 100000000`,
`filing_status is one of SINGLE, JOINT, SEPARATE, HEAD_OF_HOUSEHOLD`.

What a caller must know:

* Every supported type has a sentence; a type this module does not know (a newer
  contract) falls back to its name and kwargs, `expect_x(column=a, value=1)`, so a rule
  is never silently left out.
* The sentences name columns and the contract's own constants (bounds, sets, patterns),
  never a value of the data: the constants are part of the contract, which is public in
  the catalog.
* As in GX, every single-column rule except "never empty" / "always empty" judges only
  rows where the column has a value; the sentences say so once per rule only where a
  rule's `ignore_row_if` makes it matter (pairs, combinations).
* `mostly: 0.95` adds "(in at least 95% of rows)": a batch passes the rule when that
  share does, though each failing row is still quarantined.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

import contracts

__all__ = ["rule_columns", "rule_level", "rule_text"]

_COLUMN_KWARGS = ("column", "column_list", "column_A", "column_B")
_SILENT_KWARGS = ("mostly", "meta")


def _value(value: Any) -> str:
    """A contract constant as a reader writes it: text bare, dates ISO, numbers plain."""
    if value is None:
        return "empty"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, float | Decimal) and value == int(value):
        return str(int(value))
    return str(value)


def _values(values: Any) -> str:
    if not isinstance(values, list | tuple):
        return _value(values)
    return ", ".join(_value(v) for v in values)


def _range(kw: Mapping[str, Any], unit: str = "") -> str:
    """`between 0 and 10`, `at least 1`, `more than 0 and at most 20` (strict bounds as GX)."""
    low, high = kw.get("min_value"), kw.get("max_value")
    strict_low, strict_high = bool(kw.get("strict_min")), bool(kw.get("strict_max"))
    tail = f" {unit}" if unit else ""
    if low is not None and high is not None and not (strict_low or strict_high):
        if low == high:
            return f"exactly {_value(low)}{tail}"
        return f"between {_value(low)} and {_value(high)}{tail}"
    parts = []
    if low is not None:
        parts.append(f"{'more than' if strict_low else 'at least'} {_value(low)}")
    if high is not None:
        parts.append(f"{'less than' if strict_high else 'at most'} {_value(high)}")
    return " and ".join(parts) + tail


def _between(kw: Mapping[str, Any]) -> str:
    return f"{kw['column']} is {_range(kw)}"


def _lengths(kw: Mapping[str, Any]) -> str:
    return f"{kw['column']} is {_range(kw, 'characters long')}"


def _row_count(kw: Mapping[str, Any]) -> str:
    return f"each batch has {_range(kw, 'rows')}"


def _pair(kw: Mapping[str, Any]) -> str:
    relation = "greater than or equal to" if kw.get("or_equal") else "greater than"
    text = f"{kw['column_A']} is {relation} {kw['column_B']}"
    rule = kw.get("ignore_row_if") or "both_values_are_missing"
    if rule == "either_value_is_missing":
        return f"{text} (not checked where either is empty)"
    if rule == "both_values_are_missing":
        return f"{text} (not checked where both are empty, broken where only one is)"
    return f"{text} (an empty side breaks it)"


def _compound(kw: Mapping[str, Any]) -> str:
    names = ", ".join(kw["column_list"])
    text = f"the combination of {names} is unique"
    rule = kw.get("ignore_row_if") or "all_values_are_missing"
    if rule == "any_value_is_missing":
        return f"{text} (not checked where any of them is empty)"
    if rule == "all_values_are_missing":
        return f"{text} (not checked where all of them are empty)"
    return text


def _in_keys(kw: Mapping[str, Any]) -> str:
    key = kw.get("key_field")
    of = f"a {key} of dataset {kw['dataset']}" if key else f"a key of dataset {kw['dataset']}"
    return f"{kw['column']} is {of} (one the bus has staged)"


_CHECK_DIGIT_NAMES = {
    "luhn": "a Luhn check digit",
    "verhoeff": "a Verhoeff check digit",
    "iso7064_mod97_10": "an ISO 7064 mod 97-10 check",
}


def _check_digit(kw: Mapping[str, Any]) -> str:
    scheme = _CHECK_DIGIT_NAMES.get(kw["algorithm"])
    if scheme is None:
        scheme = f"a mod {kw.get('modulus')} check (weights {_values(kw.get('weights', []))})"
    return f"{kw['column']} is digits only with {scheme} that holds"


_SENTENCES: dict[str, Callable[[Mapping[str, Any]], str]] = {
    "expect_column_values_to_not_be_null": lambda kw: f"{kw['column']} is never empty",
    "expect_column_values_to_be_null": lambda kw: f"{kw['column']} is always empty",
    "expect_column_values_to_match_regex": lambda kw: f"{kw['column']} matches {kw['regex']}",
    "expect_column_values_to_not_match_regex": lambda kw: f"{kw['column']} never matches {kw['regex']}",
    "expect_column_values_to_be_between": _between,
    "expect_column_values_to_be_in_set": lambda kw: f"{kw['column']} is one of {_values(kw['value_set'])}",
    "expect_column_values_to_not_be_in_set": (
        lambda kw: f"{kw['column']} is none of {_values(kw['value_set'])}"
    ),
    "expect_column_values_to_be_unique": lambda kw: f"{kw['column']} is unique",
    "expect_column_value_lengths_to_be_between": _lengths,
    "expect_compound_columns_to_be_unique": _compound,
    "expect_column_pair_values_a_to_be_greater_than_b": _pair,
    "expect_column_values_to_match_strftime_format": (
        lambda kw: f"{kw['column']} is a date or time written as {kw['strftime_format']}"
    ),
    "expect_column_values_to_be_dateutil_parseable": lambda kw: f"{kw['column']} reads as a date or time",
    "expect_table_row_count_to_be_between": _row_count,
    "expect_column_values_to_be_in_dataset_keys": _in_keys,
    "expect_column_values_to_have_valid_check_digit": _check_digit,
}
"""One sentence per supported expectation type (a test holds it to `SUPPORTED_EXPECTATIONS`)."""


def _fallback(expectation: contracts.Expectation) -> str:
    shown = ", ".join(f"{k}={_values(v)}" for k, v in expectation.kwargs.items() if k not in _SILENT_KWARGS)
    return f"{expectation.type}({shown})"


def rule_text(expectation: contracts.Expectation) -> str:
    """The expectation as a sentence (module doc); its type and kwargs if no sentence fits."""
    kwargs = expectation.kwargs
    sentence = _SENTENCES.get(expectation.type)
    try:
        text = sentence(kwargs) if sentence is not None else _fallback(expectation)
    except (KeyError, TypeError):  # kwargs of an unexpected shape: say them as written
        text = _fallback(expectation)
    mostly = kwargs.get("mostly")
    if isinstance(mostly, int | float | Decimal) and not isinstance(mostly, bool) and mostly < 1:
        text += f" (in at least {float(mostly) * 100:g}% of rows)"
    return text


def rule_columns(expectation: contracts.Expectation) -> tuple[str, ...]:
    """The columns the expectation names, in the order its kwargs give them (none for a batch rule)."""
    names: list[str] = []
    for key in _COLUMN_KWARGS:
        value = expectation.kwargs.get(key)
        for name in value if isinstance(value, list | tuple) else [value]:
            if isinstance(name, str) and name and name not in names:
                names.append(name)
    return tuple(names)


def rule_level(expectation: contracts.Expectation) -> str:
    """`row` (failing rows are quarantined) or `batch` (one verdict on the whole batch)."""
    compiler = contracts.SUPPORTED_EXPECTATIONS.get(expectation.type)
    return compiler.level if compiler is not None else "row"
