"""Date-text expectations: `expect_column_values_to_match_strftime_format` vectorized, and
`expect_column_values_to_be_dateutil_parseable` once per distinct value.

GX decides a strftime match with Python's `datetime.strptime(value, format)`. GovBus runs
the very regular expression `strptime` builds for the format (the standard library's
`_strptime` makes it) on the whole column with RE2, then the checks `strptime` makes
after matching, on the extracted fields as columns: the day exists in that month (29
February only in leap years; with no year in the format, of 1900, as
`datetime.strptime` takes it), the year is at least 1, seconds are at most 59, a UTC offset is under 24
hours with its colons used consistently. The directives supported are
`%Y %y %m %d %H %I %p %M %S %f %b %B %a %A %z %%`; the linter refuses others (their
meaning depends on the week calendar or the locale's time-zone names).

One deliberate difference from GX: Python's `\\d` also matches non-ASCII digits (such as
Arabic-Indic ones) and GX accepts a date written with them; here a digit is 0-9, so such
a value is flagged. The whitespace of a format matches what Python's `\\s` matches.

`dateutil.parser.parse` has no regular grammar, so that expectation calls it, as GX
does, once per distinct non-null value of the batch (not per row).
"""

from __future__ import annotations

import _strptime
import re
from collections.abc import Mapping
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.types as pt
from dateutil import parser as dateutil_parser

from contracts.arrow_checks import Check, Outcome, column

SUPPORTED_DIRECTIVES = "YymdHIpMSfbBaAz%"
_DAYS = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)  # an Arrow array only when used: see below
_PY_SPACE = r"[\t\n\x0b\x0c\r\x1c-\x1f\x{85}\p{Z}]"
_OFFSET = r"^(?:Z|[+-]\d\d[0-5]\d(?:[0-5]\d(?:\.\d{1,6})?)?|[+-]\d\d:[0-5]\d(?::[0-5]\d(?:\.\d{1,6})?)?)$"


def strftime_problem(fmt: Any) -> str | None:
    """What is wrong with a strftime format for this engine (None: it is usable)."""
    if not isinstance(fmt, str) or not fmt:
        return "must be a non-empty strftime format"
    directives = re.findall(r"%(.)", fmt.replace("%%", ""))
    unsupported = sorted({d for d in directives if d not in SUPPORTED_DIRECTIVES})
    if unsupported or fmt.replace("%%", "").endswith("%"):
        shown = ", ".join(f"%{d}" for d in unsupported) or "a lone %"
        return f"uses {shown}; supported: {' '.join('%' + d for d in SUPPORTED_DIRECTIVES)}"
    if len(set(directives)) != len(directives):
        return "uses a directive twice (Python's strptime refuses that)"
    try:
        pc.match_substring_regex(pa.array([""]), _regex(fmt))
    except pa.ArrowInvalid:
        return "cannot be matched by RE2"
    return None


def _regex(fmt: str) -> str:
    """Python's strptime regex for `fmt`, in RE2 syntax, anchored, case-insensitive."""
    pattern = _strptime._TimeRE_cache.pattern(fmt)
    pattern = re.sub(r"(?<!\\)\((?!\?)", "(?:", pattern)  # RE2 extracts named groups only
    pattern = pattern.replace(r"\s", _PY_SPACE)
    return f"(?i)^(?:{pattern})$"


Groups = dict[str, pa.Array]


def _int(groups: Groups, name: str) -> pa.Array:
    return pc.cast(pc.utf8_trim_whitespace(groups[name]), pa.int64())


def _month_of(groups: Groups, name: str, names: list[str]) -> pa.Array:
    index = pc.index_in(pc.utf8_lower(groups[name]), value_set=pa.array(names[1:]))
    return pc.add(pc.cast(index, pa.int64()), 1)


def _mod(values: pa.Array, divisor: int) -> pa.Array:
    return pc.subtract(values, pc.multiply(pc.divide(values, divisor), divisor))


