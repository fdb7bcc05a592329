"""The JSON Schema (draft 2020-12) of `contract.yaml`, for editors and other tools.

It is generated from the same tables the linter uses (`SUPPORTED_EXPECTATIONS` and each
expectation's parameters, the classifications, the modes), and published as
`contracts/contract.schema.json`; a test keeps the file equal to `contract_json_schema()`.
Regenerate it with `python -c "import contracts.json_schema as j; j.write_json_schema()"`.

The JSON Schema catches what a schema can (shape, names, enumerations); the linter also
checks what it cannot: that names refer to declared fields, that regexes compile under
RE2, that the contract fits its Avro schema. Editors point at the file with a
`# yaml-language-server: $schema=...` comment.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from contracts import date_checks
from contracts import expectations as ex
from contracts.durations import DURATION_PATTERN
from contracts.loader import FIELD_PATTERN, NAME_PATTERN, SEMVER_PATTERN
from contracts.model import BREACH_ACTIONS, CLASSIFICATIONS, COMPATIBILITY_MODES
from contracts.privacy import DATA_LIFE_PATTERN
from contracts.purpose import PURPOSE_HELP, PURPOSE_PATTERN

SCHEMA_PATH = Path(__file__).with_name("contract.schema.json")
SCHEMA_ID = "https://govbus.example/schemas/contract.schema.json"

_COLUMN = {"type": "string", "minLength": 1}
_SCALAR = {"type": ["number", "string", "null"]}
_BY_CHECK: dict[Any, dict[str, Any]] = {
    ex._column: _COLUMN,
    ex._bool: {"type": "boolean"},
    ex._bound: _SCALAR,
    ex._length: {"type": ["integer", "null"], "minimum": 0},
    ex._regex: {"type": "string"},
    ex._value_set: {"type": "array", "items": _SCALAR},
    ex._column_list: {"type": "array", "items": _COLUMN, "minItems": 1, "uniqueItems": True},
    ex._mostly: {"type": "number", "minimum": 0, "maximum": 1},
    ex._meta: {"type": "object"},
    ex._dataset: {"type": "string", "pattern": NAME_PATTERN},
    date_checks.strftime_problem: {"type": "string", "minLength": 1},
}


def _param(param: ex.Param) -> dict[str, Any]:
    allowed = getattr(param.check, "allowed", None)
    if allowed is not None:
        return {"enum": list(allowed)}
    return dict(_BY_CHECK.get(param.check, {}))


def _kwargs(compiler: ex.ExpectationCompiler) -> dict[str, Any]:
    params = (*compiler.params, *compiler.common)
    return {
        "type": "object",
        "properties": {p.name: _param(p) for p in params},
        "required": [p.name for p in compiler.params if p.required],
        "additionalProperties": False,
    }


def contract_json_schema() -> dict[str, Any]:
    """The JSON Schema of a contract file as a dict (see the module doc)."""
    names = sorted(ex.SUPPORTED_EXPECTATIONS)
    expectation = {
        "type": "object",
        "required": ["type"],
        "properties": {
            "type": {
                "enum": names,
                "description": (
                    "A Great Expectations 1.x expectation type"
                    " (or one of GovBus's own: in_dataset_keys, have_valid_check_digit)."
                ),
            },
            "kwargs": {"type": "object"},
            "meta": {"type": "object"},
            "notes": {},
            "description": {"type": "string"},
        },
        "additionalProperties": False,
        "allOf": [
            {
                "if": {"properties": {"type": {"const": name}}, "required": ["type"]},
                "then": {"properties": {"kwargs": _kwargs(ex.SUPPORTED_EXPECTATIONS[name])}},
            }
            for name in names
        ],
    }
    field_spec = {
        "type": "object",
        "required": ["classification"],
        "properties": {
            "classification": {"enum": list(CLASSIFICATIONS)},
            "tags": {"type": "array", "items": {"type": "string"}},
            "description": {"type": "string"},
            "reversible_by": {
                "type": "array",
                "items": {"type": "string", "pattern": NAME_PATTERN},
                "minItems": 1,
                "uniqueItems": True,
                "description": "Agencies that receive this field AES-SIV encrypted, with their own key.",
            },
        },
        "additionalProperties": False,
    }
    count = {"type": "integer", "minimum": 0}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "GovBus data contract (contract.yaml)",
        "type": "object",
        "required": [
            "id",
            "version",
            "owner",
            "purpose",
            "schema",
            "compatibility",
            "subject_field",
            "key_fields",
            "source",
            "fields",
        ],
        "properties": {
            "id": {"type": "string", "pattern": NAME_PATTERN},
            "version": {"type": "string", "pattern": SEMVER_PATTERN},
            "owner": {"type": "string", "pattern": NAME_PATTERN, "description": "The owner agency's id."},
            "description": {"type": "string"},
            "purpose": {
                "type": "string",
                "pattern": PURPOSE_PATTERN,
                "description": f"Required, not empty and not a TODO: {PURPOSE_HELP}.",
            },
            "schema": {"type": "string", "pattern": r"^(?!/)(?!.*\.\.)[^\\]*\.avsc$"},
            "compatibility": {"enum": list(COMPATIBILITY_MODES)},
            "subject_field": {"type": "string"},
            "key_fields": {"type": "array", "items": {"type": "string"}, "minItems": 1, "uniqueItems": True},
            "cursor_field": {"type": "string"},
            "data_life": {
                "type": "string",
                "pattern": DATA_LIFE_PATTERN,
                "description": "How long the bus keeps a row (staged, snapshot, quarantine): P7Y, P90D.",
            },
            "source": {
                "type": "object",
                "required": ["connector"],
                "properties": {"connector": {"type": "string"}},
            },
            "fields": {
                "type": "object",
                "propertyNames": {"pattern": FIELD_PATTERN},
                "additionalProperties": field_spec,
            },
            "expectations": {"type": "array", "items": expectation},
            "sla": {
                "type": "object",
                "properties": {
                    "freshness": {"type": "string", "pattern": DURATION_PATTERN},
                    "volume": {
                        "type": "object",
                        "properties": {"min_rows": count, "max_rows": count},
                        "additionalProperties": False,
                    },
                    "on_breach": {"enum": list(BREACH_ACTIONS)},
                },
                "additionalProperties": False,
            },
        },
        "additionalProperties": False,
    }


def write_json_schema(path: Path = SCHEMA_PATH) -> None:
    """(Re)write the published JSON Schema file."""
    path.write_text(json.dumps(contract_json_schema(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
