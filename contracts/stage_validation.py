"""Validating the batches of one stage: the rules that reach across batches, and run totals.

A stage reads a dataset's changes as several batches; `StageValidation` checks them one
after the other (`check`) and remembers what spans them:

* **Uniqueness within the stage.** `expect_column_values_to_be_unique` and
  `expect_compound_columns_to_be_unique` mean "unique in what one stage reads". Inside a
  batch they are GX's rules (every occurrence of a repeated value is flagged). Across
  batches a key already read in an earlier batch of the same stage is flagged too, with
  the reason suffixed `REPEAT_NOTE`; the earlier row was judged with its own batch (and,
  if it passed, is already staged). Keys are remembered whether or not their row passed
  the other rules: "read twice in one stage" is the defect. Across stages a key may come
  again: incremental sources re-send a changed record, and that update is legitimate.
  Nulls are skipped (single column) or follow `ignore_row_if` (compound) as in GX.
* **References.** `expect_column_values_to_be_in_dataset_keys` asks the `KeyLookup`
  given here (the exchange's key index of the other dataset).
* **Run totals.** Per expectation: rows, considered rows, unexpected rows (with the
  repeats), and the verdict over the whole run (`mostly` applied to the totals; the
  row-count rule judged on the run's row count). Conform issues are counted by reason.
  `results()` feeds the run's validation report; nothing here keeps a row's value
  beyond the stage's key set, which lives in memory only.

The key set is exact and compact: each key is encoded once as bytes (a netstring per
column, so no two keys share an encoding) and kept in fixed-width NumPy arrays sorted by
a 64-bit hash; membership is a binary search confirmed on the bytes, adding a batch is
one merge — no Python per row.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.types as pt

from contracts.arrow_checks import KeyLookup, column, compound_considered
from contracts.expectations import SUPPORTED_EXPECTATIONS
from contracts.model import Contract, Expectation
from contracts.validation import ExpectationResult, describe, evaluate, issues_of, row_success, source_of
from schemas import ISSUE_SCHEMA

UNIQUE_TYPES = ("expect_column_values_to_be_unique", "expect_compound_columns_to_be_unique")
REPEAT_NOTE = " [repeats a key read in an earlier batch of this stage]"


@dataclass(frozen=True)
class RunResult:
    """One expectation over a whole run: GX's counts and verdict, never a value."""

    expectation: Expectation
    reason: str
    level: str
    element_count: int
    considered: int
    unexpected_count: int
    success: bool
    observed_value: Any = None


@dataclass
class _Totals:
    expectation: Expectation
    reason: str
    level: str
    element_count: int = 0
    considered: int = 0
    unexpected: int = 0


class StageValidation:
    """Checks the batches of one stage against a contract (see the module doc)."""

    def __init__(self, contract: Contract, *, keys: KeyLookup | None = None) -> None:
        self.contract = contract
        self.keys = keys
        self.rows = 0
        self.conform_issues: Counter[str] = Counter()
        self._source = source_of(contract)
        self._totals = [_Totals(e, describe(e), _level(e)) for e in contract.expectations]
        self._seen = {i: SeenKeys() for i, e in enumerate(contract.expectations) if e.type in UNIQUE_TYPES}

    def check(self, table: pa.Table, conform_issues: pa.Table | None = None) -> pa.Table:
        """Row issues `(row, reason)` of one conformed batch, sorted by row: the batch's
        `conform_issues` first, then every broken expectation, repeats included."""
        results = evaluate(table, self.contract.expectations, self._source, keys=self.keys)
        conform_issues = conform_issues.cast(ISSUE_SCHEMA) if conform_issues is not None else None
        parts = [conform_issues if conform_issues is not None else ISSUE_SCHEMA.empty_table()]
        if conform_issues is not None and conform_issues.num_rows:
            counts = pc.value_counts(conform_issues["reason"].combine_chunks())
            reasons, numbers = counts.field("values").to_pylist(), counts.field("counts").to_pylist()
            self.conform_issues.update(dict(zip(reasons, numbers, strict=True)))
        for index, result in enumerate(results):
            if index in self._seen:
                repeats = self._repeats(index, table, result)
                if len(repeats):
                    reasons = pa.repeat(pa.scalar(result.reason + REPEAT_NOTE, pa.string()), len(repeats))
                    parts.append(pa.Table.from_arrays([repeats, reasons], schema=ISSUE_SCHEMA))
                    result = replace(result, unexpected_count=result.unexpected_count + len(repeats))
            totals = self._totals[index]
            totals.element_count += table.num_rows
            totals.considered += result.considered
            totals.unexpected += result.unexpected_count
        self.rows += table.num_rows
        parts.append(issues_of(results))
        issues = pa.concat_tables(parts)
        return issues.take(pc.sort_indices(issues, sort_keys=[("row", "ascending")]))

    def _repeats(self, index: int, table: pa.Table, result: ExpectationResult) -> pa.Array:
        """Rows whose key an earlier batch of this stage already had (not flagged in-batch)."""
        kwargs = self._totals[index].expectation.kwargs
        if "column_list" in kwargs:
            names = list(kwargs["column_list"])
            considered = compound_considered(table, kwargs)
        else:
            names = [kwargs["column"]]
            considered = pc.is_valid(column(table, kwargs["column"]))
        rows = pc.indices_nonzero(considered)
        keys = encode_keys([column(table, name).take(rows) for name in names])
        earlier = rows.to_numpy()[self._seen[index].add(keys)].astype(np.int64)
        repeats = np.setdiff1d(earlier, result.unexpected_rows.to_numpy(zero_copy_only=False))
        return pa.array(repeats, pa.int64())

    def results(self) -> list[RunResult]:
        """Each expectation over the run so far, in the contract's order."""
        found = []
        for totals in self._totals:
            expectation = totals.expectation
            if totals.level == "batch":
                # judged once, on the run's row count (a table of that many null rows)
                (batch,) = evaluate(pa.table({"_": pa.nulls(self.rows)}), [expectation], self._source)
                success, observed = batch.success, batch.observed_value
            else:
                success = row_success(expectation, totals.considered, totals.unexpected)
                observed = None
            found.append(
                RunResult(
                    expectation,
                    totals.reason,
                    totals.level,
                    self.rows,
                    totals.considered,
                    totals.unexpected,
                    success,
                    observed,
                )
            )
        return found


