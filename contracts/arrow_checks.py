"""The row-level expectations, compiled to `pyarrow.compute` over whole columns.

Each builder takes an expectation's kwargs and returns a check: `table → Outcome`, where
`Outcome.unexpected` is a boolean mask (true = the row breaks the rule) and
`Outcome.considered` is how many rows the rule judged (GX's denominator for `mostly`).

Null semantics are Great Expectations' (checked against GX itself in the tests):

* `expect_column_values_to_not_be_null` flags nulls; `..._to_be_null` flags non-nulls;
  both judge every row.
* Every other single-column rule ignores nulls: a null is never unexpected and is not
  counted in `considered`.
* `expect_column_values_to_be_unique` flags every row whose (non-null) value occurs more
  than once in the batch — all occurrences, not only the later ones. As in pandas, -0.0
  equals 0.0 here and in the set rules (Arrow's hashing alone would tell them apart).
* `expect_compound_columns_to_be_unique` skips rows per `ignore_row_if` (default
  `all_values_are_missing`; also `any_value_is_missing`, `never`); among the others a
  null equals a null, and every occurrence of a repeated combination is flagged.
* `expect_column_pair_values_a_to_be_greater_than_b` skips rows per `ignore_row_if`
  (default `both_values_are_missing`; also `either_value_is_missing`, `neither`); a row
  it does not skip and where one side is null is unexpected, as in GX.

Matching a regex on a non-text column uses Arrow's text form of the value. Regexes run
on RE2 (no look-around, no back-references); the linter refuses what RE2 cannot compile.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.types as pt


@dataclass(frozen=True)
class Outcome:
    """What one expectation found in one batch."""

    unexpected: pa.Array
    considered: int
    success: bool | None = None
    """A batch-level verdict (row-level checks leave it None: their rows decide)."""
    observed: Any = None


Check = Callable[[pa.Table], Outcome]
_ROW = "__govbus_row__"


def column(table: pa.Table, name: str) -> pa.Array:
    """One column as a plain array (dictionaries decoded, chunks combined)."""
    values = table.column(name).combine_chunks()
    return values.dictionary_decode() if pt.is_dictionary(values.type) else values


def _flag(values: pa.Array, ok: pa.Array) -> Outcome:
    """Unexpected = a non-null value for which `ok` does not hold."""
    unexpected = pc.and_(pc.is_valid(values), pc.invert(pc.fill_null(ok, True)))
    return Outcome(unexpected, len(values) - values.null_count)


def _hashable(values: pa.Array) -> pa.Array:
    """Floats with -0.0 made 0.0: hashing kernels (group_by, is_in) tell them apart by
    their bits, pandas and GX compare them equal."""
    if pt.is_floating(values.type):
        return pc.add(values, pa.scalar(0.0, values.type))
    return values


def _fixed_width(values: pa.Array) -> pa.Array:
    """Text whose values all have one byte length (identifiers usually do) as fixed-size
    binary: Arrow hashes that without offsets, markedly faster; equality is unchanged."""
    if not (pt.is_string(values.type) or pt.is_binary(values.type)) or values.null_count == len(values):
        return values
    low, high = pc.min_max(pc.binary_length(values)).values()
    if low.as_py() != high.as_py() or not low.as_py():
        return values
    return pc.cast(pc.cast(values, pa.binary()), pa.binary(low.as_py()))


def _text(values: pa.Array) -> pa.Array:
    if pt.is_string(values.type):
        return values
    return pc.cast(values, pa.string())


def _scalar(value: Any, target: pa.DataType) -> pa.Scalar:
    """A contract constant as a scalar comparable with a column of type `target`."""
    if pt.is_decimal(target) and isinstance(value, int | float | Decimal | str):
        return pa.scalar(Decimal(str(value)))
    if pt.is_temporal(target):
        scalar = pa.scalar(value)
        if pt.is_string(scalar.type) and pt.is_timestamp(target) and target.tz is not None:
            try:
                return scalar.cast(target)
            except pa.ArrowInvalid:  # no offset in the text: read it as UTC
                return scalar.cast(pa.timestamp(target.unit)).cast(target)
        if isinstance(value, dt.datetime) and value.tzinfo is None and getattr(target, "tz", None):
            return scalar.cast(pa.timestamp(target.unit)).cast(target)
        return scalar.cast(target)
    return pa.scalar(value)


def _values(values: Sequence[Any], target: pa.DataType) -> pa.Array:
    """A contract's value_set as an array of the column's type."""
    if pt.is_decimal(target):
        return pa.array([None if v is None else Decimal(str(v)) for v in values])
    try:
        return pa.array(list(values), type=target)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return pc.cast(pa.array(list(values)), target)


def _in_range(values: pa.Array, low: Any, high: Any, strict_low: bool, strict_high: bool) -> pa.Array:
    ok = pa.repeat(pa.scalar(True), len(values))
    if low is not None:
        above = pc.greater if strict_low else pc.greater_equal
        ok = pc.and_(ok, above(values, _scalar(low, values.type)))
    if high is not None:
        below = pc.less if strict_high else pc.less_equal
        ok = pc.and_(ok, below(values, _scalar(high, values.type)))
    return ok


def _duplicated(table: pa.Table, names: list[str], considered: pa.Array) -> pa.Array:
    """Rows (among `considered`) whose combination of `names` occurs more than once."""
    rows = pc.indices_nonzero(considered)
    subset = pa.table({f"k{i}": _hashable(column(table, n)).take(rows) for i, n in enumerate(names)})
    subset = subset.append_column(_ROW, rows)
    keys = [f"k{i}" for i in range(len(names))]
    groups = subset.group_by(keys, use_threads=False).aggregate([(_ROW, "list")])
    lists = groups.column(f"{_ROW}_list").combine_chunks()
    repeated = pc.filter(lists, pc.greater(pc.list_value_length(lists), 1)).flatten()
    everyone = pc.indices_nonzero(pa.repeat(pa.scalar(True), table.num_rows))
    return pc.is_in(everyone, value_set=pc.cast(repeated, pa.uint64()))


def not_be_null(kw: Mapping[str, Any]) -> Check:
    """`expect_column_values_to_not_be_null`: flags nulls; judges every row."""
    return lambda t: Outcome(pc.is_null(column(t, kw["column"])), t.num_rows)


def be_null(kw: Mapping[str, Any]) -> Check:
    """`expect_column_values_to_be_null`: flags non-null values; judges every row."""
    return lambda t: Outcome(pc.is_valid(column(t, kw["column"])), t.num_rows)


_DIGITS_ONLY = re.compile(r"^\^(?:\[0-9\]|\\d)(?:\{(\d+)(?:(,)(\d*))?\}|(\+)|(\*))\$$")


def digits_only_lengths(regex: str) -> tuple[int, int | None] | None:
    """(min, max) digits when `regex` is `^[0-9]{n}$`, `^\\d{n,m}$`, `^[0-9]+$` and the
    like — the shape of most identifier rules — else None."""
    found = _DIGITS_ONLY.match(regex)
    if found is None:
        return None
    low, comma, high, plus, star = found.groups()
    if plus:
        return 1, None
    if star:
        return 0, None
    if comma is None:
        return int(low), int(low)
    return int(low), int(high) if high else None


def _matches(values: pa.Array, regex: str) -> pa.Array:
    """`match_substring_regex`, with ASCII-digit rules done by two cheaper kernels
    (same answers; RE2's [0-9] and \\d are ASCII digits, as `ascii_is_decimal` is)."""
    text = _text(values)
    lengths = digits_only_lengths(regex)
    if lengths is None:
        return pc.match_substring_regex(text, regex)
    low, high = lengths
    size = pc.binary_length(text)
    ok = pc.and_(pc.ascii_is_decimal(text), _in_range(size, max(low, 1), high, False, False))
    return pc.or_(ok, pc.equal(size, 0)) if low == 0 else ok


def match_regex(kw: Mapping[str, Any]) -> Check:
    """`expect_column_values_to_match_regex`: a value passes if the regex matches anywhere in
    it (anchor with ^…$ for the whole value)."""

    def check(table: pa.Table) -> Outcome:
        values = column(table, kw["column"])
        return _flag(values, _matches(values, kw["regex"]))

    return check


def not_match_regex(kw: Mapping[str, Any]) -> Check:
    """`expect_column_values_to_not_match_regex`: flags values the regex matches anywhere in."""

    def check(table: pa.Table) -> Outcome:
        values = column(table, kw["column"])
        return _flag(values, pc.invert(_matches(values, kw["regex"])))

    return check


def between(kw: Mapping[str, Any]) -> Check:
    """`expect_column_values_to_be_between`: inclusive bounds unless `strict_min`/`strict_max`,
    a null bound is open; a bound without a zone, on a zoned timestamp column, is read as UTC."""

    def check(table: pa.Table) -> Outcome:
        values = column(table, kw["column"])
        ok = _in_range(
            values,
            kw.get("min_value"),
            kw.get("max_value"),
            bool(kw.get("strict_min")),
            bool(kw.get("strict_max")),
        )
        return _flag(values, ok)

    return check


def lengths_between(kw: Mapping[str, Any]) -> Check:
    """`expect_column_value_lengths_to_be_between`: characters, or bytes for a binary column
    (other types are measured in their text form)."""

    def check(table: pa.Table) -> Outcome:
        values = column(table, kw["column"])
        is_bytes = pt.is_binary(values.type) or pt.is_large_binary(values.type)
        lengths = pc.binary_length(values) if is_bytes else pc.utf8_length(_text(values))
        low, high = kw.get("min_value"), kw.get("max_value")
        strict = bool(kw.get("strict_min")), bool(kw.get("strict_max"))
        return _flag(values, _in_range(pc.cast(lengths, pa.int64()), low, high, *strict))

    return check


def in_set(kw: Mapping[str, Any]) -> Check:
    """`expect_column_values_to_be_in_set`: `value_set` converted to the column's type; -0.0 is 0.0."""

    def check(table: pa.Table) -> Outcome:
        values = column(table, kw["column"])
        value_set = _hashable(_values(kw["value_set"], values.type))
        return _flag(values, pc.is_in(_hashable(values), value_set=value_set))

    return check


def not_in_set(kw: Mapping[str, Any]) -> Check:
    """`expect_column_values_to_not_be_in_set`: flags values of `value_set` (as `in_set` compares)."""

    def check(table: pa.Table) -> Outcome:
        values = column(table, kw["column"])
        value_set = _hashable(_values(kw["value_set"], values.type))
        found = pc.is_in(_hashable(values), value_set=value_set)
        return _flag(values, pc.invert(found))

    return check


def unique(kw: Mapping[str, Any]) -> Check:
    """`expect_column_values_to_be_unique`: flags every occurrence of a repeated non-null value."""

    def check(table: pa.Table) -> Outcome:
        values = _fixed_width(_hashable(column(table, kw["column"])))
        # one hash pass counting each value (the fastest of Arrow's kernels for this,
        # single-threaded), then membership in the few repeated values
        counts = pa.table({"k": values}).group_by("k", use_threads=False).aggregate([([], "count_all")])
        repeated = pc.filter(counts.column("k"), pc.greater(counts.column("count_all"), 1))
        unexpected = pc.fill_null(pc.is_in(values, value_set=repeated.combine_chunks().drop_null()), False)
        return Outcome(pc.and_(unexpected, pc.is_valid(values)), len(values) - values.null_count)

    return check


def _skip(nulls: list[pa.Array], rule: str, rows: int) -> pa.Array:
    """Rows an `ignore_row_if` rule leaves out (true = skipped)."""
    if rule in ("never", "neither") or not nulls:
        return pa.repeat(pa.scalar(False), rows)
    combine = pc.and_ if rule in ("all_values_are_missing", "both_values_are_missing") else pc.or_
    skipped = nulls[0]
    for more in nulls[1:]:
        skipped = combine(skipped, more)
    return skipped


def compound_considered(table: pa.Table, kw: Mapping[str, Any]) -> pa.Array:
    """The rows `expect_compound_columns_to_be_unique` judges (its `ignore_row_if`)."""
    nulls = [pc.is_null(column(table, name)) for name in kw["column_list"]]
    rule = kw.get("ignore_row_if") or "all_values_are_missing"
    return pc.invert(_skip(nulls, rule, table.num_rows))


def compound_unique(kw: Mapping[str, Any]) -> Check:
    """`expect_compound_columns_to_be_unique`: among the rows `compound_considered` keeps, flags
    every occurrence of a repeated combination."""

    def check(table: pa.Table) -> Outcome:
        considered = compound_considered(table, kw)
        count = pc.sum(pc.cast(considered, pa.int64())).as_py() or 0
        return Outcome(_duplicated(table, list(kw["column_list"]), considered), count)

    return check


KeyLookup = Callable[[str, str | None, pa.Array], pa.Array]
"""`(dataset, key_field, values) → boolean array`: which of `values` the bus has seen as
keys of `dataset` (its `key_field`; None: its only key field). Null for a null value.
The exchange provides it from its key index; see `contracts.StageValidation`."""
KeyedCheck = Callable[[pa.Table, KeyLookup], Outcome]


def in_dataset_keys(kw: Mapping[str, Any]) -> KeyedCheck:
    """GovBus's referential rule: each non-null value is a key of another dataset."""

    def check(table: pa.Table, keys: KeyLookup) -> Outcome:
        values = column(table, kw["column"])
        if not (pt.is_string(values.type) or pt.is_large_string(values.type) or pt.is_integer(values.type)):
            raise TypeError("keys are compared as text or integers")
        known = keys(kw["dataset"], kw.get("key_field"), values)
        return _flag(values, known)

    return check


def pair_greater(kw: Mapping[str, Any]) -> Check:
    """`expect_column_pair_values_a_to_be_greater_than_b` (`or_equal`: equality passes); a row
    that `ignore_row_if` does not skip and that has a null side is unexpected."""

    def check(table: pa.Table) -> Outcome:
        a, b = column(table, kw["column_A"]), column(table, kw["column_B"])
        rule = kw.get("ignore_row_if") or "both_values_are_missing"
        considered = pc.invert(_skip([pc.is_null(a), pc.is_null(b)], rule, table.num_rows))
        compare = pc.greater_equal if kw.get("or_equal") else pc.greater
        ok = pc.fill_null(compare(a, b), False)
        count = pc.sum(pc.cast(considered, pa.int64())).as_py() or 0
        return Outcome(pc.and_(considered, pc.invert(ok)), count)

    return check


def row_count_between(kw: Mapping[str, Any]) -> Check:
    """Batch-level: the batch's row count within the bounds (GX's strict_min/strict_max)."""

    def check(table: pa.Table) -> Outcome:
        rows = table.num_rows
        count = pa.array([rows], pa.int64())
        strict = bool(kw.get("strict_min")), bool(kw.get("strict_max"))
        ok = _in_range(count, kw.get("min_value"), kw.get("max_value"), *strict)[0].as_py()
        return Outcome(pa.repeat(pa.scalar(False), rows), rows, success=bool(ok), observed=rows)

    return check
