"""Access requests in the portal: who sees which request, who decides, refusals with their
reasons (HTML and JSON), CSRF, the data-protection officer, and an approved request showing
as a subscription at once.

Each test works on its own copy of the seeded deployment (requests and decisions are
ledger entries: the shared one must keep its numbers).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from exchange import Settings
from exchange.portal import Principal, parse_tokens
from exchange.subscriptions import decisions, requests
from govbus.errors import BadConfiguration
from tests.conftest import CATALOG as FULL_CATALOG
from tests.portal.conftest import TOKENS, Seeded, bearer, client_for

STAT_FIELDS = ["tax_year", "municipality_code", "gross_income"]
PARQUET = {"connector": "parquet", "directory": "${GOVBUS_HOME}/agencies/statistics/inbox/asked"}


def stat_request(**changes: object) -> dict[str, object]:
    body: dict[str, object] = {
        "dataset": "tax.income",
        "purpose": "OFFICIAL_STATISTICS",
        "statute": "STAT-7",
        "fields": STAT_FIELDS,
        "sink": PARQUET,
        "note": "regional income statistics",
    }
    body.update(changes)
    return body


@pytest.fixture
def copied(seeded_sqlite: Seeded, tmp_path: Path) -> Seeded:
    """The seeded deployment, copied: this test's requests and decisions stay in it."""
    return seeded_sqlite.copy(tmp_path / "home")


@pytest.fixture
def client(copied: Seeded) -> Iterator[TestClient]:
    with client_for(copied) as c:
        yield c


def ids(response) -> list[str]:  # type: ignore[no-untyped-def]
    assert response.status_code == 200, response.text
    return [r["id"] for r in response.json()]


def test_the_dpo_role_is_a_token_grant_without_an_agency():
    long = "0123456789abcdef"
    assert parse_tokens(f"{long}=dpo") == {long: Principal("dpo")}
    with pytest.raises(BadConfiguration, match="only the agency role names an agency"):
        parse_tokens(f"{long}=dpo:tax")


def test_an_agency_asks_and_sees_its_own_requests_and_those_for_the_datasets_it_owns(client):
    made = client.post("/api/requests", json=stat_request(), headers=bearer("statistics"))
    assert made.status_code == 201, made.text
    body = made.json()
    assert body["id"] == "statistics.tax.income" and body["status"] == "requested"
    assert body["requested_by"] == "agency statistics" and body["basis"] == "statute:STAT-7"
    assert body["needs"] == ["owner"] and body["awaiting"] == ["owner"] and body["owner"] == "tax"
    # the registry asks for tax.income too, under consent: a dataset the statistics office does not own
    other = stat_request(
        purpose="BENEFIT_ELIGIBILITY",
        statute=None,
        id="registry.income",
        sink={"connector": "parquet", "directory": "${GOVBUS_HOME}/agencies/registry/inbox"},
    )
    assert client.post("/api/requests", json=other, headers=bearer("registry")).status_code == 201

    assert ids(client.get("/api/requests", headers=bearer("statistics"))) == ["statistics.tax.income"]
    assert ids(client.get("/api/requests", headers=bearer("registry"))) == ["registry.income"]
    owner = client.get("/api/requests", headers=bearer("tax")).json()
    assert {r["id"]: r["you_decide_as"] for r in owner} == {
        "statistics.tax.income": "owner",
        "registry.income": "owner",
    }
    for who in ("admin", "auditor"):
        listed = client.get("/api/requests", headers=bearer(who)).json()
        assert sorted(r["id"] for r in listed) == ["registry.income", "statistics.tax.income"]
        assert not any(r["you_decide_as"] for r in listed), "admins and auditors only read"
    for who in ("housing", "health", "dpo"):  # neither asked nor own; nothing needs data protection
        assert ids(client.get("/api/requests", headers=bearer(who))) == []
        assert client.get("/api/requests/statistics.tax.income", headers=bearer(who)).status_code == 404
    assert client.get("/api/requests/registry.income", headers=bearer("statistics")).status_code == 404
    assert client.get("/api/requests/registry.income", headers=bearer("tax")).status_code == 200

    page = client.get("/requests", headers=bearer("statistics")).text
    assert "statistics.tax.income" in page and "registry.income" not in page
    page = client.get("/requests", headers=bearer("tax")).text
    assert "To decide" in page and "statistics.tax.income" in page and "registry.income" in page
    assert client.get("/requests/registry.income", headers=bearer("housing")).status_code == 404
    # only agencies ask, and only for themselves
    assert client.post("/api/requests", json=stat_request(), headers=bearer("auditor")).status_code == 403
    assert client.post("/api/requests", json=stat_request(), headers=bearer("dpo")).status_code == 403
    forged = stat_request(agency="statistics", id="x")
    assert client.post("/api/requests", json=forged, headers=bearer("housing")).status_code == 403
    assert client.get("/datasets/tax.income/request", headers=bearer("admin")).status_code == 403


