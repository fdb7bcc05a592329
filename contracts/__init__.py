"""Data contracts: the model and its linter, GX-vocabulary expectations run on Arrow.

`load_contract` / `lint_contract` read `contract.yaml` (every problem with file:line and
field); `check_against_schema` matches a contract with its Avro schema; `validate` runs
the expectations on a conformed batch and returns row issues `(row, reason)`;
`group_issues` folds issues per row for quarantine. Imports only `schemas`.
"""

from __future__ import annotations

from contracts.expectations import SUPPORTED_EXPECTATIONS, ExpectationCompiler
from contracts.loader import lint_contract, load_contract
from contracts.model import (
    BREACH_ACTIONS,
    CLASSIFICATIONS,
    COMPATIBILITY_MODES,
    Contract,
    Expectation,
    FieldSpec,
    Problem,
    Sla,
)
from contracts.schema_check import check_against_schema
from contracts.validation import ExpectationResult, describe, evaluate, group_issues, validate

__all__ = [
    "BREACH_ACTIONS",
    "CLASSIFICATIONS",
    "COMPATIBILITY_MODES",
    "SUPPORTED_EXPECTATIONS",
    "Contract",
    "Expectation",
    "ExpectationCompiler",
    "ExpectationResult",
    "FieldSpec",
    "Problem",
    "Sla",
    "check_against_schema",
    "describe",
    "evaluate",
    "group_issues",
    "lint_contract",
    "load_contract",
    "validate",
]
