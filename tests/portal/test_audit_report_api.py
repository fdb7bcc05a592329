"""`GET /api/audit/report` and its page: the same numbers as `govbus audit report`, for auditors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from exchange.views.audit_report import audit_report
from exchange.views.roles import AUDITOR, Principal
from tests.portal.conftest import bearer


def test_the_api_answers_what_the_function_computes(client, seeded):
    bus = seeded.open()
    try:
        expected = audit_report(bus, Principal(AUDITOR), None, None)
    finally:
        bus.close()
    body = client.get("/api/audit/report", headers=bearer("auditor")).json()
    assert body["lines"] == [line.model_dump(mode="json") for line in expected.lines]
    assert body["totals"] == {"batches": 6, "rows_delivered": 1323, "rows_denied": 459, "rows_quarantined": 6}
    assert (body["start"], body["end"]) == (None, None)
    assert client.get("/api/audit/report", headers=bearer("admin")).status_code == 200


def test_the_period_is_read_like_the_command_line(client):
    today = datetime.now(UTC).date()
    day = client.get(f"/api/audit/report?from={today}&to={today}", headers=bearer("auditor")).json()
    assert day["start"].startswith(f"{today}T00:00:00")
    assert day["end"].startswith(f"{today + timedelta(days=1)}T00:00:00")  # the last day is included
    assert day["totals"]["rows_delivered"] == 1323
    before = client.get(f"/api/audit/report?to={today - timedelta(days=1)}", headers=bearer("auditor"))
    assert before.json()["lines"] == [] and before.json()["totals"]["batches"] == 0
    backwards = client.get("/api/audit/report?from=2026-03-02&to=2026-03-01", headers=bearer("auditor"))
    assert backwards.status_code == 400 and "empty" in backwards.json()["detail"]
    unreadable = client.get("/api/audit/report?from=yesterday", headers=bearer("auditor"))
    assert unreadable.status_code == 422 and unreadable.json()["detail"][0]["loc"] == ["query", "from"]
    assert "yesterday" not in unreadable.text


@pytest.mark.parametrize("who", ["tax", "statistics", "housing", "registry"])
def test_agencies_may_not_read_it(client, who):
    assert client.get("/api/audit/report", headers=bearer(who)).status_code == 403
    assert client.get("/audit/report", headers=bearer(who)).status_code == 403
    assert "Audit report" not in client.get("/catalog", headers=bearer(who)).text


def test_the_page_shows_the_table_and_keeps_the_days_typed(client):
    page = client.get("/audit/report?from=2000-01-01&to=2100-12-31", headers=bearer("auditor"))
    assert page.status_code == 200
    assert "Housing Agency" in page.text and "no consent" in page.text and "1,323" in page.text
    assert 'value="2000-01-01"' in page.text and 'value="2100-12-31"' in page.text
    bad = client.get("/audit/report?from=2026-03-02&to=2026-03-01", headers=bearer("auditor"))
    assert bad.status_code == 400 and "the period is empty" in bad.text
