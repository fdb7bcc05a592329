"""Roles: every agency reads the catalog, an agency sees only its own corner of the exchanges;
nobody unauthenticated sees anything."""

from __future__ import annotations

import pytest

from tests.portal.conftest import TOKENS, bearer

API_PATHS = [
    "/api/me",
    "/api/datasets",
    "/api/datasets/tax.income",
    "/api/runs",
    "/api/runs/1",
    "/api/quarantine",
    "/api/ledger",
]
PAGES = ["/catalog", "/datasets/tax.income", "/runs", "/quarantine", "/ledger", "/subject"]


@pytest.mark.parametrize("path", API_PATHS)
def test_api_without_credentials_is_401_with_a_bearer_challenge(client, path):
    response = client.get(path)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_a_wrong_bearer_token_is_refused_even_with_a_valid_session(fresh_client):
    client = fresh_client
    wrong = {"Authorization": "Bearer not-a-configured-token"}
    assert client.get("/api/me", headers=wrong).status_code == 401
    assert client.post("/login", data={"token": TOKENS["admin"]}).status_code == 303
    assert client.get("/api/me").json() == {"role": "admin", "agency": None}
    response = client.get("/api/me", headers={"Authorization": "Bearer nope-nope-nope-nope"})
    assert response.status_code == 401


@pytest.mark.parametrize("path", PAGES)
def test_pages_without_a_session_send_to_the_login_form(client, path):
    response = client.get(path)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login?next=")
    form = client.get(response.headers["location"])
    assert form.status_code == 200 and 'name="token"' in form.text


def test_agency_sees_only_deliveries_to_itself_in_runs(client):
    runs = client.get("/api/runs", headers=bearer("statistics")).json()
    assert [(r["step"], r["subscription"]) for r in runs] == [("deliver", "statistics.tax-income")]
    others = client.get("/api/runs", headers=bearer("admin")).json()
    foreign = [r["run_id"] for r in others if r["subscription"] != "statistics.tax-income"]
    assert foreign
    for run_id in foreign:  # the stage, the commit and other agencies' deliveries
        assert client.get(f"/api/runs/{run_id}", headers=bearer("statistics")).status_code == 404
    page = client.get("/runs", headers=bearer("statistics")).text
    assert "statistics.tax-income" in page
    assert "housing.tax-income" not in page and "benefits.tax-income" not in page


def test_subscriber_agency_cannot_read_the_owners_quarantine(client):
    assert client.get("/api/quarantine", headers=bearer("statistics")).json() == []
    assert client.get("/api/quarantine?dataset=tax.income", headers=bearer("statistics")).status_code == 403
    page = client.get("/quarantine?dataset=tax.income", headers=bearer("statistics"))
    assert page.status_code == 403 and "expect_column" not in page.text


def test_owner_agency_sees_its_datasets_runs_and_quarantine(client):
    runs = client.get("/api/runs", headers=bearer("tax")).json()
    assert len(runs) == len(client.get("/api/runs", headers=bearer("admin")).json())
    [q] = client.get("/api/quarantine", headers=bearer("tax")).json()
    assert q["rows"] == 6
    [d] = client.get("/api/datasets", headers=bearer("tax")).json()
    assert len(d["subscribers"]) == 3


def test_subscriber_sees_the_dataset_but_only_its_own_subscription(client):
    [d] = client.get("/api/datasets", headers=bearer("housing")).json()
    assert [s["subscription"] for s in d["subscribers"]] == ["housing.tax-income"]
    detail = client.get("/api/datasets/tax.income", headers=bearer("housing")).json()
    assert [s["agency"] for s in detail["subscribers"]] == ["housing"]
    assert {r["subscription"] for r in detail["recent_runs"]} == {"housing.tax-income"}
    page = client.get("/datasets/tax.income", headers=bearer("housing")).text
    assert "statistics.tax-income" not in page and "by reason" not in page


def test_unrelated_agency_reads_the_catalog_entry_but_nothing_of_its_exchanges(client):
    assert client.get("/api/datasets", headers=bearer("registry")).json() == []
    assert client.get("/api/runs", headers=bearer("registry")).json() == []
    for path in ("/api/datasets/", "/api/runs?dataset=", "/api/quarantine?dataset="):
        # the dataset is public in the catalog, what happens to it is not: 403; unknown: 404
        assert client.get(path + "tax.income", headers=bearer("registry")).status_code == 403
        assert client.get(path + "no.such", headers=bearer("registry")).status_code == 404
    page = client.get("/datasets/tax.income", headers=bearer("registry"))
    assert page.status_code == 200
    assert "gross_income is between 0 and 100000000" in page.text and "SBA-12" in page.text
    for operational in ("benefits.tax-income", "housing.tax-income", "statistics.tax-income"):
        assert operational not in page.text
    assert "Recent runs" not in page.text and "Rows staged" not in page.text and "by reason" not in page.text
    assert client.get("/datasets/no.such", headers=bearer("registry")).status_code == 404


@pytest.mark.parametrize("who", ["tax", "statistics"])
def test_agencies_cannot_read_the_ledger(client, who):
    assert client.get("/api/ledger", headers=bearer(who)).status_code == 403
    assert client.get("/ledger", headers=bearer(who)).status_code == 403


def test_pages_render_the_real_numbers(client):
    catalog = client.get("/catalog", headers=bearer("admin")).text
    assert "tax.income" in catalog and "Tax Authority" in catalog and "1,323" in catalog  # 594+135+594
    dataset = client.get("/datasets/tax.income", headers=bearer("admin")).text
    assert "594" in dataset and "135" in dataset and "P2D" in dataset
    runs = client.get("/runs", headers=bearer("admin")).text
    assert runs.count('class="badge ok"') == 5 and "600" in runs
    quarantine = client.get("/quarantine", headers=bearer("admin")).text
    assert "6 row(s) quarantined" in quarantine
    ledger = client.get("/ledger", headers=bearer("auditor")).text
    assert "The ledger is intact: 84 entries" in ledger  # consents, 6 deliveries, 3 activations, the catalog


def test_security_headers_and_no_caching(client):
    response = client.get("/catalog", headers=bearer("admin"))
    assert response.headers["cache-control"] == "no-store"
    assert "script-src 'none'" in response.headers["content-security-policy"]
    assert response.headers["x-frame-options"] == "DENY"


def test_home_leads_to_the_catalog_and_the_stylesheet_is_cacheable(client):
    assert client.get("/").headers["location"] == "/catalog"
    css = client.get("/static/portal.css")
    assert css.status_code == 200 and css.headers["cache-control"] == "public, max-age=3600"


def test_error_pages_keep_the_callers_menu(client):
    page = client.get("/quarantine?dataset=tax.income", headers=bearer("statistics"))
    assert page.status_code == 403 and "Signed in as <strong>agency statistics</strong>" in page.text
