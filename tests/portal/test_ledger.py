"""The ledger page is a verifier: it shows a tampered ledger as not intact, naming the entry."""

from __future__ import annotations

import sqlalchemy as sa

import audit
from tests.portal.conftest import bearer, client_for


def test_an_edited_delivery_entry_is_shown_as_not_intact(seeded_sqlite, tmp_path):
    copy = seeded_sqlite.copy(tmp_path / "home")
    ledger = audit.AUDIT_METADATA.tables["ledger"]
    engine = sa.create_engine(copy.settings.state_url)
    with engine.begin() as conn:
        seq, payload = conn.execute(
            sa.select(ledger.c.seq, ledger.c.payload)
            .where(ledger.c.kind == "delivery", ledger.c.payload.contains('"recipient":"benefits"'))
            .limit(1)
        ).one()
        edited = payload.replace('"recipient":"benefits"', '"recipient":"statistics"')
        assert edited != payload
        conn.execute(sa.update(ledger).where(ledger.c.seq == seq).values(payload=edited))
    engine.dispose()
    with client_for(copy) as client:
        status = client.get("/api/ledger", headers=bearer("admin")).json()
        page = client.get("/ledger", headers=bearer("auditor")).text
    assert status["intact"] is False
    assert [p["seq"] for p in status["problems"]] == [seq]
    assert "edited" in status["problems"][0]["problem"]
    assert "The ledger is NOT intact: 1 problem(s)" in page and f"<td>{seq}</td>" in page


def test_a_deleted_entry_is_named(seeded_sqlite, tmp_path):
    copy = seeded_sqlite.copy(tmp_path / "home")
    ledger = audit.AUDIT_METADATA.tables["ledger"]
    engine = sa.create_engine(copy.settings.state_url)
    with engine.begin() as conn:
        conn.execute(sa.delete(ledger).where(ledger.c.seq == 10))
    engine.dispose()
    with client_for(copy) as client:
        status = client.get("/api/ledger", headers=bearer("auditor")).json()
    assert status["intact"] is False and status["problems"][0]["seq"] == 10
    assert "missing" in status["problems"][0]["problem"]


def test_the_page_shows_the_latest_signed_checkpoint_and_names_a_truncation(seeded_sqlite, tmp_path):
    copy = seeded_sqlite.copy(tmp_path / "home")
    with client_for(copy) as client:
        status = client.get("/api/ledger", headers=bearer("auditor")).json()
        page = client.get("/ledger", headers=bearer("auditor")).text
    latest = status["latest_checkpoint"]
    assert status["intact"] is True and status["checkpoints"] >= 1
    assert latest["tree_size"] == status["entries"] and latest["root"] in page  # the run signed its end
    ledger = audit.AUDIT_METADATA.tables["ledger"]
    engine = sa.create_engine(copy.settings.state_url)
    with engine.begin() as conn:
        conn.execute(sa.delete(ledger).where(ledger.c.seq == status["entries"]))  # cut the last entry
    engine.dispose()
    with client_for(copy) as client:
        status = client.get("/api/ledger", headers=bearer("auditor")).json()
        page = client.get("/ledger", headers=bearer("auditor")).text
    assert status["intact"] is False and status["problems"] == []
    assert [p["seq"] for p in status["checkpoint_problems"]] == [latest["number"]]
    assert f"checkpoint {latest['number']}" in page