def test_the_owner_approves_and_the_subscription_shows_at_once_as_new(client):
    assert client.post("/api/requests", json=stat_request(), headers=bearer("statistics")).status_code == 201
    decision = {"decision": "approve", "reason": "STAT-7 covers it"}
    url = "/api/requests/statistics.tax.income/decisions"
    assert client.post(url, json=decision, headers=bearer("statistics")).status_code == 403, "not the owner"
    assert client.post(url, json=decision, headers=bearer("admin")).status_code == 403
    assert client.post(url, json=decision, headers=bearer("auditor")).status_code == 403
    assert client.post(url, json=decision, headers=bearer("housing")).status_code == 404
    assert client.post(url, json=decision, headers=bearer("dpo")).status_code == 404
    assert client.get("/api/subscriptions", headers=bearer("statistics")).json()[-1]["id"] != (
        "statistics.tax.income"
    )

    approved = client.post(url, json=decision, headers=bearer("tax"))
    assert approved.status_code == 200, approved.text
    body = approved.json()
    assert body["status"] == "approved" and body["subscription_state"] == "new"
    [signed] = body["decisions"]
    assert signed["role"] == "owner" and signed["agency"] == "tax" and signed["by"] == "agency tax"
    assert signed["ledger_seq"] > body["ledger_seq"] and signed["key_id"]
    assert client.post(url, json=decision, headers=bearer("tax")).status_code == 409

    subs = {s["id"]: s for s in client.get("/api/subscriptions", headers=bearer("statistics")).json()}
    assert set(subs) == {"statistics.tax-income", "statistics.tax.income"}
    assert subs["statistics.tax.income"]["origin"] == "request"
    assert subs["statistics.tax.income"]["state"] == "new"
    assert subs["statistics.tax-income"]["origin"] == "catalog"
    assert subs["statistics.tax-income"]["state"] == "active"
    assert "statistics.tax.income" not in {
        s["id"] for s in client.get("/api/subscriptions", headers=bearer("housing")).json()
    }
    assert client.get("/api/subscriptions", headers=bearer("dpo")).json() == []
    assert len(client.get("/api/subscriptions", headers=bearer("auditor")).json()) == 4
    detail = client.get("/api/datasets/tax.income", headers=bearer("statistics")).json()
    shown = {s["subscription"]: (s["origin"], s["state"]) for s in detail["subscribers"]}
    assert shown == {
        "statistics.tax-income": ("catalog", "active"),
        "statistics.tax.income": ("request", "new"),
    }
    page = client.get("/datasets/tax.income", headers=bearer("tax")).text
    assert "statistics.tax.income" in page and "<td>request</td><td>new</td>" in page
    requests_page = client.get("/requests", headers=bearer("statistics")).text
    assert "<td>request</td><td>new</td>" in requests_page


def test_a_request_approved_with_the_command_line_shows_without_a_restart(client, copied):
    assert client.get("/api/me", headers=bearer("statistics")).status_code == 200  # the portal's bus is open
    bus = copied.open()  # what `govbus subscription request | approve` do, in another process
    try:
        spec = requests.RequestSpec(
            agency="statistics",
            dataset="tax.income",
            purpose="OFFICIAL_STATISTICS",
            fields=tuple(STAT_FIELDS),
            sink=PARQUET,
            statute="STAT-7",
            requested_by="cli-user",
        )
        requests.submit(bus, spec)
        decisions.decide(
            bus, spec.subscription_id, decision="approve", role="owner", agency="tax", by="cli", reason="ok"
        )
    finally:
        bus.close()
    detail = client.get("/api/datasets/tax.income", headers=bearer("statistics")).json()
    assert {s["subscription"]: s["origin"] for s in detail["subscribers"]} == {
        "statistics.tax-income": "catalog",
        "statistics.tax.income": "request",
    }


