"""Data contracts: the model and its linter, GX-vocabulary expectations run on Arrow.

`load_contract` / `lint_contract` read `contract.yaml` (every problem with file:line and
field); `check_against_schema` matches a contract with its Avro schema; `validate` runs
the expectations on a conformed batch and returns row issues `(row, reason)`;
`group_issues` folds issues per row for quarantine; `check_schema_history` applies the
contract's compatibility mode to the dataset's schema versions; `diff_contracts` lists
what changed between two contracts and whom it breaks; `gx_suite` exports the GX suite;
`contract_json_schema` is the published JSON Schema (`SCHEMA_PATH`); `SlaTracker` judges
a run's volume and freshness. `StageValidation` validates the batches of one stage
(uniqueness across them, references through a `KeyLookup`, run totals) and
`validation_result` writes a run's totals as GX's ExpectationSuiteValidationResult;
`check_references` lints referential expectations. `purpose_problem` is the linter's
rule for `purpose:` (required, and not `PURPOSE_PLACEHOLDER`, which `govbus discover`
drafts). `tag_warnings` lists fields whose classification contradicts their tags; a field
tagged with a special category (`SPECIAL_CATEGORY_TAGS`, `FieldSpec.special_category`) is
one whatever its classification, and `quasi-identifier` marks what disclosure policies
generalize; `parse_data_life` reads a contract's retention (`data_life`). Imports only
`schemas`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from govbus.lazy_faces import lazy_face

if TYPE_CHECKING:
    from contracts.arrow_checks import KeyLookup
    from contracts.diff import Change, diff_contracts
    from contracts.expectations import SUPPORTED_EXPECTATIONS, ExpectationCompiler
    from contracts.gx_export import gx_suite, gx_suite_json
    from contracts.json_schema import SCHEMA_PATH, contract_json_schema
    from contracts.loader import lint_contract, load_contract
    from contracts.model import (
        BREACH_ACTIONS,
        CLASSIFICATIONS,
        COMPATIBILITY_MODES,
        DIRECT_IDENTIFIER,
        QUASI_IDENTIFIER,
        SPECIAL_CATEGORY_TAGS,
        Contract,
        Expectation,
        FieldSpec,
        Problem,
        Sla,
        special_categories,
    )
    from contracts.privacy import DATA_LIFE_PATTERN, parse_data_life, tag_warnings
    from contracts.purpose import PURPOSE_PLACEHOLDER, purpose_problem
    from contracts.references import check_references, referenced_key_field
    from contracts.schema_check import check_against_schema, check_contract_schema, check_schema_history
    from contracts.seen_keys import SeenKeys, encode_keys, first_of_each
    from contracts.sla import SlaResult, SlaTracker
    from contracts.stage_validation import REPEAT_NOTE, BatchKeys, RunResult, StageValidation
    from contracts.validation import ExpectationResult, describe, evaluate, group_issues, validate
    from contracts.validation_report import validation_result

# Where each public name lives: imported on first use (PEP 562), so importing this package
# (or one of its modules) does not load every dependency of every other module: `govbus
# --help`, `govbus status` and the DAG file load only what they use. A new public name goes
# here, under TYPE_CHECKING above and in `__all__` (tests/architecture/test_lazy_faces.py).
_LAZY: dict[str, tuple[str, str]] = {
    "KeyLookup": ("contracts.arrow_checks", "KeyLookup"),
    "Change": ("contracts.diff", "Change"),
    "diff_contracts": ("contracts.diff", "diff_contracts"),
    "SUPPORTED_EXPECTATIONS": ("contracts.expectations", "SUPPORTED_EXPECTATIONS"),
    "ExpectationCompiler": ("contracts.expectations", "ExpectationCompiler"),
    "gx_suite": ("contracts.gx_export", "gx_suite"),
    "gx_suite_json": ("contracts.gx_export", "gx_suite_json"),
    "SCHEMA_PATH": ("contracts.json_schema", "SCHEMA_PATH"),
    "contract_json_schema": ("contracts.json_schema", "contract_json_schema"),
    "lint_contract": ("contracts.loader", "lint_contract"),
    "load_contract": ("contracts.loader", "load_contract"),
    "BREACH_ACTIONS": ("contracts.model", "BREACH_ACTIONS"),
    "CLASSIFICATIONS": ("contracts.model", "CLASSIFICATIONS"),
    "COMPATIBILITY_MODES": ("contracts.model", "COMPATIBILITY_MODES"),
    "DIRECT_IDENTIFIER": ("contracts.model", "DIRECT_IDENTIFIER"),
    "QUASI_IDENTIFIER": ("contracts.model", "QUASI_IDENTIFIER"),
    "SPECIAL_CATEGORY_TAGS": ("contracts.model", "SPECIAL_CATEGORY_TAGS"),
    "Contract": ("contracts.model", "Contract"),
    "Expectation": ("contracts.model", "Expectation"),
    "FieldSpec": ("contracts.model", "FieldSpec"),
    "Problem": ("contracts.model", "Problem"),
    "Sla": ("contracts.model", "Sla"),
    "special_categories": ("contracts.model", "special_categories"),
    "DATA_LIFE_PATTERN": ("contracts.privacy", "DATA_LIFE_PATTERN"),
    "parse_data_life": ("contracts.privacy", "parse_data_life"),
    "tag_warnings": ("contracts.privacy", "tag_warnings"),
    "PURPOSE_PLACEHOLDER": ("contracts.purpose", "PURPOSE_PLACEHOLDER"),
    "purpose_problem": ("contracts.purpose", "purpose_problem"),
    "check_references": ("contracts.references", "check_references"),
    "referenced_key_field": ("contracts.references", "referenced_key_field"),
    "check_against_schema": ("contracts.schema_check", "check_against_schema"),
    "check_contract_schema": ("contracts.schema_check", "check_contract_schema"),
    "check_schema_history": ("contracts.schema_check", "check_schema_history"),
    "SlaResult": ("contracts.sla", "SlaResult"),
    "SlaTracker": ("contracts.sla", "SlaTracker"),
    "REPEAT_NOTE": ("contracts.stage_validation", "REPEAT_NOTE"),
    "RunResult": ("contracts.stage_validation", "RunResult"),
    "BatchKeys": ("contracts.stage_validation", "BatchKeys"),
    "SeenKeys": ("contracts.seen_keys", "SeenKeys"),
    "StageValidation": ("contracts.stage_validation", "StageValidation"),
    "encode_keys": ("contracts.seen_keys", "encode_keys"),
    "first_of_each": ("contracts.seen_keys", "first_of_each"),
    "ExpectationResult": ("contracts.validation", "ExpectationResult"),
    "describe": ("contracts.validation", "describe"),
    "evaluate": ("contracts.validation", "evaluate"),
    "group_issues": ("contracts.validation", "group_issues"),
    "validate": ("contracts.validation", "validate"),
    "validation_result": ("contracts.validation_report", "validation_result"),
}


__getattr__, __dir__ = lazy_face(__name__, _LAZY)


__all__ = [
    "BREACH_ACTIONS",
    "CLASSIFICATIONS",
    "COMPATIBILITY_MODES",
    "DATA_LIFE_PATTERN",
    "DIRECT_IDENTIFIER",
    "PURPOSE_PLACEHOLDER",
    "QUASI_IDENTIFIER",
    "REPEAT_NOTE",
    "SCHEMA_PATH",
    "SPECIAL_CATEGORY_TAGS",
    "SUPPORTED_EXPECTATIONS",
    "BatchKeys",
    "Change",
    "Contract",
    "Expectation",
    "ExpectationCompiler",
    "ExpectationResult",
    "FieldSpec",
    "KeyLookup",
    "Problem",
    "RunResult",
    "SeenKeys",
    "Sla",
    "SlaResult",
    "SlaTracker",
    "StageValidation",
    "check_against_schema",
    "check_contract_schema",
    "check_references",
    "check_schema_history",
    "contract_json_schema",
    "describe",
    "diff_contracts",
    "encode_keys",
    "evaluate",
    "first_of_each",
    "group_issues",
    "gx_suite",
    "gx_suite_json",
    "lint_contract",
    "load_contract",
    "parse_data_life",
    "purpose_problem",
    "referenced_key_field",
    "special_categories",
    "tag_warnings",
    "validate",
    "validation_result",
]
