"""Running a contract's expectations on a batch.

`validate(table, contract)` gives the row issues `(row: int64, reason: string)` — the
same shape as `schemas.conform`'s — one per (row, broken expectation), sorted by row.
A reason names the column(s) and the rule with its parameters, never a value:
`gross_income: expect_column_values_to_be_between(min_value=0, max_value=100000000)`.

`evaluate` gives one `ExpectationResult` per expectation (GX's counts and success, with
`mostly` applied) for reports; `group_issues` folds issues to one row per bad row with
the list of its reasons, which is what the exchange stores in quarantine.
"""

from __future__ import annotations

import datetime as dt
import functools
import os
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from contracts.arrow_checks import Check, KeyLookup, Outcome
from contracts.expectations import SUPPORTED_EXPECTATIONS
from contracts.model import Contract, Expectation
from govbus.errors import BadConfiguration
from schemas import ISSUE_SCHEMA

_COLUMN_KWARGS = ("column", "column_list", "column_A", "column_B")
_SILENT_KWARGS = ("mostly", "meta")


@dataclass(frozen=True)
class ExpectationResult:
    """GX-style outcome of one expectation on one batch. `success` applies `mostly`
    (all considered rows must pass when it is absent); rows are quarantined regardless."""

    expectation: Expectation
    reason: str
    unexpected_rows: pa.Array
    unexpected_count: int
    considered: int
    success: bool
    observed_value: Any = None
    """What a batch-level expectation measured (the row count); None for row-level ones."""


def _fmt(value: Any) -> str:
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, dt.date | dt.datetime):
        return repr(value.isoformat())
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_fmt(v) for v in value) + "]"
    return str(value)


def describe(expectation: Expectation) -> str:
    """The reason text of an expectation: `<columns>: <type>(<other kwargs>)`."""
    kwargs = expectation.kwargs
    columns: list[str] = []
    for key in _COLUMN_KWARGS:
        value = kwargs.get(key)
        columns.extend(value if isinstance(value, list) else [value] if value else [])
    shown = ", ".join(f"{k}={_fmt(v)}" for k, v in kwargs.items() if k not in _COLUMN_KWARGS + _SILENT_KWARGS)
    return f"{','.join(columns)}: {expectation.type}({shown})"


def _where(expectation: Expectation, source: str) -> str:
    return f"{source}:{expectation.line}" if expectation.line is not None else source


def evaluate(
    table: pa.Table,
    expectations: Iterable[Expectation],
    source: str = "<contract>",
    *,
    keys: KeyLookup | None = None,
) -> list[ExpectationResult]:
    """Run each expectation on `table`; `source` names the contract in errors; `keys`
    answers the referential expectation (`expect_column_values_to_be_in_dataset_keys`).

    Raises `BadConfiguration` for an unsupported type, a column the batch lacks, a
    constant that does not fit the column's type (`govbus check` catches all of these
    before a run, through `check_against_schema`), or a referential expectation without
    `keys`.
    """
    expectations = list(expectations)
    pairs = [(e, _compile(table, e, source, keys)) for e in expectations]
    if len(pairs) > 1 and table.num_rows >= _PARALLEL_ROWS:
        # Arrow's kernels release the GIL: independent expectations run side by side,
        # the costly ones (hashing every value) started first
        order = sorted(range(len(pairs)), key=lambda i: pairs[i][0].type not in _COSTLY)
        with ThreadPoolExecutor(max_workers=min(len(pairs), os.cpu_count() or 1)) as pool:
            futures = {i: pool.submit(_run, table, *pairs[i], source) for i in order}
            outcomes = [futures[i].result() for i in range(len(pairs))]
    else:
        outcomes = [_run(table, expectation, check, source) for expectation, check in pairs]
    return [_result(e, outcome) for e, outcome in zip(expectations, outcomes, strict=True)]


_COSTLY = {
    "expect_column_values_to_be_unique",
    "expect_compound_columns_to_be_unique",
    "expect_column_values_to_be_dateutil_parseable",
}
_PARALLEL_ROWS = 50_000


