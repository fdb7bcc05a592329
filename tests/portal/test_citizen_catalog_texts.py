"""The citizen's report in French shows the catalog's texts in French, and special categories.

The full sample runs (tax returns and the Health Ministry's assessments, read from its
REST API). A person whose assessment Benefits received reads, in French, the Ministry's
and the Agency's French names, the dataset's and purpose's French descriptions, the
French field labels, and that the degree of disability is health data (GDPR art. 9);
in English the same marker is in English. With a translation removed from the catalog's
French file, the English text shows instead, marked "(non traduit)".
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from exchange import Bus
from exchange.cli.main import app
from exchange.demo import deployment as demo
from exchange.demo.health_api import TOKEN_ENV, URL_ENV, serving
from tests.conftest import CATALOG
from tests.e2e.helpers import sql_rows
from tests.portal.test_citizen_report import parse


@pytest.fixture
def assessed(govbus_home: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The sample run once; a person whose disability assessment Benefits received."""
    monkeypatch.delenv(URL_ENV, raising=False)
    monkeypatch.delenv(TOKEN_ENV, raising=False)
    bus = Bus.open()
    try:
        demo.seed(bus, rows=400)
        with serving(bus):
            results = bus.run(["tax.income", "health.disability"])
        assert all(r.ok for r in results), [r.failures for r in results]
        rows = sql_rows(bus.settings.agencies_dir / "benefits" / "benefits.db", "disability")
    finally:
        bus.close()
    assert rows
    return rows[0]["national_id"]


def _report(person: str, lang: str, out: Path) -> str:
    result = CliRunner().invoke(
        app, ["audit", "subject", person, "--format", "html", "--lang", lang, "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    return parse(out.read_text(encoding="utf-8")).text


def test_the_french_report_shows_the_catalog_in_french_and_the_special_category(assessed, tmp_path):
    text = _report(assessed, "fr", tmp_path / "fr.html")
    assert "le ministère de la Santé a transmis à l’Agence des prestations sociales" in text
    assert "Évaluations du handicap par les commissions médicales du ministère" in text
    assert "Décider si une personne a droit à une prestation sociale" in text
    assert "taux d’incapacité" in text and "date de l’évaluation" in text
    assert "Données spécialement protégées" in text
    assert "taux d’incapacité (catégorie particulière — RGPD art. 9\u00a0: santé)" in text
    assert "Disability assessments" not in text and "(non traduit)" not in text
    english = _report(assessed, "en", tmp_path / "en.html")
    assert "Disability assessments by the Ministry's medical boards" in english
    assert "(special category — GDPR art. 9: health)" in english and "Specially protected data" in english
    assert "(not translated)" not in english


def test_a_missing_translation_falls_back_to_english_marked(assessed, tmp_path, monkeypatch):
    catalog = tmp_path / "catalog"
    shutil.copytree(CATALOG, catalog)
    path = catalog / "translations" / "fr.yaml"
    texts = yaml.safe_load(path.read_text(encoding="utf-8"))
    del texts["datasets"]["health.disability"]["description"]
    del texts["agencies"]["benefits"]
    path.write_text(yaml.safe_dump(texts, allow_unicode=True), encoding="utf-8")
    monkeypatch.setenv("GOVBUS_CATALOG", str(catalog))
    text = _report(assessed, "fr", tmp_path / "fr.html")
    assert (
        "Disability assessments by the Ministry's medical boards, one row per assessment (non traduit)"
        in text
    )
    assert "Social Benefits Agency (non traduit)" in text
    assert "le ministère de la Santé" in text  # what is translated stays French
