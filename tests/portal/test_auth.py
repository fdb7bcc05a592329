"""Tokens from the environment, the login form and its signed session cookie."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from exchange.portal import Authenticator, Principal, create_app, parse_tokens, tokens_from_env
from govbus.errors import BadConfiguration
from tests.portal.conftest import TOKENS, client_for

LONG = "0123456789abcdef"


def test_token_spec_gives_each_token_its_role():
    tokens = parse_tokens(f"a{LONG}=admin, b{LONG}=agency:tax ,c{LONG}=auditor")
    assert tokens == {
        f"a{LONG}": Principal("admin"),
        f"b{LONG}": Principal("agency", "tax"),
        f"c{LONG}": Principal("auditor"),
    }


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("", "no portal tokens"),
        ("tiny=admin", "shorter than 16"),
        (f"{LONG}=root", "unknown role"),
        (f"{LONG}=agency", "agency role names an agency"),
        (f"{LONG}=admin:tax", "agency role names an agency"),
        (f"{LONG}=admin,{LONG}=auditor", "listed twice"),
    ],
)
def test_bad_token_specs_are_refused_without_showing_the_token(spec, message):
    with pytest.raises(BadConfiguration) as caught:
        parse_tokens(spec)
    assert message in str(caught.value)
    assert LONG not in str(caught.value) and "tiny" not in str(caught.value)
    assert "GOVBUS_PORTAL_TOKENS" in str(caught.value)


def test_tokens_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("GOVBUS_PORTAL_TOKENS", f"{LONG}=auditor")
    assert tokens_from_env() == {LONG: Principal("auditor")}
    monkeypatch.delenv("GOVBUS_PORTAL_TOKENS")
    with pytest.raises(BadConfiguration):
        create_app()


def test_a_token_naming_an_unknown_agency_stops_the_portal(seeded_sqlite):
    with TestClient(create_app(seeded_sqlite.open, tokens=f"{LONG}=agency:nowhere")) as client:
        response = client.get("/api/me", headers={"Authorization": f"Bearer {LONG}"})
    assert response.status_code == 503
    assert "unknown agency 'nowhere'" in response.json()["detail"] and LONG not in response.text


def test_login_sets_a_hardened_cookie_and_returns_to_the_page_asked_for(fresh_client):
    asked = fresh_client.get("/runs")
    form = fresh_client.get(asked.headers["location"])
    assert 'value="/runs"' in form.text
    response = fresh_client.post("/login", data={"token": TOKENS["auditor"], "next": "/runs"})
    assert response.status_code == 303 and response.headers["location"] == "/runs"
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert TOKENS["auditor"] not in cookie, "the cookie must not carry the token itself"
    assert "Signed in as <strong>auditor</strong>" in fresh_client.get("/runs").text


def test_wrong_token_on_the_form_is_401_and_sets_nothing(fresh_client):
    response = fresh_client.post("/login", data={"token": "wrong-token-wrong-token"})
    assert response.status_code == 401 and "not valid" in response.text
    assert "set-cookie" not in response.headers
    assert fresh_client.get("/catalog").status_code == 303


def test_login_never_redirects_off_site(fresh_client):
    for target in (
        "https://evil.example/",
        "//evil.example/x",
        "/\\evil.example",
        "/\t/evil.example",
        "/\n/evil.example",
        "javascript:alert(1)",
    ):
        response = fresh_client.post("/login", data={"token": TOKENS["admin"], "next": target})
        assert response.headers["location"] == "/catalog"


def test_a_forged_or_tampered_session_is_ignored(fresh_client):
    fresh_client.post("/login", data={"token": TOKENS["tax"]})
    cookie = fresh_client.cookies["govbus_session"]
    fresh_client.cookies.clear()
    tampered = cookie[:-2] + ("AA" if not cookie.endswith("AA") else "BB")
    fresh_client.cookies.set("govbus_session", tampered)
    assert fresh_client.get("/catalog").status_code == 303
    forged = Authenticator({TOKENS["admin"]: Principal("admin")}, b"k" * 32).session_for(TOKENS["admin"])
    fresh_client.cookies.set("govbus_session", forged)
    assert fresh_client.get("/api/me").status_code == 401, "signed with another key"


def test_logout_ends_the_session(fresh_client):
    fresh_client.post("/login", data={"token": TOKENS["admin"]})
    assert fresh_client.get("/catalog").status_code == 200
    response = fresh_client.post("/logout")
    assert response.status_code == 303 and response.headers["location"] == "/login"
    assert fresh_client.get("/catalog").status_code == 303


def test_sessions_survive_a_restart_but_not_the_removal_of_their_token(seeded_sqlite):
    seeded = seeded_sqlite
    with client_for(seeded) as first:
        first.post("/login", data={"token": TOKENS["housing"]})
        cookie = first.cookies["govbus_session"]
    with client_for(seeded) as again:
        again.cookies.set("govbus_session", cookie)
        assert again.get("/api/me").json() == {"role": "agency", "agency": "housing"}
    rest = ",".join(f"{TOKENS[w]}=admin" for w in ("admin",))
    with client_for(seeded, tokens=rest) as revoked:
        revoked.cookies.set("govbus_session", cookie)
        assert revoked.get("/api/me").status_code == 401
