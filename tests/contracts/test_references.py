"""The referential expectation in a contract: lint (the other dataset, its key field), the
JSON Schema, the GX export (GX has no such type), `contract diff`."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from contracts import contract_json_schema, diff_contracts, gx_suite, lint_contract, load_contract
from schemas import load_schema

DATASETS = Path(__file__).parents[2] / "catalog" / "datasets"
RULE = "expect_column_values_to_be_in_dataset_keys"


def catalog(tmp_path: Path, **kwargs: Any) -> Path:
    """tax.income and registry.residents side by side; tax.income refers with `kwargs`."""
    for name in ("tax.income", "registry.residents"):
        shutil.copytree(DATASETS / name, tmp_path / "datasets" / name)
    path = tmp_path / "datasets" / "tax.income" / "contract.yaml"
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    document["expectations"].append({"type": RULE, "kwargs": {"column": "national_id", **kwargs}})
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return path


def test_a_reference_to_a_dataset_of_the_catalog_lints_clean(tmp_path: Path) -> None:
    path = catalog(tmp_path, dataset="registry.residents")
    assert lint_contract(path) == []
    explicit = catalog(tmp_path / "b", dataset="registry.residents", key_field="national_id")
    assert lint_contract(explicit) == []


@pytest.mark.parametrize(
    ("kwargs", "field", "message"),
    [
        ({"dataset": "health.nothing"}, "kwargs.dataset", "dataset 'health.nothing' is not in the catalog"),
        (
            {"dataset": "registry.residents", "key_field": "surname"},
            "kwargs.key_field",
            "'surname' is not a key field of 'registry.residents' (its key_fields: national_id)",
        ),
        ({"dataset": "Not An Id"}, "kwargs.dataset", "must be a dataset id"),
        ({}, "kwargs.dataset", "requires 'dataset'"),
    ],
)
def test_a_bad_reference_is_named_with_file_line_and_field(
    tmp_path: Path, kwargs: dict[str, Any], field: str, message: str
) -> None:
    path = catalog(tmp_path, **kwargs)
    [problem] = lint_contract(path)
    assert problem.file == str(path) and problem.line is not None
    assert problem.field == f"expectations[8].{field}" and message in problem.message


def test_a_compound_key_needs_key_field(tmp_path: Path) -> None:
    path = catalog(tmp_path, dataset="registry.residents")
    other = tmp_path / "datasets" / "registry.residents" / "contract.yaml"
    document = yaml.safe_load(other.read_text(encoding="utf-8"))
    document["key_fields"] = ["national_id", "birth_date"]
    other.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    [problem] = lint_contract(path)
    assert "has key fields national_id, birth_date: name one with key_field" in problem.message


def test_the_column_must_hold_text_or_integers(tmp_path: Path) -> None:
    path = catalog(tmp_path, dataset="registry.residents")
    text = path.read_text(encoding="utf-8").replace(
        "column: national_id\n    dataset", "column: gross_income\n    dataset"
    )
    path.write_text(text, encoding="utf-8")
    [problem] = lint_contract(path)
    assert "cannot run on these column types" in problem.message


def test_the_json_schema_knows_the_rule() -> None:
    validator = jsonschema.Draft202012Validator(contract_json_schema())
    base = yaml.safe_load((DATASETS / "tax.income" / "contract.yaml").read_text(encoding="utf-8"))
    good = {"type": RULE, "kwargs": {"column": "national_id", "dataset": "registry.residents"}}
    assert list(validator.iter_errors({**base, "expectations": [good]})) == []
    bad = {"type": RULE, "kwargs": {"column": "national_id", "dataset": "x/../y", "set": 1}}
    assert len(list(validator.iter_errors({**base, "expectations": [bad]}))) >= 2


def test_gx_export_keeps_the_rule_out_of_the_suite_gx_loads(tmp_path: Path) -> None:
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    from great_expectations.core import ExpectationSuite

    suite = gx_suite(load_contract(catalog(tmp_path, dataset="registry.residents")))
    assert RULE not in {e["type"] for e in suite["expectations"]}
    [own] = suite["meta"]["govbus"]["not_in_gx"]
    assert own["type"] == RULE and own["kwargs"]["dataset"] == "registry.residents"
    assert ExpectationSuite(**json.loads(json.dumps(suite))).name == "tax.income@1.0.0"


def test_diff_sees_a_new_reference_as_a_producer_break(tmp_path: Path) -> None:
    old = load_contract(DATASETS / "tax.income" / "contract.yaml")
    new = load_contract(catalog(tmp_path, dataset="registry.residents"))
    schema = load_schema(old.schema_path)
    changes = [c for c in diff_contracts(old, new, schema, schema) if RULE in c.message]
    assert [(c.side, c.breaking) for c in changes] == [("producer", True)]
