"""The Health Ministry of the sample deployment: its REST API, consent-based delivery to Benefits.

The Ministry's API is a real HTTP server on 127.0.0.1 (`exchange.demo.health_api`); the
bus reads it with the `rest` connector (Link-header paging, `since`, bearer token). What
Benefits may receive is restated here from the register's consent statuses, not from the
timeline code that decides in the bus.
"""

from __future__ import annotations

import os
import re
import socket
from collections import Counter
from pathlib import Path

import httpx
import pyarrow as pa
import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from exchange import Bus
from exchange.demo import deployment as demo
from exchange.demo import health as demo_health
from exchange.demo.health_api import PATH, TOKEN_ENV, URL_ENV, running, serving
from govbus.errors import BadConfiguration
from tests.e2e.helpers import sql_rows

ROWS = 1_500  # 750 people, about 90 of them assessed
HEALTH = ["health.disability"]
SUBSCRIPTION = "benefits.disability"
REASON_OF_STATUS = {
    "PAUSED": "consent paused",
    "REVOKED": "consent revoked",
    "EXPIRED": "consent expired",
    None: "no consent",
}


@pytest.fixture(autouse=True)
def _no_configured_api(monkeypatch: pytest.MonkeyPatch) -> None:
    """The demo serves the Ministry itself unless an API is configured: none here."""
    monkeypatch.delenv(URL_ENV, raising=False)
    monkeypatch.delenv(TOKEN_ENV, raising=False)


@pytest.fixture
def plain_bus(govbus_home: Path):
    """The bus on a SQLite state database only (the tests that need no second database)."""
    bus = Bus.open()
    yield bus
    bus.close()


def _ministry_rows(bus: Bus) -> list[dict]:
    return sql_rows(demo_health.db_path(bus.settings), "disability_assessments")


def _good(rows: list[dict]) -> list[dict]:
    """Rows that pass the contract (the only rules the sample breaks), restated."""
    return [
        r
        for r in rows
        if re.fullmatch(r"[0-9]{11}", r["national_id"]) and r["disability_degree"] in demo_health.DEGREES
    ]


def _benefits_rows(bus: Bus) -> list[dict]:
    db = bus.settings.agencies_dir / "benefits" / "benefits.db"
    return sql_rows(db, "disability") if db.exists() else []


def _statuses(bus: Bus, rows: list[dict]) -> list[str | None]:
    """Each row's subject's Benefits consent status in the register (None: no consent)."""
    from consent.register.tables import consents  # the test reads the register directly

    with bus.engine.connect() as conn:
        by_ref = dict(
            conn.execute(
                sa.select(consents.c.subject_ref, consents.c.status).where(
                    consents.c.recipient == "benefits", consents.c.dataset == "health.disability"
                )
            ).all()
        )
    refs = bus.register.subject_refs(pa.array([r["national_id"] for r in rows], pa.string())).to_pylist()
    return [by_ref.get(ref) for ref in refs]


def _expected(bus: Bus, rows: list[dict]) -> tuple[set[str], Counter[str]]:
    """Assessment ids Benefits may receive, and the denials by reason, for these good rows."""
    allowed, denied = set(), Counter()
    for row, status in zip(rows, _statuses(bus, rows), strict=True):
        if status == "ACTIVE":
            allowed.add(row["assessment_id"])
        else:
            denied[REASON_OF_STATUS[status]] += 1
    return allowed, denied


def test_benefits_receive_only_rows_with_an_active_consent_and_denials_name_their_reason(bus):
    seeded = demo.seed(bus, rows=ROWS)
    assert seeded.health is not None
    assert set(seeded.health.consents) == {"ACTIVE", "PAUSED", "REVOKED", "EXPIRED"}
    assert seeded.health.without_consent > 0
    with serving(bus) as url:
        assert url is not None and url.startswith("http://127.0.0.1:")
        (result,) = bus.run(HEALTH)
    assert result.ok, result.failures
    source = _ministry_rows(bus)
    good = _good(source)
    assert result.rows_read == len(source) == seeded.health.assessments
    assert result.rows_quarantined == len(source) - len(good) == seeded.health.broken > 0

    allowed, denied = _expected(bus, good)
    received = _benefits_rows(bus)
    assert {r["assessment_id"] for r in received} == allowed
    assert len(received) == len(allowed)
    # Minimized: the consented fields only, never the diagnosis or the board.
    assert set(received[0]) == set(demo_health.CONSENT_FIELDS)
    by_id = {r["assessment_id"]: r for r in good}
    for r in received:
        assert r["disability_degree"] == by_id[r["assessment_id"]]["disability_degree"]
        assert str(r["assessed_on"]) == str(by_id[r["assessment_id"]]["assessed_on"])

    report = result.deliveries[SUBSCRIPTION]
    assert report.rows_delivered == len(allowed)
    assert dict(report.denials) == dict(denied)
    assert set(denied) == {"consent paused", "consent revoked", "consent expired", "no consent"}
    assert report.rows_denied == sum(denied.values()) == len(good) - len(allowed)


