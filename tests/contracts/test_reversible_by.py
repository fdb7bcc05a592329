"""`reversible_by` on a contract field: lint, the JSON Schema, `contract diff`.

That each named agency exists and publishes a delivery key is the catalog's check
(tests/exchange/run/test_delivery_encryption.py); here, the contract file alone.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from contracts import contract_json_schema, diff_contracts, lint_contract, load_contract
from schemas import load_schema

DATASETS = Path(__file__).parents[2] / "catalog" / "datasets"


def contract(tmp_path: Path, value: Any) -> Path:
    """tax.income with `municipality_code: reversible_by: value`."""
    shutil.copytree(DATASETS / "tax.income", tmp_path / "tax.income")
    path = tmp_path / "tax.income" / "contract.yaml"
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    document["fields"]["municipality_code"]["reversible_by"] = value
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return path


def test_a_reversible_field_loads_with_its_recipients(tmp_path: Path) -> None:
    loaded = load_contract(contract(tmp_path, ["statistics", "housing"]))
    assert loaded.fields["municipality_code"].reversible_by == ("statistics", "housing")
    assert loaded.fields["tax_year"].reversible_by == ()
    assert loaded.line_of("fields.municipality_code.reversible_by") is not None


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ([], "must name at least one agency"),
        (["statistics", "statistics"], "names an agency twice"),
        (["Statistics Office"], "'Statistics Office' is not an agency id"),
        ("statistics", "must be a list"),
    ],
)
def test_a_bad_reversible_by_is_named_with_line_and_field(tmp_path: Path, value: Any, message: str) -> None:
    path = contract(tmp_path, value)
    problems = lint_contract(path)
    assert problems, value
    [problem] = problems
    line = next(n for n, t in enumerate(path.read_text().splitlines(), 1) if "reversible_by" in t)
    assert problem.field == "fields.municipality_code.reversible_by" and problem.line in (line, line + 1)
    assert message in problem.message
    # The published JSON Schema refuses the same file.
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert list(jsonschema.Draft202012Validator(contract_json_schema()).iter_errors(document))


def test_the_json_schema_accepts_a_reversible_field(tmp_path: Path) -> None:
    document = yaml.safe_load(contract(tmp_path, ["statistics"]).read_text(encoding="utf-8"))
    assert list(jsonschema.Draft202012Validator(contract_json_schema()).iter_errors(document)) == []


def test_diff_sees_a_change_of_reversible_by_as_a_consumer_break(tmp_path: Path) -> None:
    old = load_contract(DATASETS / "tax.income" / "contract.yaml")
    new = load_contract(contract(tmp_path, ["statistics"]))
    schema = load_schema(old.schema_path)
    [change] = [c for c in diff_contracts(old, new, schema, schema) if c.kind == "reversible_by"]
    assert (change.side, change.field, change.breaking) == ("consumer", "municipality_code", True)
    assert "['statistics']" in change.message
