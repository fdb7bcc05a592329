"""The catalog in the portal: every role reads every dataset's metadata (`/api/catalog`, the
catalog and dataset pages) in the CLI's JSON shape; the exchanges stay with those who take part."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from exchange.views.catalog_entries import catalog_entry, catalog_json
from tests.portal.conftest import TOKENS, bearer

ROLES = list(TOKENS)  # admin, auditor and four agencies: owner, two subscribers, one unrelated
SUBSCRIPTIONS = ("benefits.tax-income", "housing.tax-income", "statistics.tax-income")


@pytest.mark.parametrize("who", ROLES)
def test_every_role_reads_every_datasets_metadata(client, who):
    listed = client.get("/api/catalog", headers=bearer(who))
    assert listed.status_code == 200
    [entry] = listed.json()
    assert entry == client.get("/api/catalog/tax.income", headers=bearer(who)).json()
    assert entry["owner"] == {"id": "tax", "name": "Tax Authority"}
    assert entry["subscribers"] == 3 and entry["consent_access"] is True
    types = {f["name"]: (f["type"], f["nullable"]) for f in entry["fields"]}
    assert types["gross_income"] == ("decimal(14,2)", False) and types["postal_code"] == ("string", True)
    assert "filing_status is one of SINGLE, JOINT, SEPARATE, HEAD_OF_HOUSEHOLD" in [
        r["text"] for r in entry["rules"]
    ]
    assert {b["statute"]: len(b["fields"]) for b in entry["legal_bases"]} == {"SBA-12": 10, "STAT-7": 6}
    assert entry["freshness"]["status"] == "fresh"
    assert not any(sub in listed.text for sub in SUBSCRIPTIONS), "the catalog names no subscription"


def test_the_api_answers_the_same_shape_as_the_command_line(client, seeded):
    bus = seeded.open()
    try:
        expected = catalog_json(catalog_entry(bus.catalog, "tax.income", engine=bus.engine))
    finally:
        bus.close()
    body = client.get("/api/catalog/tax.income", headers=bearer("registry"))
    assert body.json() == json.loads(expected)
    assert list(body.json()) == list(json.loads(expected))  # the keys in the same order


@pytest.mark.parametrize(
    ("query", "found"),
    [
        ("", 1),
        ("?owner=tax", 1),
        ("?owner=registry", 0),
        ("?owner=no-such-agency", 0),
        ("?tag=financial", 1),
        ("?tag=health", 0),
        ("?purpose=OFFICIAL_STATISTICS", 1),
        ("?purpose=SPYING", 0),
        ("?q=GROSS", 1),
        ("?q=assessed%20income", 0),  # the contract's purpose is not searched, the description is
        ("?q=filed%20and%20assessed", 1),
        ("?owner=tax&tag=financial&purpose=HOUSING_ALLOWANCE&q=tax", 1),
    ],
)
def test_the_api_filters(client, query, found):
    response = client.get(f"/api/catalog{query}", headers=bearer("registry"))
    assert response.status_code == 200 and len(response.json()) == found


def test_unknown_datasets_and_parameters_are_refused(client):
    assert client.get("/api/catalog/no.such", headers=bearer("registry")).status_code == 404
    assert client.get("/api/catalog?ownr=tax", headers=bearer("registry")).status_code == 422
    assert client.get("/api/catalog").status_code == 401
    paths = set(client.get("/openapi.json").json()["paths"])
    assert {"/api/catalog", "/api/catalog/{dataset_id}"} <= paths


def test_an_unrelated_agency_still_gets_nothing_of_the_exchanges(client, state_rows):
    runs = [row.run_id for row in state_rows(sa.text("SELECT run_id FROM runs"))]
    assert runs
    for run_id in runs:
        assert client.get(f"/api/runs/{run_id}", headers=bearer("registry")).status_code == 404
    for path in (
        "/api/datasets/tax.income",
        "/api/runs?dataset=tax.income",
        "/api/quarantine?dataset=tax.income",
    ):
        assert client.get(path, headers=bearer("registry")).status_code == 403
    assert client.get("/quarantine?dataset=tax.income", headers=bearer("registry")).status_code == 403
    assert client.get("/api/quarantine", headers=bearer("registry")).json() == []
    # a subscriber still sees no other subscription and no quarantine
    assert client.get("/api/quarantine?dataset=tax.income", headers=bearer("housing")).status_code == 403


def test_the_catalog_page_lists_every_dataset_with_filters_for_every_role(client):
    page = client.get("/catalog", headers=bearer("registry"))
    assert page.status_code == 200
    assert '/datasets/tax.income">tax.income</a>' in page.text and "Tax Authority" in page.text
    for name in ("owner", "tag", "purpose", "q"):
        assert f'name="{name}"' in page.text
    assert "1,323" not in page.text, "rows delivered are shown only to those who take part"
    assert not any(sub in page.text for sub in SUBSCRIPTIONS)
    assert "1,323" in client.get("/catalog", headers=bearer("tax")).text
    filtered = client.get("/catalog?owner=registry&tag=&purpose=&q=", headers=bearer("registry"))
    assert filtered.status_code == 200 and "No dataset matches." in filtered.text
    assert '<option value="registry" selected>' in filtered.text
    typo = client.get("/catalog?tag=secret", headers=bearer("registry"))
    assert typo.status_code == 200 and "no tag &#39;secret&#39; in the catalog" in typo.text


@pytest.mark.parametrize("who", ["registry", "housing", "admin"])
def test_the_dataset_page_shows_types_descriptions_rules_purposes_and_legal_bases(client, who):
    page = client.get("/datasets/tax.income", headers=bearer(who))
    assert page.status_code == 200
    for text in (
        "decimal(14,2)",
        "string?",
        "The filer&#39;s national identification number (11 digits).",
        "gross_income is between 0 and 100000000",
        "national_id matches ^[0-9]{11}$",
        "Producing official statistics; no decision is taken about any person.",
        "Official Statistics Act, section 7",
        "tax_year, municipality_code, filing_status, gross_income, taxable_income, tax_due",
        "<dt>Subscribers</dt><dd>3</dd>",
    ):
        assert text in page.text, text
    shown = [sub for sub in SUBSCRIPTIONS if sub in page.text]
    assert shown == {"registry": [], "housing": ["housing.tax-income"], "admin": list(SUBSCRIPTIONS)}[who]
