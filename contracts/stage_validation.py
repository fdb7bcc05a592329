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

The key set is `contracts.seen_keys.SeenKeys`: exact, compact, no Python per row.
"""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from contracts.arrow_checks import KeyLookup, column, compound_considered
from contracts.expectations import SUPPORTED_EXPECTATIONS
from contracts.model import Contract, Expectation
from contracts.seen_keys import SeenKeys, encode_keys
from contracts.validation import describe, evaluate, issues_of, row_success, source_of
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


@dataclass(frozen=True)
class BatchKeys:
    """One batch's keys for the uniqueness rules, encoded (`keys_of`): per unique
    expectation (its index in the contract), the rows it considers and their keys."""

    rows: dict[int, np.ndarray]
    keys: dict[int, np.ndarray]


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

    def keys_of(self, table: pa.Table) -> BatchKeys:
        """The batch's keys for the uniqueness rules, encoded. Stateless, so a caller may
        run it for the next batch while `check` works on this one (the stage does)."""
        encoded = {index: self._keys(index, table) for index in self._seen}
        return BatchKeys(
            {i: rows for i, (rows, _) in encoded.items()}, {i: k for i, (_, k) in encoded.items()}
        )

    def _keys(self, index: int, table: pa.Table) -> tuple[np.ndarray, np.ndarray]:
        """The rows uniqueness rule `index` considers, and their keys encoded."""
        kwargs = self._totals[index].expectation.kwargs
        if "column_list" in kwargs:
            names = list(kwargs["column_list"])
            considered = compound_considered(table, kwargs)
        else:
            names = [kwargs["column"]]
            considered = pc.is_valid(column(table, kwargs["column"]))
        taken = pc.indices_nonzero(considered)
        return taken.to_numpy(), encode_keys([column(table, name).take(taken) for name in names])

    def check(
        self, table: pa.Table, conform_issues: pa.Table | None = None, keys: BatchKeys | None = None
    ) -> pa.Table:
        """Row issues `(row, reason)` of one conformed batch, sorted by row: the batch's
        `conform_issues` first, then every broken expectation, repeats included. `keys`:
        the batch's `keys_of`, when the caller encoded them already."""
        # The key sets (uniqueness across batches) take this batch's keys on a thread of
        # their own while the expectations run: only the last step needs both.
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="govbus-seen-keys") as adder:
            earlier = {i: adder.submit(self._earlier, i, table, keys) for i in self._seen}
            results = evaluate(table, self.contract.expectations, self._source, keys=self.keys)
            repeated = {i: future.result() for i, future in earlier.items()}
        conform_issues = conform_issues.cast(ISSUE_SCHEMA) if conform_issues is not None else None
        parts = [conform_issues if conform_issues is not None else ISSUE_SCHEMA.empty_table()]
        if conform_issues is not None and conform_issues.num_rows:
            counts = pc.value_counts(conform_issues["reason"].combine_chunks())
            reasons, numbers = counts.field("values").to_pylist(), counts.field("counts").to_pylist()
            self.conform_issues.update(dict(zip(reasons, numbers, strict=True)))
        for index, result in enumerate(results):
            if index in repeated:
                # flagged in-batch already: GX's rule marks every occurrence there
                repeats = pa.array(
                    np.setdiff1d(repeated[index], result.unexpected_rows.to_numpy(zero_copy_only=False)),
                    pa.int64(),
                )
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

    def _earlier(self, index: int, table: pa.Table, keys: BatchKeys | None) -> np.ndarray:
        """Rows whose key an earlier batch of this stage already had; this batch's keys are
        added to the set (one thread at a time: batches come one after the other)."""
        # Encoded here when the caller did not (only this rule's keys: each rule has a task).
        rows, encoded = self._keys(index, table) if keys is None else (keys.rows[index], keys.keys[index])
        return rows[self._seen[index].add(encoded)].astype(np.int64)

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
