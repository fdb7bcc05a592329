"""The digits-only regex rules (`^[0-9]{4}$` and the like) run on cheaper kernels; they
must answer exactly as RE2 does on any text."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contracts.arrow_checks import _matches, digits_only_lengths

REGEXES = ["^[0-9]{4}$", "^[0-9]{11}$", r"^\d{2,5}$", "^[0-9]{3,}$", "^[0-9]+$", r"^\d*$", "^[0-9]{0}$"]


@pytest.mark.parametrize("regex", REGEXES)
def test_each_shape_takes_the_fast_path(regex: str) -> None:
    assert digits_only_lengths(regex) is not None


@pytest.mark.parametrize("regex", ["^[0-9]{4}", "[0-9]{4}$", "^[0-9]{4}x$", "^[1-9]{4}$", r"^\d{4}|x$"])
def test_other_regexes_do_not(regex: str) -> None:
    assert digits_only_lengths(regex) is None


@settings(max_examples=300, deadline=None, database=None)
@given(
    regex=st.sampled_from(REGEXES),
    values=st.lists(st.one_of(st.none(), st.text("0123456789a\u0661 \n", max_size=13)), max_size=20),
)
def test_fast_path_equals_re2(regex: str, values: list[str | None]) -> None:
    array = pa.array(values, pa.string())
    assert _matches(array, regex).to_pylist() == pc.match_substring_regex(array, regex).to_pylist()
