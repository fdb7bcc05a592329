"""Subject search: auditors only, and the typed id goes nowhere but the auditor's own form."""

from __future__ import annotations

import logging

import pytest
import sqlalchemy as sa

from audit import subject_sets
from tests.portal.conftest import TOKENS, bearer, client_for

PERSON = "48213376590"  # typed by the auditor; the demo's ids are random 11-digit numbers


def test_auditor_searching_an_unknown_person_gets_an_empty_report_and_no_echo_of_the_id(client):
    response = client.post("/api/subjects/search", json={"national_id": PERSON}, headers=bearer("auditor"))
    assert response.status_code == 200
    assert response.json() == {"index_available": True, "notice": None, "deliveries": []}
    assert PERSON not in response.text


@pytest.mark.parametrize("who", ["admin", "tax", "statistics", "housing", "registry"])
def test_nobody_but_an_auditor_may_search(client, who):
    api = client.post("/api/subjects/search", json={"national_id": PERSON}, headers=bearer(who))
    assert api.status_code == 403 and PERSON not in api.text
    assert client.get("/subject", headers=bearer(who)).status_code == 403
    page = client.post("/subject", data={"national_id": PERSON}, headers=bearer(who))
    assert page.status_code == 403 and PERSON not in page.text


def test_unauthenticated_search_is_refused(client):
    assert client.post("/api/subjects/search", json={"national_id": PERSON}).status_code == 401
    page = client.post("/subject", data={"national_id": PERSON})
    assert page.status_code == 303 and PERSON not in page.headers["location"]


def test_only_auditors_see_the_search_in_the_menu(client):
    assert "Subject search" in client.get("/catalog", headers=bearer("auditor")).text
    for who in ("admin", "tax"):
        assert "Subject search" not in client.get("/catalog", headers=bearer(who)).text


def test_the_page_never_shows_the_id_back_and_logs_nothing(
    fresh_client, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
):
    fresh_client.post("/login", data={"token": TOKENS["auditor"]})
    with caplog.at_level(logging.DEBUG):
        page = fresh_client.post("/subject", data={"national_id": f"  {PERSON} "})
        api = fresh_client.post("/api/subjects/search", json={"national_id": PERSON})
    assert page.status_code == 200 and api.status_code == 200
    assert page.text.count(PERSON) == 0  # not even in its own form field
    assert f"******{PERSON[-4:]}" in page.text and 'name="national_id" value=""' in page.text
    assert "delivery of this person" in page.text
    assert page.headers["cache-control"] == "no-store"
    out, err = capfd.readouterr()
    assert PERSON not in caplog.text and PERSON not in out and PERSON not in err


def test_a_malformed_id_is_refused_without_showing_it_back(fresh_client):
    fresh_client.post("/login", data={"token": TOKENS["auditor"]})
    typed = "4821<script>3376590"
    page = fresh_client.post("/subject", data={"national_id": typed})
    assert page.status_code == 400 and "not a national id" in page.text
    assert "4821" not in page.text and 'value=""' in page.text
    api = fresh_client.post("/api/subjects/search", json={"national_id": typed})
    assert api.status_code == 422 and "4821" not in api.text  # against the documented pattern


def test_the_report_lists_each_delivery_of_a_real_subject_from_its_ledger_entry(seeded_sqlite, tmp_path):
    copy = seeded_sqlite.copy(tmp_path / "home")
    bus = copy.open()
    try:
        housing = sa.create_engine(f"sqlite:///{copy.settings.home / 'agencies' / 'housing' / 'housing.db'}")
        with housing.connect() as conn:
            person = conn.execute(sa.text("SELECT national_id FROM applicant_income LIMIT 1")).scalar_one()
        housing.dispose()
        with bus.engine.connect() as conn:
            ref = bus.register.subject_ref(person)
            expected = sorted(seq for r, seq in subject_sets.entries(conn) if r == ref)
    finally:
        bus.close()
    with client_for(copy) as client:
        report = client.post("/api/subjects/search", json={"national_id": person}, headers=bearer("auditor"))
        client.post("/login", data={"token": TOKENS["auditor"]})
        page = client.post("/subject", data={"national_id": person}).text
    body = report.json()
    assert body["index_available"] is True and body["notice"] is None
    assert [d["ledger_seq"] for d in body["deliveries"]] == expected
    assert {(d["recipient"], d["basis"]) for d in body["deliveries"]} == {
        ("benefits", "statute:SBA-12"),
        ("housing", "consent"),
        ("statistics", "statute:STAT-7"),
    }
    housing_delivery = next(d for d in body["deliveries"] if d["recipient"] == "housing")
    assert housing_delivery["dataset"] == "tax.income" and "national_id" in housing_delivery["fields"]
    assert "HOUSING_ALLOWANCE" in page and person not in report.text
