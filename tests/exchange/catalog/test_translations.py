"""Translations of the catalog's citizen-visible texts (catalog/translations/<code>.yaml).

The sample's French file covers every text a citizen reads; a missing one falls back to
the default language, marked; a wrong key or text is refused naming file, line and key.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from exchange.catalog import load_catalog
from exchange.catalog.translations import catalog_texts
from govbus.errors import BadConfiguration
from tests.conftest import CATALOG

SAMPLE = load_catalog(CATALOG)


def test_the_sample_translates_every_citizen_visible_text_into_french():
    fr = catalog_texts(SAMPLE, "fr", "en")
    assert set(fr.agencies) == set(SAMPLE.agencies)
    assert set(fr.purposes) == set(SAMPLE.purposes)
    assert set(fr.statutes) == set(SAMPLE.statutes)
    assert set(fr.datasets) == set(SAMPLE.datasets)
    for dataset_id, dataset in SAMPLE.datasets.items():
        assert {name for d, name in fr.fields if d == dataset_id} == set(dataset.contract.fields), dataset_id
    tax = fr.agency("tax", "Tax Authority")
    assert (tax.text, tax.translated) == ("l’Administration fiscale", True)
    assert fr.field_label("tax.income", "gross_income", "gross income").text == "revenu brut"


def test_the_default_language_is_the_catalog_own_and_a_missing_text_falls_back_marked(tmp_path: Path):
    en = catalog_texts(SAMPLE, "en", "en")
    assert en.agency("tax", "Tax Authority").translated  # the catalog's own words
    root = tmp_path / "catalog"
    shutil.copytree(CATALOG, root)
    (root / "translations" / "fr.yaml").write_text(
        "agencies:\n  tax: l’Administration fiscale\n", encoding="utf-8"
    )
    fr = catalog_texts(load_catalog(root), "fr", "en")
    assert fr.agency("tax", "Tax Authority").translated
    housing = fr.agency("housing", "Housing Agency")
    assert (housing.text, housing.translated) == ("Housing Agency", False)
    (root / "translations" / "fr.yaml").unlink()
    assert not catalog_texts(load_catalog(root), "fr", "en").dataset("tax.income", "x").translated


@pytest.mark.parametrize(
    ("text", "line", "named"),
    [
        ("agencies:\n  tax: Fisc\n  taxes: Impôts\n", 3, "agencies.taxes"),
        ("purposes:\n  HOUSING_ALLOWANCE: |\n    deux\n    lignes\n", 2, "purposes.HOUSING_ALLOWANCE"),
        (
            "datasets:\n  tax.income:\n    fields:\n      gross_incme: revenu brut\n",
            4,
            "datasets.tax.income.fields.gross_incme",
        ),
        ("datasets:\n  tax.income:\n    title: Impôts\n", 3, "datasets.tax.income"),
        ("datasets:\n  tax.incom:\n    description: Impôts\n", 3, "datasets.tax.incom"),
        ("statutes:\n  SBA-12: 12\n", 2, "statutes.SBA-12"),
        ("agences:\n  tax: Fisc\n", 2, "agences"),
    ],
)
def test_a_wrong_key_or_text_is_refused_naming_file_line_and_key(
    tmp_path: Path, text: str, line: int, named: str
):
    root = tmp_path / "catalog"
    shutil.copytree(CATALOG, root)
    path = root / "translations" / "fr.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(BadConfiguration) as refused:
        catalog_texts(load_catalog(root), "fr", "en")
    message = str(refused.value)
    assert f"{path}:{line}" in message and named in message
    assert "agencie " not in message


def test_govbus_check_refuses_a_bad_translations_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from typer.testing import CliRunner

    from exchange.cli.main import app

    root = tmp_path / "catalog"
    shutil.copytree(CATALOG, root)
    monkeypatch.setenv("GOVBUS_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("GOVBUS_CATALOG", str(root))
    assert CliRunner().invoke(app, ["check"]).exit_code == 0
    path = root / "translations" / "fr.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("\n  tax: ", "\n  taxes: "), encoding="utf-8")
    refused = CliRunner().invoke(app, ["check"])
    assert refused.exit_code == 1
    assert f"{path}:8: agencies.taxes: the catalog has no agency 'taxes'" in refused.output.replace("\n", "")