def _valid_fields(groups: Groups, rows: int) -> pa.Array:
    """What `strptime` checks after its regex matched, as a boolean column."""
    names = set(groups)
    locale = _strptime._TimeRE_cache.locale_time
    one = pa.repeat(pa.scalar(1, pa.int64()), rows)
    if "m" in names:
        month = _int(groups, "m")
    elif "B" in names:
        month = _month_of(groups, "B", locale.f_month)
    elif "b" in names:
        month = _month_of(groups, "b", locale.a_month)
    else:
        month = one
    day = _int(groups, "d") if "d" in names else one
    if "Y" in names:
        year = _int(groups, "Y")
    elif "y" in names:
        short = _int(groups, "y")
        year = pc.add(short, pc.if_else(pc.less_equal(short, 68), 2000, 1900))
    else:  # datetime.strptime's default year (so 29 February without a year fails)
        year = pa.repeat(pa.scalar(1900, pa.int64()), rows)
    leap = pc.and_(
        pc.equal(_mod(year, 4), 0), pc.or_(pc.not_equal(_mod(year, 100), 0), pc.equal(_mod(year, 400), 0))
    )
    in_month = pc.take(pa.array(_DAYS, pa.int64()), pc.subtract(pc.fill_null(month, 1), 1))
    in_month = pc.add(in_month, pc.cast(pc.and_(leap, pc.equal(month, 2)), pa.int64()))
    ok = pc.and_(pc.greater_equal(year, 1), pc.less_equal(day, in_month))
    ok = pc.and_(ok, pc.is_valid(month))
    if "S" in names:
        ok = pc.and_(ok, pc.less_equal(_int(groups, "S"), 59))
    if "z" in names:
        offset = groups["z"]
        consistent = pc.fill_null(pc.match_substring_regex(offset, _OFFSET), False)
        digits = pc.if_else(consistent, pc.utf8_slice_codeunits(offset, 1, 3), None)
        hours = pc.cast(pc.if_else(pc.equal(offset, "Z"), "00", digits), pa.int64())
        ok = pc.and_(ok, pc.and_(consistent, pc.less_equal(hours, 23)))
    return ok


def _text_column(table: pa.Table, name: str, expectation: str) -> pa.Array:
    values = column(table, name)
    if not (pt.is_string(values.type) or pt.is_large_string(values.type)):
        raise TypeError(f"{expectation} needs a text column")  # as GX: dates must be checked as text
    return values


def match_strftime_format(kw: Mapping[str, Any]) -> Check:
    """`expect_column_values_to_match_strftime_format` (module doc); the format must have passed
    `strftime_problem`. The check raises TypeError on a non-text column: dates are checked as text."""
    fmt = kw["strftime_format"]
    regex = _regex(fmt)
    names = set(re.findall(r"\(\?P<(\w+)>", regex))

    def check(table: pa.Table) -> Outcome:
        values = _text_column(table, kw["column"], "expect_column_values_to_match_strftime_format")
        matched = pc.fill_null(pc.match_substring_regex(values, regex), False)
        if names:
            struct = pc.extract_regex(pc.if_else(matched, values, None), regex)
            groups = dict(zip([f.name for f in struct.type], struct.flatten(), strict=True))
            ok = pc.and_(matched, pc.fill_null(_valid_fields(groups, len(values)), False))
        else:
            ok = matched
        unexpected = pc.and_(pc.is_valid(values), pc.invert(ok))
        return Outcome(unexpected, len(values) - values.null_count)

    return check


def _dateutil_parses(text: str) -> bool:
    try:
        dateutil_parser.parse(text)
    except (ValueError, OverflowError):
        return False
    except Exception:  # dateutil crashes on a few inputs; GX then errs, GovBus flags the row
        return False
    return True


def dateutil_parseable(kw: Mapping[str, Any]) -> Check:
    """`expect_column_values_to_be_dateutil_parseable`: dateutil runs once per distinct value;
    a value it crashes on is flagged. The check raises TypeError on a non-text column."""

    def check(table: pa.Table) -> Outcome:
        values = _text_column(table, kw["column"], "expect_column_values_to_be_dateutil_parseable")
        distinct = pc.unique(values).drop_null()
        good = [text for text in distinct.to_pylist() if _dateutil_parses(text)]
        ok = pc.is_in(values, value_set=pa.array(good, values.type))
        unexpected = pc.and_(pc.is_valid(values), pc.invert(ok))
        return Outcome(unexpected, len(values) - values.null_count)

    return check