def test_a_second_run_moves_nothing_and_more_delivers_only_the_changes(plain_bus):
    bus = plain_bus
    demo.seed(bus, rows=ROWS)
    with serving(bus):
        (first,) = bus.run(HEALTH)
        (again,) = bus.run(HEALTH)
    assert first.ok and again.ok, (first.failures, again.failures)
    assert again.rows_read == 0 and again.deliveries[SUBSCRIPTION].rows_delivered == 0
    before = {r["assessment_id"]: r for r in _ministry_rows(bus)}

    demo.change_some(bus)  # the Ministry's next day, with the other agencies'
    after = _ministry_rows(bus)
    changed = [r for r in after if r != before.get(r["assessment_id"])]
    new = [r for r in changed if r["assessment_id"] not in before]
    assert new and len(changed) > len(new)
    with serving(bus):
        (third,) = bus.run(HEALTH)
    assert third.ok, third.failures
    assert third.rows_read == len(changed)
    allowed, denied = _expected(bus, _good(changed))
    assert third.deliveries[SUBSCRIPTION].rows_delivered == len(allowed) > 0
    assert dict(third.deliveries[SUBSCRIPTION].denials) == dict(denied)
    received = {r["assessment_id"]: r for r in _benefits_rows(bus)}
    for row in _good(changed):
        if row["assessment_id"] in allowed:
            assert received[row["assessment_id"]]["disability_degree"] == row["disability_degree"]


def test_the_api_pages_by_link_filters_by_since_and_requires_the_token(plain_bus):
    bus = plain_bus
    demo.seed(bus, rows=600)
    settings = bus.settings
    token = demo_health.api_token(settings)
    rows = _ministry_rows(bus)
    with running(demo_health.db_path(settings), token) as base, httpx.Client() as client:
        url = f"{base}{PATH}"
        assert client.get(url).status_code == 401
        wrong = client.get(url, headers={"Authorization": "Bearer not-the-token"})
        assert wrong.status_code == 401 and wrong.headers["www-authenticate"] == "Bearer"
        auth = {"Authorization": f"Bearer {token}"}
        seen, pages, following = [], 0, f"{url}?limit=7"
        while following:
            page = client.get(following, headers=auth)
            assert page.status_code == 200
            seen += page.json()["data"]
            pages += 1
            following = page.links.get("next", {}).get("url")
        assert pages == -(-len(rows) // 7)
        assert [r["assessment_id"] for r in seen] == [
            r["assessment_id"] for r in sorted(rows, key=lambda r: (r["updated_at"], r["assessment_id"]))
        ]
        since = seen[len(seen) // 2]["updated_at"]  # inclusive: rows sharing that instant come back
        later = client.get(url, params={"since": since, "limit": 1000}, headers=auth).json()["data"]
        assert later == [r for r in seen if r["updated_at"] >= since]
        bad = client.get(url, params={"after": "x"}, headers=auth)
        assert bad.status_code == 400


def test_a_taken_port_is_named_and_the_api_is_left_alone_when_another_is_configured(plain_bus, monkeypatch):
    bus = plain_bus
    demo.seed(bus, rows=300)
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = taken.getsockname()[1]
    try:
        with pytest.raises(BadConfiguration) as err:
            with running(demo_health.db_path(bus.settings), "t" * 20, port=port):
                pass
        assert f"port {port} is taken" in str(err.value)
    finally:
        taken.close()
    monkeypatch.setenv(URL_ENV, "http://127.0.0.1:9")
    with serving(bus) as url:
        assert url is None and os.environ[URL_ENV] == "http://127.0.0.1:9"
    monkeypatch.delenv(URL_ENV)
    with serving(bus) as url:
        assert os.environ[URL_ENV] == url
    assert URL_ENV not in os.environ and TOKEN_ENV not in os.environ


def test_govbus_demo_serves_the_ministry_and_summarizes_denials_by_reason(govbus_home, monkeypatch):
    from exchange.cli import main as cli

    monkeypatch.setattr(cli.console, "width", 250)
    out = CliRunner().invoke(cli.app, ["demo", "--rows", "600"])
    assert out.exit_code == 0, out.output
    line = next(t for t in out.output.splitlines() if "benefits.disability" in t)
    for reason in ("consent expired", "consent paused", "consent revoked", "no consent"):
        assert reason in line, out.output
    assert URL_ENV not in os.environ  # the run's API is gone, and so is its address
    again = CliRunner().invoke(cli.app, ["run", "health.disability"])
    assert again.exit_code == 0, again.output
    assert re.search(r"health\.disability\s*│\s*0\s*│", again.output), again.output