def test_the_portal_drops_a_requested_subscription_the_state_no_longer_approves(copied):
    """What `Bus.open` would leave out also leaves a running portal's catalog (no restart), and
    the subscriptions are replaced, not changed in place, under readers holding the old dict."""
    import dataclasses

    from exchange.portal.access_requests import refresh_subscriptions

    bus = copied.open()
    try:
        catalog_sub = bus.catalog.subscriptions["statistics.tax-income"]
        gone = dataclasses.replace(catalog_sub, id="statistics.gone", origin="request")
        bus.catalog.subscriptions["statistics.gone"] = gone  # approved once, not in the state now
        before = bus.catalog.subscriptions
        refresh_subscriptions(bus)
        assert "statistics.gone" not in bus.catalog.subscriptions
        assert "statistics.gone" in before, "a reader's dict must not change under it"
        assert bus.catalog.subscriptions["statistics.tax-income"] is catalog_sub
        unchanged = bus.catalog.subscriptions
        refresh_subscriptions(bus)
        assert bus.catalog.subscriptions is unchanged, "nothing to change: the same dict"
    finally:
        bus.close()


def test_a_refused_request_names_every_reason_and_the_key_to_change_in_json(client):
    yesterday = (date.today() - timedelta(days=2)).isoformat()
    body = stat_request(fields=[*STAT_FIELDS, "postal_code"], purpose="HOUSING_ALLOWANCE", ends_on=yesterday)
    refused = client.post("/api/requests", json=body, headers=bearer("statistics"))
    assert refused.status_code == 422
    reasons = refused.json()["refused"]
    by_field = {r["field"]: r["message"] for r in reasons}
    assert set(by_field) == {"basis", "fields", "ends_on"}, reasons
    assert "purpose" in by_field["basis"] and "postal_code" in by_field["fields"]
    assert "past" in by_field["ends_on"]
    # a statute that names another recipient: the reason says so
    wrong = client.post("/api/requests", json=stat_request(), headers=bearer("housing")).json()["refused"]
    by_key = {r["field"]: r["message"] for r in wrong}
    assert "recipient" in by_key["basis"]
    # ... and statistics' folder is not Housing's to deliver to
    assert "outside housing's delivery targets" in by_key["sink: directory"]
    unknown = stat_request(purpose="SPYING", fields=["no_such_field"], sink={"connector": "parquet"})
    reasons = client.post("/api/requests", json=unknown, headers=bearer("statistics")).json()["refused"]
    assert {r["field"] for r in reasons} == {"purpose", "fields", "sink", "basis"}
    assert client.get("/api/requests", headers=bearer("admin")).json() == [], "nothing refused is stored"
    # against the schema: the usual 422 with `detail`, never a stored request
    assert client.post("/api/requests", json={"dataset": "tax.income"}, headers=bearer("statistics")).json()[
        "detail"
    ]


