"""The citizen's access report: one self-contained page, every delivery, nobody else's data.

The same page comes from `govbus audit subject ID --format html` and from the portal's
`POST /subject/report`; both are checked against the access index and the ledger of a
real seeded run.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

import audit
from audit import subject_sets
from exchange.cli.main import app
from exchange.views import mask_id
from tests.portal.conftest import TOKENS, Seeded, bearer, client_for

VOID = {"meta", "link", "br", "hr", "img", "input", "wbr", "col", "area", "base", "source"}


@dataclass
class Page:
    """What a strict walk over the HTML found (it fails on a misnested or unclosed tag)."""

    tags: list[str] = field(default_factory=list)
    attrs: list[tuple[str, str, str | None]] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)
    pres: list[str] = field(default_factory=list)
    text: str = ""


def parse(html: str) -> Page:
    page = Page()
    stack: list[str] = []

    class Walker(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            page.tags.append(tag)
            page.attrs.extend((tag, name, value) for name, value in attrs)
            page.ids.extend(value for name, value in attrs if name == "id" and value)
            if tag == "pre":
                page.pres.append("")
            if tag not in VOID:
                stack.append(tag)

        def handle_endtag(self, tag: str) -> None:
            assert stack and stack[-1] == tag, f"</{tag}> closes <{stack[-1] if stack else None}>"
            stack.pop()

        def handle_data(self, data: str) -> None:
            page.text += data
            if stack and stack[-1] == "pre":
                page.pres[-1] += data

    walker = Walker(convert_charrefs=True)
    walker.feed(html)
    walker.close()
    assert stack == [], f"unclosed: {stack}"
    return page


@pytest.fixture(scope="module")
def deployment(seeded_sqlite: Seeded, tmp_path_factory: pytest.TempPathFactory) -> Seeded:
    return seeded_sqlite.copy(tmp_path_factory.mktemp("citizen") / "home")


def _person(home: Path) -> str:
    """Someone who consented to the Housing Agency: three recipients received their data."""
    engine = sa.create_engine(f"sqlite:///{home / 'agencies' / 'housing' / 'housing.db'}")
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text("SELECT national_id FROM applicant_income LIMIT 1")).scalar_one()
    finally:
        engine.dispose()


def _truth(deployment: Seeded, person: str) -> tuple[list[int], list[str], list[str], dict]:
    """(the person's delivery entries, every source national id, every other audit ref, public keys)."""
    bus = deployment.open()
    try:
        ref = bus.register.subject_ref(person)
        with bus.engine.connect() as conn:
            pairs = list(subject_sets.entries(conn))
        seqs = sorted(seq for r, seq in pairs if r == ref)
        refs = {r for r, _ in pairs}
        keys = bus.keys.public_keys()
    finally:
        bus.close()
    tax = sa.create_engine(f"sqlite:///{deployment.settings.home / 'agencies' / 'tax' / 'tax.db'}")
    with tax.connect() as conn:
        ids = [i for i in conn.execute(sa.text("SELECT national_id FROM income_returns")).scalars() if i]
    tax.dispose()
    return seqs, ids, sorted(refs), keys


def _check(html: str, deployment: Seeded, person: str) -> Page:
    seqs, national_ids, refs, keys = _truth(deployment, person)
    assert len(seqs) == 3  # benefits, housing and statistics received this person's return
    page = parse(html)
    # Every delivery of the person, in order, each with a proof that verifies offline.
    assert [int(i.removeprefix("delivery-")) for i in page.ids if i.startswith("delivery-")] == seqs
    proofs = [json.loads(p) for p in page.pres if p.lstrip().startswith("{")]
    assert [p["entry"]["seq"] for p in proofs] == seqs
    assert all(audit.check_entry_proof(p, keys) == [] for p in proofs)
    # Plain words a person can read.
    assert "the Social Benefits Agency" in page.text and "Social Benefits Act, section 12(3)" in page.text
    assert "You allowed it: your consent no." in page.text and "the Housing Agency" in page.text
    assert "a code standing for you" in page.text  # the Statistics Office got a pseudonym
    # No one's identifier: the person's id only masked, no other id, no audit pseudonym.
    assert mask_id(person) in page.text and mask_id(person) == "******" + person[-4:]
    assert not [i for i in national_ids if i in html]
    assert not [r for r in refs if r in html]
    # No JavaScript, nothing loaded from elsewhere; proofs folded away in <details>.
    assert "script" not in page.tags and not [a for a in page.attrs if a[1].startswith("on")]
    assert not [a for a in page.attrs if a[1] in ("src", "href")]
    assert "details" in page.tags and "summary" in page.tags
    assert ("meta", "http-equiv", "Content-Security-Policy") in page.attrs
    return page


def test_the_cli_writes_the_report_of_every_delivery_and_nobody_else(deployment, tmp_path, monkeypatch):
    settings = deployment.settings
    monkeypatch.setenv("GOVBUS_HOME", str(settings.home))
    monkeypatch.setenv("GOVBUS_CATALOG", str(settings.catalog_dir))
    monkeypatch.setenv("GOVBUS_STATE_URL", settings.state_url)
    person = _person(settings.home)
    out = tmp_path / "report.html"
    result = CliRunner().invoke(app, ["audit", "subject", person, "--format", "html", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert person not in result.output
    _check(out.read_text(encoding="utf-8"), deployment, person)
    stdout = CliRunner().invoke(app, ["audit", "subject", person, "--format", "html"])
    assert stdout.exit_code == 0 and stdout.output.startswith("<!doctype html>")


def test_someone_nobody_received_gets_a_page_that_says_so(deployment, monkeypatch):
    settings = deployment.settings
    monkeypatch.setenv("GOVBUS_HOME", str(settings.home))
    monkeypatch.setenv("GOVBUS_CATALOG", str(settings.catalog_dir))
    monkeypatch.setenv("GOVBUS_STATE_URL", settings.state_url)
    result = CliRunner().invoke(app, ["audit", "subject", "00000000001", "--format", "html"])
    page = parse(result.output)
    assert "No agency received data about you" in page.text and "******0001" in page.text
    assert not [i for i in page.ids if i.startswith("delivery-")]


def test_the_portal_serves_the_same_report_to_auditors_only(deployment):
    person = _person(deployment.settings.home)
    with client_for(deployment) as client:
        response = client.post("/subject/report", data={"national_id": person}, headers=bearer("auditor"))
        refused = [
            client.post("/subject/report", data={"national_id": person}, headers=bearer(who)).status_code
            for who in ("admin", "tax", "housing")
        ]
        client.post("/login", data={"token": TOKENS["auditor"]})
        search = client.get("/subject").text
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    assert "script-src" not in response.headers["content-security-policy"]  # default-src 'none'
    assert "default-src 'none'" in response.headers["content-security-policy"]
    assert person not in response.text
    _check(response.text, deployment, person)
    assert refused == [403, 403, 403]
    assert re.search(r'<button type="submit" formaction="[^"]*/subject/report"', search)
