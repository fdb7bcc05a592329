"""Special categories by tag whatever the classification; warnings where the two disagree; data_life."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import contracts
from contracts import FieldSpec, lint_contract, load_contract, parse_data_life, tag_warnings

SAMPLE = Path(__file__).parents[2] / "catalog" / "datasets"


def test_a_special_category_tag_makes_the_field_special_whatever_its_classification() -> None:
    for classification in ("public", "internal", "personal", "sensitive"):
        assert FieldSpec(classification, ("health",)).special_category
    assert FieldSpec("personal", ("religion",)).special_category  # a short name counts too
    assert not FieldSpec("sensitive", ("financial",)).special_category
    assert contracts.special_categories(["criminal-records", "health", "financial"]) == (
        "criminal-offences",
        "health",
    )
    health = load_contract(SAMPLE / "health.disability" / "contract.yaml")
    assert health.special_category_fields() == ("disability_degree", "diagnosis_group")


def test_the_one_definition_is_the_one_approvals_use() -> None:
    from exchange.subscriptions import decisions

    assert decisions.SPECIAL_CATEGORY_TAGS is contracts.SPECIAL_CATEGORY_TAGS
    assert {"health", "genetic", "biometric", "ethnic-origin", "trade-union-membership"} <= set(
        contracts.SPECIAL_CATEGORY_TAGS
    )


def test_warnings_name_each_field_whose_classification_contradicts_its_tags(tmp_path: Path) -> None:
    sample = load_contract(SAMPLE / "health.disability" / "contract.yaml")
    (warning,) = tag_warnings(sample)
    assert warning.field == "fields.disability_degree" and warning.line == 26
    assert "tagged health" in warning.message and "understates" in warning.message
    folder = tmp_path / "tax.income"
    shutil.copytree(SAMPLE / "tax.income", folder)
    path = folder / "contract.yaml"
    text = path.read_text()
    text = text.replace(
        "  tax_year: {classification: internal, tags: [quasi-identifier]}",
        "  tax_year: {classification: internal, tags: [ethnicity]}",
    )
    text = text.replace(
        "  national_id: {classification: personal, tags: [direct-identifier]}",
        "  national_id: {classification: public, tags: [direct-identifier]}",
    )
    path.write_text(text)
    assert lint_contract(path) == []  # warnings, not errors
    found = {w.field: w.message for w in tag_warnings(load_contract(path))}
    assert "contradicts" in found["fields.tax_year"] and "ethnic-origin" in found["fields.tax_year"]
    assert "classify it personal" in found["fields.national_id"]


def test_data_life_is_a_retention_period(tmp_path: Path) -> None:
    assert load_contract(SAMPLE / "tax.income" / "contract.yaml").data_life == "P10Y"
    assert parse_data_life("P2Y6M").years == 2 and parse_data_life("P90D").days == 90
    with pytest.raises(ValueError, match="retention period"):
        parse_data_life("PT6H")
    folder = tmp_path / "tax.income"
    shutil.copytree(SAMPLE / "tax.income", folder)
    path = folder / "contract.yaml"
    path.write_text(path.read_text().replace("data_life: P10Y", "data_life: ten years"))
    (problem,) = lint_contract(path)
    assert problem.field == "data_life" and "P7Y" in problem.message