def _csrf(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([0-9a-f]*)"', page)
    assert found, "every form that changes something carries the CSRF token"
    return found.group(1)


def _login(client: TestClient, who: str) -> None:
    assert client.post("/login", data={"token": TOKENS[who]}).status_code == 303


FORM = {
    "purpose": "OFFICIAL_STATISTICS",
    "basis": "statute:STAT-7",
    "fields": STAT_FIELDS,
    "sink_connector": "parquet",
    "sink_directory": "${GOVBUS_HOME}/agencies/statistics/inbox/asked",
}


def test_a_refused_form_comes_back_with_each_reason_next_to_its_input(client):
    _login(client, "statistics")
    form = client.get("/datasets/tax.income/request")
    assert form.status_code == 200 and 'value="statute:STAT-7"' in form.text
    assert 'value="statute:SBA-12"' not in form.text, "only statutes naming the asking agency are offered"
    sent = {
        **FORM,
        "csrf_token": _csrf(form.text),
        "purpose": "HOUSING_ALLOWANCE",
        "fields": [*STAT_FIELDS, "postal_code"],
        "sink_directory": "",
        "ends_on": "31.12.2030",
    }
    refused = client.post("/datasets/tax.income/request", data=sent)
    assert refused.status_code == 422
    page = refused.text
    reasons = dict(re.findall(r'<p class="bad reason" role="alert" data-field="([a-z_]+)">([^<]*)</p>', page))
    assert set(reasons) == {"basis", "fields", "sink", "ends_on"}, reasons
    assert "postal_code" in reasons["fields"] and "directory" in reasons["sink"]
    assert "YYYY-MM-DD" in reasons["ends_on"]
    # each reason sits right after its input, in the input's fieldset
    assert (
        page.index('id="field-postal_code"')
        < page.index('data-field="fields"')
        < page.index("Where to deliver")
    )
    assert page.index('id="ends_on"') < page.index('data-field="ends_on"')
    assert 'id="field-postal_code" checked' in page and 'value="HOUSING_ALLOWANCE" selected' in page
    assert client.get("/api/requests").json() == []

    accepted = client.post("/datasets/tax.income/request", data={**FORM, "csrf_token": _csrf(page)})
    assert accepted.status_code == 303 and accepted.headers["location"] == "/requests/statistics.tax.income"
    shown = client.get(accepted.headers["location"]).text
    assert "requested" in shown and "agency statistics" in shown and "owner" in shown


def test_forms_without_the_sessions_csrf_token_are_refused(client, seeded_sqlite, tmp_path):
    _login(client, "statistics")
    token = _csrf(client.get("/datasets/tax.income/request").text)
    assert client.post("/datasets/tax.income/request", data=FORM).status_code == 403
    assert (
        client.post("/datasets/tax.income/request", data={**FORM, "csrf_token": "0" * 64}).status_code == 403
    )
    with client_for(seeded_sqlite) as other:  # another session's token is no good here
        _login(other, "statistics")
        foreign = _csrf(other.get("/datasets/tax.income/request").text)
    assert foreign != token
    assert (
        client.post("/datasets/tax.income/request", data={**FORM, "csrf_token": foreign}).status_code == 403
    )
    # the API with the session cookie needs the token in a header; with a bearer token, none
    assert client.post("/api/requests", json=stat_request()).status_code == 403
    headers = {"X-CSRF-Token": token}
    assert client.post("/api/requests", json=stat_request(), headers=headers).status_code == 201
    assert client.get("/api/requests").json()[0]["status"] == "requested", "nothing refused was stored"

    client.post("/logout")
    _login(client, "tax")
    page = client.get("/requests/statistics.tax.income").text
    assert "You decide as <strong>owner</strong>" in page
    url = "/requests/statistics.tax.income/decisions"
    assert client.post(url, data={"decision": "approve", "csrf_token": token}).status_code == 403
    rejected = client.post(url, data={"decision": "reject", "reason": " ", "csrf_token": _csrf(page)})
    assert rejected.status_code == 400 and "a rejection needs a reason" in rejected.text
    approved = client.post(url, data={"decision": "approve", "reason": "", "csrf_token": _csrf(page)})
    assert approved.status_code == 303
    shown = client.get("/requests/statistics.tax.income").text
    assert "approved" in shown and "subscription: new" in shown and "You decide as" not in shown


@pytest.fixture
def full_client(tmp_path: Path) -> Iterator[TestClient]:
    """The whole sample catalog (health.disability included) on an empty state database."""
    home = tmp_path / "home"
    settings = Settings(home=home, state_url=f"sqlite:///{home / 'state.db'}", catalog_dir=FULL_CATALOG)
    with client_for(Seeded(settings)) as c:
        yield c


HEALTH = {
    "dataset": "health.disability",
    "purpose": "HOUSING_ALLOWANCE",
    "fields": ["assessment_id", "national_id", "disability_degree"],
    "sink": {
        "connector": "sql",
        "url": "sqlite:///${GOVBUS_HOME}/agencies/housing/housing.db",
        "table": "disability",
    },
}


def test_health_fields_need_the_owner_and_the_data_protection_officer(full_client):
    client = full_client
    made = client.post("/api/requests", json=HEALTH, headers=bearer("housing"))
    assert made.status_code == 201, made.text
    assert made.json()["needs"] == ["owner", "data-protection"]
    plain = {**HEALTH, "id": "housing.plain", "fields": ["assessment_id", "assessed_on"]}
    assert client.post("/api/requests", json=plain, headers=bearer("housing")).json()["needs"] == ["owner"]
    sensitive = {**HEALTH, "id": "housing.diagnosis", "fields": ["assessment_id", "diagnosis_group"]}
    refused = client.post("/api/requests", json=sensitive, headers=bearer("housing"))
    assert refused.status_code == 422 and refused.json()["refused"][0]["field"] == "fields"

    assert ids(client.get("/api/requests", headers=bearer("dpo"))) == ["housing.health.disability"]
    assert sorted(ids(client.get("/api/requests", headers=bearer("health")))) == [
        "housing.health.disability",
        "housing.plain",
    ]
    assert client.get("/api/requests/housing.health.disability", headers=bearer("tax")).status_code == 404
    assert client.get("/api/requests/housing.plain", headers=bearer("dpo")).status_code == 404
    page = client.get("/requests", headers=bearer("dpo")).text
    assert "housing.health.disability" in page and "housing.plain" not in page
    # the dpo reads the catalog and decides; it sees no exchange
    assert client.get("/api/catalog/health.disability", headers=bearer("dpo")).status_code == 200
    assert client.get("/api/datasets", headers=bearer("dpo")).json() == []
    assert client.get("/api/runs", headers=bearer("dpo")).json() == []
    assert client.get("/api/ledger", headers=bearer("dpo")).status_code == 403
    assert "Runs</a>" not in client.get("/catalog", headers=bearer("dpo")).text

    url = "/api/requests/housing.health.disability/decisions"
    yes = {"decision": "approve", "reason": "the degree only, for applicants who consented"}
    after_owner = client.post(url, json=yes, headers=bearer("health")).json()
    assert after_owner["status"] == "requested" and after_owner["awaiting"] == ["data-protection"]
    assert (
        client.get("/api/requests/housing.health.disability", headers=bearer("dpo")).json()["you_decide_as"]
        == "data-protection"
    )
    assert client.post(url, json=yes, headers=bearer("health")).status_code == 403, "the owner decided"
    done = client.post(url, json=yes, headers=bearer("dpo")).json()
    assert done["status"] == "approved" and [d["role"] for d in done["decisions"]] == [
        "owner",
        "data-protection",
    ]
    assert done["decisions"][1]["agency"] is None and done["decisions"][1]["by"] == "dpo"
    assert done["subscription_state"] == "new"
    subs = {s["id"]: s for s in client.get("/api/subscriptions", headers=bearer("housing")).json()}
    assert subs["housing.health.disability"]["origin"] == "request"
    # the dpo cannot decide what needs no data-protection decision (it cannot even see it)
    plain_url = "/api/requests/housing.plain/decisions"
    assert client.post(plain_url, json=yes, headers=bearer("dpo")).status_code == 404
    no = {"decision": "reject", "reason": "use the statute's fields"}
    assert client.post(plain_url, json=no, headers=bearer("health")).json()["status"] == "rejected"


def test_the_openapi_document_describes_the_request_calls(client):
    document = client.get("/openapi.json").json()
    paths = document["paths"]
    assert {"post", "get"} <= set(paths["/api/requests"])
    assert (
        "get" in paths["/api/requests/{request_id}"]
        and "post" in paths["/api/requests/{request_id}/decisions"]
    )
    assert "get" in paths["/api/subscriptions"]
    schemas = document["components"]["schemas"]
    assert {"RequestBody", "DecisionBody", "AccessRequest", "Unprocessable", "SubscriptionListing"} <= set(
        schemas
    )
    assert "422" in paths["/api/requests"]["post"]["responses"]
    assert "409" in paths["/api/requests/{request_id}/decisions"]["post"]["responses"]