def _level(expectation: Expectation) -> str:
    compiler = SUPPORTED_EXPECTATIONS.get(expectation.type)
    return compiler.level if compiler is not None else "row"


class SeenKeys:
    """An exact set of encoded keys (`encode_keys`).

    Two aligned arrays sorted by a 64-bit hash of each key: the hashes (binary search on
    integers is fast) and the keys themselves (NUL-padded to a multiple of 8 bytes), which
    confirm every hash hit, so a hash collision never makes two keys equal. Adding a
    batch is one sort of its hashes and one merge.
    """

    def __init__(self) -> None:
        self._hashes = np.empty(0, dtype=np.uint64)
        self._keys = np.empty(0, dtype="S8")

    def __len__(self) -> int:
        return len(self._hashes)

    def _fit(self, keys: np.ndarray) -> np.ndarray:
        """`keys` and the set at one width, a multiple of 8 (NUL-padded; encodings are
        prefix-free, so padding never makes two keys equal)."""
        width = -(-max(self._keys.dtype.itemsize, keys.dtype.itemsize) // 8) * 8
        if self._keys.dtype.itemsize < width:
            self._keys = self._keys.astype(f"S{width}")
        return np.ascontiguousarray(keys.astype(f"S{width}", copy=False))

    def _locate(self, keys: np.ndarray, hashes: np.ndarray) -> np.ndarray:
        """Each key's index in the set, or -1."""
        found = np.full(len(keys), -1, dtype=np.int64)
        if not len(self._hashes):
            return found
        at = np.searchsorted(self._hashes, hashes)
        where = np.minimum(at, len(self._hashes) - 1)
        hit = (at < len(self._hashes)) & (self._hashes[where] == hashes)
        same = hit & (self._keys[where] == keys)
        found[same] = where[same]
        for row in np.flatnonzero(hit & ~same):  # a hash collision (rare): walk its run
            end = int(np.searchsorted(self._hashes, hashes[row], side="right"))
            matches = np.flatnonzero(self._keys[at[row] : end] == keys[row])
            if len(matches):
                found[row] = at[row] + matches[0]
        return found

    def contains(self, keys: np.ndarray) -> np.ndarray:
        """A boolean array: which of `keys` are in the set."""
        if not len(self._hashes) or not len(keys):
            return np.zeros(len(keys), dtype=bool)
        keys = self._fit(keys)
        hashes = key_hashes(keys)
        order = np.argsort(hashes)  # sorted needles: a far faster search
        found = np.empty(len(keys), dtype=bool)
        found[order] = self._locate(keys[order], hashes[order]) >= 0
        return found

    def add(self, keys: np.ndarray) -> np.ndarray:
        """Put `keys` in the set; returns which of them it held already (before this call)."""
        before = np.zeros(len(keys), dtype=bool)
        if not len(keys):
            return before
        keys = self._fit(keys)
        hashes = key_hashes(keys)
        order = np.argsort(hashes)
        keys, hashes = keys[order], hashes[order]
        known = self._locate(keys, hashes) >= 0
        before[order] = known
        keys, hashes = keys[~known], hashes[~known]
        first = np.ones(len(keys), dtype=bool)  # one of each key: equal keys are adjacent ...
        first[1:] = (hashes[1:] != hashes[:-1]) | (keys[1:] != keys[:-1])
        keys, hashes = keys[first], hashes[first]
        colliding = np.flatnonzero(hashes[1:] == hashes[:-1])
        if len(colliding):  # ... unless another key shares their hash (rare): by value
            keep = np.ones(len(keys), dtype=bool)
            by_hash: dict[int, set[bytes]] = {}
            for row in np.flatnonzero(np.isin(hashes, hashes[colliding])):
                seen = by_hash.setdefault(int(hashes[row]), set())
                keep[row] = bytes(keys[row]) not in seen
                seen.add(bytes(keys[row]))
            keys, hashes = keys[keep], hashes[keep]
        # merge: the new keys go to their sorted slots, the old ones fill the rest in order
        slots = np.searchsorted(self._hashes, hashes) + np.arange(len(hashes))
        old = np.ones(len(self._hashes) + len(hashes), dtype=bool)
        old[slots] = False
        self._hashes, self._keys = (
            _merged(o, n, slots, old) for o, n in ((self._hashes, hashes), (self._keys, keys))
        )
        return before


def _merged(old: np.ndarray, new: np.ndarray, slots: np.ndarray, old_slots: np.ndarray) -> np.ndarray:
    merged = np.empty(len(old_slots), dtype=old.dtype)
    merged[slots] = new
    merged[old_slots] = old
    return merged


_MULTIPLIER = np.uint64(0xBF58476D1CE4E5B9)
_SHIFT = np.uint64(31)


def key_hashes(keys: np.ndarray) -> np.ndarray:
    """A 64-bit hash of each fixed-width key (width a multiple of 8), 8 bytes at a time.

    All-zero words are skipped, so a key hashes the same at any padded width.
    """
    words = keys.view(np.uint64).reshape(len(keys), keys.dtype.itemsize // 8)
    hashes = np.full(len(keys), 0x9E3779B97F4A7C15, dtype=np.uint64)
    for word in range(words.shape[1]):
        values = words[:, word]
        mixed = (hashes ^ values) * _MULTIPLIER
        mixed ^= mixed >> _SHIFT
        hashes = np.where(values != 0, mixed, hashes)
    return hashes


# Plain bytes, not Arrow scalars, at import: building any Arrow value makes pyarrow import
# pandas (about 1 s), which every `govbus` command and every DAG parse would then pay.
_COLON, _NOTHING, _NULL_MARK, _PAD = b":", b"", b"-", b"\x00"


def encode_keys(columns: list[pa.Array]) -> np.ndarray:
    """One bytes value per row for the tuple of `columns`: each column as `<length>:<text>`
    (`-` for a null), joined; as a fixed-width NumPy `S` array. Equal tuples, equal bytes;
    -0.0 equals 0.0, as in the uniqueness rules."""
    rows = len(columns[0]) if columns else 0
    if rows == 0:
        return np.empty(0, dtype="S1")
    parts = []
    for values in columns:
        text = _as_binary(values)
        length = pc.cast(pc.cast(pc.binary_length(text), pa.string()), pa.binary())
        parts.append(pc.fill_null(pc.binary_join_element_wise(length, _COLON, text, _NOTHING), _NULL_MARK))
    joined = pc.binary_join_element_wise(*parts, _NOTHING) if len(parts) > 1 else parts[0]
    lengths = pc.binary_length(joined)
    width = pc.max(lengths).as_py()
    padded = pc.binary_join_element_wise(
        joined, pc.binary_repeat(_PAD, pc.subtract(pa.scalar(width, lengths.type), lengths)), _NOTHING
    )
    fixed = pc.cast(padded, pa.binary(width))
    return np.frombuffer(fixed.buffers()[1], dtype=f"S{width}", count=rows, offset=fixed.offset * width)


def _as_binary(values: pa.Array) -> pa.Array:
    if pt.is_dictionary(values.type):
        values = values.dictionary_decode()
    if pt.is_floating(values.type):
        values = pc.add(values, pa.scalar(0.0, values.type))  # -0.0 → 0.0
    if pt.is_binary(values.type) or pt.is_large_binary(values.type) or pt.is_fixed_size_binary(values.type):
        return pc.cast(values, pa.binary())
    return pc.cast(pc.cast(values, pa.string()), pa.binary())
