"""The published JSON Schema of contract.yaml: current, valid draft 2020-12, accepts the
sample contract and refuses what the linter refuses (for what a JSON Schema can see)."""

from __future__ import annotations

import copy
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from contracts import PURPOSE_PLACEHOLDER, SUPPORTED_EXPECTATIONS, lint_contract
from contracts.json_schema import SCHEMA_PATH, contract_json_schema

SAMPLE = Path(__file__).parents[2] / "catalog/datasets/tax.income"


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def _sample() -> dict[str, Any]:
    return yaml.safe_load((SAMPLE / "contract.yaml").read_text(encoding="utf-8"))


def test_the_published_file_is_the_generated_schema() -> None:
    published = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    assert published == contract_json_schema(), "regenerate: contracts.json_schema.write_json_schema()"
    names = published["properties"]["expectations"]["items"]["properties"]["type"]["enum"]
    assert set(names) == set(SUPPORTED_EXPECTATIONS)


def test_the_sample_contract_validates(validator: jsonschema.Draft202012Validator) -> None:
    assert [e.message for e in validator.iter_errors(_sample())] == []


def _expectation(doc: dict[str, Any], kind: str) -> dict[str, Any]:
    return next(e for e in doc["expectations"] if e["type"] == kind)


MUTATIONS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "unknown top-level key": lambda d: d.update(owners="tax"),
    "missing required key": lambda d: d.pop("key_fields"),
    "missing purpose": lambda d: d.pop("purpose"),
    "empty purpose": lambda d: d.update(purpose=" "),
    "placeholder purpose": lambda d: d.update(purpose=PURPOSE_PLACEHOLDER),
    "bad classification": lambda d: d["fields"]["tax_year"].update(classification="secret"),
    "unknown field attribute": lambda d: d["fields"]["tax_year"].update(pii=True),
    "bad compatibility": lambda d: d.update(compatibility="SIDEWAYS"),
    "bad version": lambda d: d.update(version="1.0"),
    "schema outside the folder": lambda d: d.update(schema="../other/v1.avsc"),
    "unknown expectation": lambda d: d["expectations"].append(
        {"type": "expect_column_values_to_be_pretty", "kwargs": {"column": "tax_year"}}
    ),
    "missing required kwarg": lambda d: _expectation(d, "expect_column_values_to_match_regex")["kwargs"].pop(
        "regex"
    ),
    "unaccepted kwarg": lambda d: _expectation(d, "expect_column_values_to_be_unique")["kwargs"].update(
        regex="x"
    ),
    "mostly above one": lambda d: _expectation(d, "expect_column_values_to_be_unique")["kwargs"].update(
        mostly=1.5
    ),
    "bad ignore_row_if": lambda d: d["expectations"].append(
        {
            "type": "expect_compound_columns_to_be_unique",
            "kwargs": {"column_list": ["return_id", "tax_year"], "ignore_row_if": "sometimes"},
        }
    ),
    "calendar freshness": lambda d: d["sla"].update(freshness="P1M"),
    "negative volume": lambda d: d["sla"]["volume"].update(min_rows=-1),
    "bad on_breach": lambda d: d["sla"].update(on_breach="panic"),
}


@pytest.mark.parametrize("mutation", list(MUTATIONS))
def test_what_the_linter_refuses_the_json_schema_refuses_too(
    mutation: str, validator: jsonschema.Draft202012Validator, tmp_path: Path
) -> None:
    doc = copy.deepcopy(_sample())
    MUTATIONS[mutation](doc)
    assert list(validator.iter_errors(doc)), f"JSON Schema accepted: {mutation}"
    shutil.copytree(SAMPLE / "schema", tmp_path / "schema")
    (tmp_path / "contract.yaml").write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    assert lint_contract(tmp_path / "contract.yaml"), f"linter accepted: {mutation}"
