"""`govbus contract lint | diff | export-gx` and the functions behind them."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from contracts import diff_contracts, gx_suite, load_contract
from exchange.cli.contract import contract_app
from schemas import load_schema

SAMPLE = Path(__file__).parents[2] / "catalog/datasets/tax.income"
runner = CliRunner(env={"COLUMNS": "240"})


def _dataset(
    tmp_path: Path,
    name: str,
    change: Callable[[dict[str, Any]], Any] | None = None,
    schema_change: Callable[[dict[str, Any]], Any] | None = None,
) -> Path:
    """A copy of the sample dataset folder, its contract and v1 schema changed."""
    folder = tmp_path / name / "tax.income"
    shutil.copytree(SAMPLE, folder)
    contract = yaml.safe_load((folder / "contract.yaml").read_text(encoding="utf-8"))
    if change:
        change(contract)
    (folder / "contract.yaml").write_text(yaml.safe_dump(contract, sort_keys=False), encoding="utf-8")
    if schema_change:
        schema = json.loads((folder / "schema/v1.avsc").read_text(encoding="utf-8"))
        schema_change(schema)
        (folder / "schema/v1.avsc").write_text(json.dumps(schema, indent=2), encoding="utf-8")
    return folder


def _rule(kind: str, column: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    return lambda doc: next(
        e["kwargs"] for e in doc["expectations"] if e["type"] == kind and e["kwargs"].get("column") == column
    )


def test_lint_passes_the_sample_catalog() -> None:
    result = runner.invoke(contract_app, ["lint", str(SAMPLE.parent)])
    assert result.exit_code == 0, result.output
    contracts = len(list(SAMPLE.parent.glob("*/contract.yaml")))
    assert contracts >= 2 and f"{contracts} contract(s) clean" in result.output


def test_lint_reports_every_problem_with_file_line_and_field(tmp_path: Path) -> None:
    def break_it(doc: dict[str, Any]) -> None:
        doc["fields"]["tax_year"]["classification"] = "secret"
        doc["compatibility"] = "SIDEWAYS"
        doc["expectations"].append({"type": "expect_column_values_to_be_pretty", "kwargs": {"column": "x"}})

    folder = _dataset(tmp_path, "bad", break_it)
    result = runner.invoke(contract_app, ["lint", str(folder / "contract.yaml")])
    assert result.exit_code == 1
    text = result.output.replace("\n", " ")
    file = str(folder / "contract.yaml")
    assert f"{file}:" in text
    for field in ("fields.tax_year.classification", "compatibility", "expectations[8].type"):
        assert f": {field}: " in text, field
    assert "3 problem(s)" in text


def test_lint_refuses_a_new_schema_version_that_breaks_the_mode(tmp_path: Path) -> None:
    folder = _dataset(tmp_path, "evolve", lambda doc: doc.update(schema="schema/v2.avsc"))
    schema = json.loads((folder / "schema/v1.avsc").read_text(encoding="utf-8"))
    schema["fields"].append({"name": "region", "type": "string"})  # no default: BACKWARD breaks
    (folder / "schema/v2.avsc").write_text(json.dumps(schema), encoding="utf-8")
    contract = yaml.safe_load((folder / "contract.yaml").read_text(encoding="utf-8"))
    contract["fields"]["region"] = {"classification": "internal"}
    (folder / "contract.yaml").write_text(yaml.safe_dump(contract, sort_keys=False), encoding="utf-8")

    result = runner.invoke(contract_app, ["lint", str(folder)])
    assert result.exit_code == 1
    text = " ".join(result.output.split())
    assert "v2.avsc: region: breaks BACKWARD: v2 cannot read data written with v1" in text

    schema["fields"][-1]["default"] = "unknown"  # with a default, v2 can read v1's data
    (folder / "schema/v2.avsc").write_text(json.dumps(schema), encoding="utf-8")
    assert runner.invoke(contract_app, ["lint", str(folder)]).exit_code == 0


def _changes(tmp_path: Path, change: Callable[[dict[str, Any]], Any], schema_change: Any = None) -> Any:
    old = _dataset(tmp_path, "old")
    new = _dataset(tmp_path, "new", change, schema_change)
    old_c, new_c = load_contract(old / "contract.yaml"), load_contract(new / "contract.yaml")
    changes = diff_contracts(
        old_c, new_c, load_schema(old / "schema/v1.avsc"), load_schema(new / "schema/v1.avsc")
    )
    return {(c.side, c.kind, c.field, c.breaking) for c in changes}, changes


def test_diff_sees_tightened_and_loosened_rules_from_each_side(tmp_path: Path) -> None:
    def change(doc: dict[str, Any]) -> None:
        _rule("expect_column_values_to_be_between", "tax_year")(doc).update(min_value=2010)
        _rule("expect_column_values_to_be_between", "gross_income")(doc).update(max_value=10**9)
        _rule("expect_column_values_to_be_in_set", "filing_status")(doc)["value_set"].remove("SEPARATE")
        doc["expectations"].append(
            {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "tax_due"}}
        )
        doc["expectations"] = [
            e for e in doc["expectations"] if e["type"] != "expect_column_values_to_be_unique"
        ]
        _rule("expect_column_values_to_match_regex", "municipality_code")(doc).update(regex="^[0-9]{5}$")

    found, _ = _changes(tmp_path, change)
    assert found == {
        ("producer", "tightened_rule", "tax_year", True),
        ("consumer", "loosened_rule", "gross_income", True),
        ("producer", "tightened_rule", "filing_status", True),
        ("producer", "tightened_rule", "tax_due", True),
        ("consumer", "loosened_rule", "return_id", True),
        ("both", "changed_rule", "municipality_code", True),
        ("both", "version", "version", True),  # breaking, but still 1.x
    }


def test_diff_sees_removed_renamed_reclassified_key_and_schema_changes(tmp_path: Path) -> None:
    def change(doc: dict[str, Any]) -> None:
        doc["version"] = "2.0.0"
        doc["fields"]["zip"] = doc["fields"].pop("postal_code")
        del doc["fields"]["tax_due"]
        doc["fields"]["municipality_code"]["classification"] = "personal"
        doc["fields"]["filing_status"]["classification"] = "internal"
        doc["key_fields"] = ["return_id", "tax_year"]
        doc["fields"]["region"] = {"classification": "internal"}
        doc["expectations"] = [e for e in doc["expectations"] if e["kwargs"].get("column") != "tax_due"]

    def schema_change(schema: dict[str, Any]) -> None:
        fields = schema["fields"]
        postal = next(f for f in fields if f["name"] == "postal_code")
        postal.update(name="zip", aliases=["postal_code"])
        fields.remove(next(f for f in fields if f["name"] == "tax_due"))
        next(f for f in fields if f["name"] == "tax_year")["type"] = "long"  # old readers cannot read it
        fields.append({"name": "region", "type": "string"})  # new, required

    found, changes = _changes(tmp_path, change, schema_change)
    assert ("consumer", "renamed_field", "postal_code", True) in found
    assert ("consumer", "removed_field", "tax_due", True) in found
    assert ("consumer", "reclassified", "municipality_code", True) in found
    assert ("-", "reclassified", "filing_status", False) in found
    assert ("both", "key_fields", "key_fields", True) in found
    assert ("consumer", "schema:type_mismatch", "tax_year", True) in found
    assert ("producer", "schema:new_required_field", "region", True) in found
    assert not any(c.kind == "version" for c in changes)  # the major version was raised
    # a removed field is reported once, not again as a schema problem
    assert sum(1 for c in changes if c.field in ("tax_due", "postal_code")) == 2


def test_diff_command_prints_a_table_and_exits_by_breakage(tmp_path: Path) -> None:
    old = _dataset(tmp_path, "old")
    same = runner.invoke(contract_app, ["diff", str(old), str(old / "contract.yaml")])
    assert same.exit_code == 0 and "no change" in same.output

    def additive(doc: dict[str, Any]) -> None:
        doc["fields"]["tax_year"]["tags"] = ["period"]

    tagged = _dataset(tmp_path, "tagged", additive)
    result = runner.invoke(contract_app, ["diff", str(old), str(tagged)])
    assert result.exit_code == 0 and "no breaking change" in result.output

    narrowed = _dataset(
        tmp_path,
        "narrowed",
        lambda doc: _rule("expect_column_values_to_be_between", "tax_year")(doc).update(max_value=2020),
    )
    result = runner.invoke(contract_app, ["diff", str(old), str(narrowed)])
    assert result.exit_code == 1
    assert "tightened_rule" in result.output and "max_value 2030 → 2020" in result.output


@pytest.fixture(scope="module")
def gx_suite_class() -> Any:
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    from great_expectations.core import ExpectationSuite

    return ExpectationSuite


def test_export_gx_writes_a_suite_gx_itself_loads(tmp_path: Path, gx_suite_class: Any) -> None:
    out = tmp_path / "suite.json"
    result = runner.invoke(contract_app, ["export-gx", str(SAMPLE / "contract.yaml"), "-o", str(out)])
    assert result.exit_code == 0, result.output
    document = json.loads(out.read_text(encoding="utf-8"))
    suite = gx_suite_class(**document)
    contract = load_contract(SAMPLE / "contract.yaml")
    loaded = suite.to_json_dict()
    assert loaded["name"] == "tax.income@1.0.0"
    got = [(e["type"], e["kwargs"]) for e in loaded["expectations"]]
    wanted = [(e.type, dict(e.kwargs)) for e in contract.expectations]
    wanted.append(("expect_table_row_count_to_be_between", {"min_value": 0}))
    assert got == wanted
    assert loaded["expectations"][0]["meta"]["govbus"]["line"] == contract.expectations[0].line
    assert document == gx_suite(contract)


def test_export_gx_by_dataset_id_to_stdout(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOVBUS_CATALOG", str(SAMPLE.parents[1]))
    result = runner.invoke(contract_app, ["export-gx", "tax.income"])
    assert result.exit_code == 0
    assert json.loads(result.output)["meta"]["govbus"]["contract"] == "tax.income"
    missing = runner.invoke(contract_app, ["export-gx", "no.such"])
    assert missing.exit_code != 0
