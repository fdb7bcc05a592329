"""`expect_column_values_to_have_valid_check_digit`: identifiers whose last digit checks the rest.

GovBus's own expectation (Great Expectations has none for check digits). Registry
numbers, account numbers and card numbers carry a check digit so that a mistyped digit
or two swapped digits are caught where the value is keyed in; a legacy export that
mangles an identifier (a dropped leading zero, a shifted column) is caught the same way,
before the wrong person's record is delivered.

What a caller must know:

* `algorithm` names the scheme: `luhn` (ISO/IEC 7812-1: card numbers, many national
  ids), `verhoeff` (every single error and every adjacent swap), `iso7064_mod97_10` (the
  whole number mod 97 is 1: IBAN after rearrangement, LEI), or `weighted`: the sum of
  each digit times its weight (`weights`, left to right, one per digit, check digit
  included) must be a multiple of `modulus` (e.g. weights 4,3,2,7,6,5,4,3,2,1 and modulus
  11 for a ten-digit mod-11 registry number). A value whose length is not that of
  `weights` is unexpected.
* The value must be ASCII digits only (a non-text column is read in Arrow's text
  form): anything else — a space, a separator, a letter — is unexpected; strip
  separators at the source or in a view. Nulls are not judged, as in every
  single-column rule.
* Vectorized: values of one length become one digit matrix (numpy over Arrow's
  buffer); the loops run over digit positions, never over rows.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from contracts.arrow_checks import Check, Outcome, column

__all__ = [
    "ALGORITHMS",
    "check_digit",
    "check_digit_problem",
    "modulus_problem",
    "valid_check_digits",
    "weights_problem",
]

ALGORITHMS = ("luhn", "verhoeff", "iso7064_mod97_10", "weighted")

_VERHOEFF_D = np.array(
    [
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
        [1, 2, 3, 4, 0, 6, 7, 8, 9, 5],
        [2, 3, 4, 0, 1, 7, 8, 9, 5, 6],
        [3, 4, 0, 1, 2, 8, 9, 5, 6, 7],
        [4, 0, 1, 2, 3, 9, 5, 6, 7, 8],
        [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
        [6, 5, 9, 8, 7, 1, 0, 4, 3, 2],
        [7, 6, 5, 9, 8, 2, 1, 0, 4, 3],
        [8, 7, 6, 5, 9, 3, 2, 1, 0, 4],
        [9, 8, 7, 6, 5, 4, 3, 2, 1, 0],
    ],
    dtype=np.int8,
)
_VERHOEFF_P = np.array(
    [
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
        [1, 5, 7, 6, 2, 8, 3, 0, 9, 4],
        [5, 8, 0, 3, 7, 9, 6, 1, 4, 2],
        [8, 9, 1, 6, 0, 4, 3, 5, 2, 7],
        [9, 4, 5, 3, 1, 2, 6, 8, 7, 0],
        [4, 2, 8, 6, 5, 7, 3, 9, 0, 1],
        [2, 7, 9, 3, 8, 0, 6, 4, 1, 5],
        [7, 0, 4, 6, 9, 1, 3, 2, 5, 8],
    ],
    dtype=np.int8,
)


def _luhn(digits: np.ndarray, _: Mapping[str, Any]) -> np.ndarray:
    from_right = digits[:, ::-1].astype(np.int16)
    doubled = from_right[:, 1::2] * 2
    from_right[:, 1::2] = np.where(doubled > 9, doubled - 9, doubled)
    return from_right.sum(axis=1) % 10 == 0


def _verhoeff(digits: np.ndarray, _: Mapping[str, Any]) -> np.ndarray:
    state = np.zeros(len(digits), dtype=np.int8)
    for i, position in enumerate(range(digits.shape[1] - 1, -1, -1)):
        state = _VERHOEFF_D[state, _VERHOEFF_P[i % 8, digits[:, position]]]
    return state == 0


def _mod97(digits: np.ndarray, _: Mapping[str, Any]) -> np.ndarray:
    remainder = np.zeros(len(digits), dtype=np.int64)
    for position in range(digits.shape[1]):
        remainder = (remainder * 10 + digits[:, position]) % 97
    return remainder == 1


def _weighted(digits: np.ndarray, kw: Mapping[str, Any]) -> np.ndarray:
    weights = np.asarray(kw["weights"], dtype=np.int64)
    if digits.shape[1] != len(weights):
        return np.zeros(len(digits), dtype=bool)
    return (digits.astype(np.int64) @ weights) % int(kw["modulus"]) == 0


_SCHEMES: dict[str, Callable[[np.ndarray, Mapping[str, Any]], np.ndarray]] = {
    "luhn": _luhn,
    "verhoeff": _verhoeff,
    "iso7064_mod97_10": _mod97,
    "weighted": _weighted,
}


def valid_check_digits(values: pa.Array, kw: Mapping[str, Any]) -> pa.Array:
    """True where a non-null value passes `kw["algorithm"]`; False where it fails or is not digits."""
    scheme = _SCHEMES[kw["algorithm"]]
    text = values if pa.types.is_string(values.type) else values.cast(pa.string())
    digits_only = pc.fill_null(pc.match_substring_regex(text, r"^[0-9]+$"), False)
    lengths = pc.binary_length(text)
    ok = np.zeros(len(text), dtype=bool)
    for length in pc.unique(pc.filter(lengths, digits_only)).to_pylist():
        rows = pc.indices_nonzero(pc.and_(digits_only, pc.equal(lengths, length)))
        picked = text.take(rows)
        offsets = np.frombuffer(picked.buffers()[1], dtype=np.int32)[picked.offset]
        data = np.frombuffer(picked.buffers()[2], dtype=np.uint8)
        matrix = data[offsets : offsets + len(picked) * length].reshape(len(picked), length) - ord("0")
        ok[rows.to_numpy()] = scheme(matrix.astype(np.int8), kw)
    return pa.array(ok)


def check_digit(kw: Mapping[str, Any]) -> Check:
    """The Arrow check: flags each non-null value whose check digit is wrong (or is not digits)."""

    def check(table: pa.Table) -> Outcome:
        values = column(table, kw["column"])
        present = pc.is_valid(values)
        good = valid_check_digits(values, kw)
        return Outcome(pc.and_(present, pc.invert(good)), len(values) - values.null_count)

    return check


def check_digit_problem(kw: Mapping[str, Any]) -> str | None:
    """What is wrong with the kwargs taken together (the linter's cross-check), else None."""
    weighted = kw.get("algorithm") == "weighted"
    has_weights = "weights" in kw or "modulus" in kw
    if weighted and not ("weights" in kw and "modulus" in kw):
        return "algorithm 'weighted' needs both 'weights' (one per digit) and 'modulus'"
    if not weighted and has_weights:
        return "'weights' and 'modulus' apply only to algorithm 'weighted'"
    return None


def weights_problem(value: Any) -> str | None:
    """`weights`: a non-empty list of non-negative integers, one per digit of the value."""
    ok = (
        isinstance(value, Sequence)
        and not isinstance(value, str)
        and 0 < len(value) <= 64
        and all(isinstance(w, int) and not isinstance(w, bool) and 0 <= w < 10_000 for w in value)
    )
    return None if ok else "must be a list of 1 to 64 non-negative integers (one weight per digit)"


def modulus_problem(value: Any) -> str | None:
    """`modulus`: an integer from 2 to 10,000."""
    ok = isinstance(value, int) and not isinstance(value, bool) and 2 <= value <= 10_000
    return None if ok else "must be an integer from 2 to 10000"
