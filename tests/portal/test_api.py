"""The JSON API tells the real numbers of a real run, on SQLite and PostgreSQL."""

from __future__ import annotations

import json

import sqlalchemy as sa

import audit
from exchange import state
from tests.portal.conftest import bearer


def test_openapi_documents_the_api_and_its_bearer_scheme(client):
    doc = client.get("/openapi.json").json()
    paths = set(doc["paths"])
    assert {
        "/api/datasets",
        "/api/datasets/{dataset_id}",
        "/api/runs",
        "/api/runs/{run_id}",
        "/api/quarantine",
        "/api/ledger",
        "/api/subjects/search",
        "/api/me",
    } <= paths
    assert not any(p in paths for p in ("/catalog", "/login", "/subject")), "pages are not API"
    assert doc["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"


def test_catalog_shows_owner_contract_schema_subscribers_and_freshness(client, seeded):
    bus = seeded.open()
    try:
        dataset = bus.catalog.datasets["tax.income"]
        expected_subs = [s.id for s in bus.catalog.subscriptions_for("tax.income")]
    finally:
        bus.close()
    [d] = client.get("/api/datasets", headers=bearer("admin")).json()
    assert d["id"] == "tax.income"
    assert (d["owner"], d["owner_name"]) == ("tax", "Tax Authority")
    assert d["contract_version"] == dataset.contract.version
    assert d["schema_versions"] == [
        {"label": "v1", "fingerprint_sha256": dataset.schema.fingerprint_sha256, "current": True}
    ]
    assert [s["subscription"] for s in d["subscribers"]] == expected_subs
    assert d["freshness"]["status"] == "fresh"  # committed seconds ago, SLA P2D
    assert d["freshness"]["sla"] == "P2D"


def test_rows_delivered_per_subscriber_match_the_checkpoints(client, state_rows):
    dv = state.deliveries
    truth = {
        row.subscription_id: (row.batches, row.delivered, row.denied)
        for row in state_rows(
            sa.select(
                dv.c.subscription_id,
                sa.func.count().label("batches"),
                sa.func.sum(dv.c.rows_delivered).label("delivered"),
                sa.func.sum(dv.c.rows_denied).label("denied"),
            ).group_by(dv.c.subscription_id)
        )
    }
    detail = client.get("/api/datasets/tax.income", headers=bearer("admin")).json()
    shown = {
        s["subscription"]: (s["batches"], s["rows_delivered"], s["rows_denied"])
        for s in detail["subscribers"]
    }
    assert shown == truth
    assert shown["benefits.tax-income"][1] == 594  # 600 seeded, 6 quarantined
    assert detail["rows_quarantined"] == 6 and detail["rows_staged"] == 594
    assert detail["stages_committed"] == 1 and detail["stages_waiting"] == 0


def test_runs_report_status_counts_and_duration(client, state_rows):
    runs = client.get("/api/runs", headers=bearer("admin")).json()
    assert [r["run_id"] for r in runs] == sorted(
        (row.run_id for row in state_rows(sa.select(state.runs.c.run_id))), reverse=True
    )
    assert [r["step"] for r in runs] == ["commit", "deliver", "deliver", "deliver", "stage"]
    assert all(r["status"] == "ok" and r["duration_seconds"] >= 0 for r in runs)
    stage = runs[-1]
    assert (stage["rows_read"], stage["rows_staged"], stage["rows_quarantined"]) == (600, 594, 6)
    one = client.get(f"/api/runs/{stage['run_id']}", headers=bearer("admin")).json()
    assert one == stage
    assert len(client.get("/api/runs?limit=2", headers=bearer("admin")).json()) == 2


def test_quarantine_counts_by_reason_without_any_quarantined_value(client, state_rows):
    q = state.quarantine
    rows = state_rows(sa.select(q.c.record, q.c.reasons))
    [summary] = client.get("/api/quarantine", headers=bearer("admin")).json()
    assert summary["dataset"] == "tax.income"
    assert summary["rows"] == len(rows) == 6 and summary["open_rows"] == 6
    expected: dict[str, int] = {}
    for row in rows:
        for reason in row.reasons:
            expected[reason] = expected.get(reason, 0) + 1
    assert {r["reason"]: r["rows"] for r in summary["reasons"]} == expected
    body = client.get("/api/quarantine", headers=bearer("admin")).text
    for row in rows:
        for key in ("national_id", "return_id", "postal_code"):
            value = row.record.get(key)
            if value:
                assert str(value) not in body, f"a quarantined {key} leaked"


def test_ledger_reports_entries_head_and_intact(client, state_rows):
    table = audit.AUDIT_METADATA.tables["ledger"]
    head = state_rows(sa.select(table.c.seq, table.c.entry_hash).order_by(table.c.seq.desc()).limit(1))[0]
    kinds = dict(state_rows(sa.select(table.c.kind, sa.func.count()).group_by(table.c.kind)))
    ledger = client.get("/api/ledger", headers=bearer("auditor")).json()
    assert ledger["intact"] is True and ledger["problems"] == []
    assert ledger["entries"] == head.seq == sum(kinds.values())
    assert (ledger["head_seq"], ledger["head_hash"]) == (head.seq, head.entry_hash)
    assert {k["kind"]: k["entries"] for k in ledger["kinds"]} == kinds
    assert kinds["delivery"] == 6


def test_validation_errors_never_echo_what_was_sent(client):
    secret_like = "x" * 80 + "12345678901"
    response = client.post(
        "/api/subjects/search", json={"national_id": secret_like}, headers=bearer("auditor")
    )
    assert response.status_code == 422
    assert secret_like not in response.text and "12345678901" not in response.text
    assert json.loads(response.text)["detail"][0]["loc"] == ["body", "national_id"]
