"""The citizen's report in each language the deployment declares (the sample: English, French).

Chosen with `govbus audit subject ID --format html --lang fr` or the portal's language
field; dates and numbers follow the language; a language not declared is refused.
"""

from __future__ import annotations

import re
import string
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from exchange.cli.main import app
from exchange.portal.citizen_text import LANGUAGES, chosen, declared_languages, language
from govbus.errors import BadConfiguration, BadInput
from tests.conftest import CATALOG as SAMPLE_CATALOG
from tests.portal.conftest import Seeded, bearer, client_for
from tests.portal.test_citizen_report import _check, _person, parse

NNBSP = "\u202f"


@pytest.fixture(scope="module")
def deployment(seeded_sqlite: Seeded, tmp_path_factory: pytest.TempPathFactory) -> Seeded:
    return seeded_sqlite.copy(tmp_path_factory.mktemp("citizen-lang") / "home")


@pytest.fixture
def env(deployment: Seeded, monkeypatch: pytest.MonkeyPatch) -> Seeded:
    settings = deployment.settings
    monkeypatch.setenv("GOVBUS_HOME", str(settings.home))
    monkeypatch.setenv("GOVBUS_CATALOG", str(settings.catalog_dir))
    monkeypatch.setenv("GOVBUS_STATE_URL", settings.state_url)
    return deployment


def test_dates_and_numbers_follow_the_language():
    en, fr = language("en"), language("fr")
    first = datetime(2026, 3, 1, tzinfo=UTC)
    assert en.day(first) == "1 March 2026" and fr.day(first) == "1er mars 2026"
    assert fr.day(datetime(2026, 8, 14, tzinfo=UTC)) == "14 août 2026"
    assert en.number(1234567) == "1,234,567" and fr.number(1234567) == f"1{NNBSP}234{NNBSP}567"
    assert fr.number(1234.5) == f"1{NNBSP}234,50"
    assert en.join(["A", "B", "C"]) == "A, B and C" and fr.join(["A", "B"]) == "A et B"


def test_every_language_has_every_text_with_the_same_placeholders():
    def names(text: str) -> set[str]:
        return {n for _, n, _, _ in string.Formatter().parse(text) if n}

    english = LANGUAGES["en"].texts
    for code, lang in LANGUAGES.items():
        assert set(lang.texts) == set(english), code
        assert {k: names(v) for k, v in lang.texts.items()} == {k: names(v) for k, v in english.items()}, code


def test_the_sample_declares_two_languages_and_others_are_refused(tmp_path: Path):
    assert declared_languages(SAMPLE_CATALOG) == ("en", "fr")
    assert declared_languages(tmp_path) == ("en",), "no file: English only"
    assert chosen(SAMPLE_CATALOG, None, where="--lang") == "en"
    with pytest.raises(BadInput, match="not offered in 'de'") as refused:
        chosen(SAMPLE_CATALOG, "de", where="--lang")
    assert "en, fr" in str(refused.value)
    (tmp_path / "languages.yaml").write_text("languages: [en, xx]\n")
    with pytest.raises(BadConfiguration, match="no report texts for xx"):
        declared_languages(tmp_path)
    (tmp_path / "languages.yaml").write_text("languages: [en,\n  - fr]\n")
    with pytest.raises(BadConfiguration, match="invalid YAML") as bad:
        declared_languages(tmp_path)
    assert "line 2" in str(bad.value)


def test_the_cli_writes_the_report_in_french(env, tmp_path):
    person = _person(env.settings.home)
    out = tmp_path / "rapport.html"
    result = CliRunner().invoke(
        app, ["audit", "subject", person, "--format", "html", "--lang", "fr", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    html = out.read_text(encoding="utf-8")
    page = parse(html)
    assert '<html lang="fr">' in html and "Qui a reçu vos données" in page.text
    assert "3 fois" in page.text and "Vous l’avez autorisé" in page.text
    assert "Une loi l’autorisait sans vous le demander" in page.text
    months = "janvier|février|mars|avril|mai|juin|juillet|août|septembre|octobre|novembre|décembre"
    assert re.search(rf"Le \d{{1,2}}(er)? ({months}) \d{{4}}, ", page.text)
    assert "Who received your data" not in page.text and "You allowed it" not in page.text
    assert person not in html


def test_the_cli_refuses_an_undeclared_language_and_lang_without_html(env):
    person = _person(env.settings.home)
    german = CliRunner().invoke(app, ["audit", "subject", person, "--format", "html", "--lang", "de"])
    assert german.exit_code != 0 and isinstance(german.exception, BadInput)
    assert "not offered in 'de'" in str(german.exception)
    listing = CliRunner().invoke(app, ["audit", "subject", person, "--format", "json", "--lang", "fr"])
    assert isinstance(listing.exception, BadInput) and "--format html" in str(listing.exception)


def test_the_portal_offers_the_declared_languages_and_serves_each(deployment):
    person = _person(deployment.settings.home)
    with client_for(deployment) as client:
        form = client.get("/subject", headers=bearer("auditor")).text
        french = client.post(
            "/subject/report", data={"national_id": person, "lang": "fr"}, headers=bearer("auditor")
        )
        english = client.post("/subject/report", data={"national_id": person}, headers=bearer("auditor"))
        german = client.post(
            "/subject/report", data={"national_id": person, "lang": "de"}, headers=bearer("auditor")
        )
    assert '<label for="lang">' in form and '<option value="fr" lang="fr">Français</option>' in form
    assert french.status_code == 200 and '<html lang="fr">' in french.text
    assert "Qui a reçu vos données" in french.text and person not in french.text
    _check(english.text, deployment, person)  # the default stays the English page
    assert german.status_code == 400 and "not offered" in german.text