def _compile(table: pa.Table, expectation: Expectation, source: str, keys: KeyLookup | None) -> Check:
    compiler = SUPPORTED_EXPECTATIONS.get(expectation.type)
    if compiler is None:
        raise BadConfiguration(
            f"unsupported expectation {expectation.type!r}",
            where=_where(expectation, source),
            hint="use one of contracts.SUPPORTED_EXPECTATIONS",
        )
    missing = [c for c in compiler.columns(expectation.kwargs) if c not in table.column_names]
    if missing:
        raise BadConfiguration(
            f"{expectation.type} names column(s) the batch lacks: {', '.join(missing)}",
            where=_where(expectation, source),
            hint="fix the column name or the schema; run `govbus check`",
        )
    check = compiler(expectation.kwargs)
    if not compiler.needs_keys:
        return check
    if keys is None:
        raise BadConfiguration(
            f"{expectation.type} needs the keys the bus has staged for another dataset",
            where=_where(expectation, source),
            hint="validate through the exchange (stage), which passes its key index",
        )
    return functools.partial(check, keys=keys)


def _run(table: pa.Table, expectation: Expectation, check: Check, source: str) -> Outcome:
    try:
        return check(table)
    except (pa.ArrowException, ArithmeticError, ValueError, TypeError) as exc:
        raise BadConfiguration(
            f"{expectation.type} cannot run on these column types ({type(exc).__name__})",
            where=_where(expectation, source),
            hint="make the constants match the column's type",
        ) from exc


def _result(expectation: Expectation, outcome: Outcome) -> ExpectationResult:
    rows = pc.cast(pc.indices_nonzero(outcome.unexpected), pa.int64())
    bad = len(rows)
    if outcome.success is not None:
        success = outcome.success
    else:
        success = row_success(expectation, outcome.considered, bad)
    return ExpectationResult(
        expectation, describe(expectation), rows, bad, outcome.considered, success, outcome.observed
    )


def row_success(expectation: Expectation, considered: int, unexpected: int) -> bool:
    """A row-level expectation's verdict: every considered row passes, or `mostly` of them."""
    mostly = expectation.kwargs.get("mostly")
    if mostly is None or considered == 0:
        return unexpected == 0
    return (considered - unexpected) / considered >= mostly


def issues_of(results: Sequence[ExpectationResult]) -> pa.Table:
    """The row issues of evaluated expectations, sorted by row (stable)."""
    parts = [ISSUE_SCHEMA.empty_table()]
    for result in results:
        if result.unexpected_count:
            reasons = pa.repeat(pa.scalar(result.reason, pa.string()), result.unexpected_count)
            parts.append(pa.Table.from_arrays([result.unexpected_rows, reasons], schema=ISSUE_SCHEMA))
    issues = pa.concat_tables(parts)
    return issues.take(pc.sort_indices(issues, sort_keys=[("row", "ascending")]))


def validate(table: pa.Table, contract: Contract, *, keys: KeyLookup | None = None) -> pa.Table:
    """Row issues of `table` (conformed to the contract's schema) under `contract`.

    One batch on its own; the exchange validates a stage's batches with
    `contracts.StageValidation`, which also judges uniqueness across them.
    """
    return issues_of(evaluate(table, contract.expectations, source_of(contract), keys=keys))


def source_of(contract: Contract) -> str:
    """How errors name the contract: its file, else its id."""
    return str(contract.path) if contract.path is not None else contract.id


def group_issues(issues: pa.Table) -> pa.Table:
    """`(row, reason)` issues → one row per bad row: `(row: int64, reasons: list<string>)`,
    sorted by row, reasons in their original order."""
    if issues.num_rows == 0:
        return pa.table({"row": pa.array([], pa.int64()), "reasons": pa.array([], pa.list_(pa.string()))})
    grouped = issues.group_by("row", use_threads=False).aggregate([("reason", "list")])
    grouped = pa.table({"row": grouped.column("row"), "reasons": grouped.column("reason_list")})
    return grouped.take(pc.sort_indices(grouped, sort_keys=[("row", "ascending")]))
