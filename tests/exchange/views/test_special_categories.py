"""Special categories in words: the catalog (CLI, JSON, CSV) and the marker's languages.

A field whose tags make it special category (GDPR art. 9, art. 10 for criminal records)
carries an explicit marker, so a reader need not know which tags count.
"""

from __future__ import annotations

import csv
import io
import json

from typer.testing import CliRunner

from exchange.catalog import load_catalog
from exchange.cli.main import app
from exchange.views.catalog_entries import catalog_csv, catalog_entry, catalog_json
from exchange.views.special_categories import marker, special_category
from tests.conftest import CATALOG

SAMPLE = load_catalog(CATALOG)


def test_the_marker_names_the_article_and_the_category_in_words():
    assert marker(["health"]) == "special category — GDPR art. 9: health"
    assert (
        marker(["criminal-offences", "health"])
        == "special category — GDPR art. 9: health; art. 10: criminal convictions and offences"
    )
    assert marker(["health"], "fr") == "catégorie particulière — RGPD art. 9\u00a0: santé"
    assert marker([]) == ""


def test_short_tags_count_as_their_category_and_other_tags_do_not():
    found = special_category(["criminal-records", "quasi-identifier"])
    assert found is not None
    assert (found.categories, found.gdpr_articles) == (("criminal-offences",), ("10",))
    assert found.text == "special category — GDPR art. 10: criminal convictions and offences"
    both = special_category(["ethnicity", "religion"])
    assert both is not None and both.gdpr_articles == ("9",)
    assert both.text == "special category — GDPR art. 9: racial or ethnic origin, religious beliefs"
    assert special_category(["direct-identifier", "financial"]) is None


def test_the_catalog_marks_special_category_fields_whatever_their_classification():
    fields = {f.name: f for f in catalog_entry(SAMPLE, "health.disability").fields}
    # disability_degree is classified `personal`, diagnosis_group `sensitive`: both are health data.
    for name in ("disability_degree", "diagnosis_group"):
        found = fields[name].special_category
        assert found is not None, name
        assert (found.categories, found.gdpr_articles) == (("health",), ("9",))
        assert found.text == "special category — GDPR art. 9: health"
    assert fields["national_id"].special_category is None
    assert all(f.special_category is None for f in catalog_entry(SAMPLE, "tax.income").fields)


def test_json_and_csv_carry_the_marker():
    entry = catalog_entry(SAMPLE, "health.disability")
    shaped = {f["name"]: f for f in json.loads(catalog_json(entry))["fields"]}
    assert shaped["diagnosis_group"]["special_category"] == {
        "categories": ["health"],
        "gdpr_articles": ["9"],
        "text": "special category — GDPR art. 9: health",
    }
    assert shaped["board_code"]["special_category"] is None
    (row,) = csv.DictReader(io.StringIO(catalog_csv([entry])))
    assert row["special_categories"] == "disability_degree=health;diagnosis_group=health"


def test_catalog_show_prints_the_marker_in_words(monkeypatch, tmp_path):
    monkeypatch.setenv("GOVBUS_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("GOVBUS_CATALOG", str(CATALOG))
    monkeypatch.setenv("COLUMNS", "240")
    shown = CliRunner().invoke(app, ["catalog", "show", "health.disability"])
    assert shown.exit_code == 0, shown.output
    assert shown.output.count("special category — GDPR art. 9: health") == 2
    listed = CliRunner().invoke(app, ["catalog", "show", "health.disability", "--format", "json"])
    assert json.loads(listed.output)["fields"][3]["special_category"]["gdpr_articles"] == ["9"]
