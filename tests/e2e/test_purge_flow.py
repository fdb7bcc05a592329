"""Revocation and erasure reach the subscribers: purges through a SQL sink and a file sink.

The sample deployment runs once (tax.income to Benefits and Housing by SQL, to Statistics
as Parquet files); then a citizen revokes a Housing consent with erasure, an erasure
order covers every recipient, and a statute ends. The rows go from the SQL databases,
a signed tombstone naming only the pseudonym lands in the Statistics folder, and nothing
the bus keeps (state database, ledger, logs, command output) holds the raw id.
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

import consent
from exchange import state
from exchange.cli.main import app
from exchange.demo import deployment as demo
from exchange.erasure import purges
from exchange.state import migrate as schema_migrations
from govbus.errors import GovBusError
from tests.conftest import CATALOG
from tests.e2e.catalog_variants import use_pre_disclosure_catalog
from tests.e2e.helpers import benefits_rows, housing_rows, statistics_files

# These tests are about other mechanics (deliveries, purges, crashes, lifecycles, reports) on
# the Statistics Office's pseudonymized, complete copy: the sample as it was before disclosure
# control. The sample's disclosure policy is tested in tests/e2e/test_privacy_linkage.py.
_before_disclosure = pytest.fixture(autouse=True, name="_before_disclosure")(use_pre_disclosure_catalog)

ROWS = 800
TAX = ["tax.income"]


class Outcome:
    """A command's exit code and output, a GovBus error as `govbus` shows it (code, one line)."""

    def __init__(self, *args: str) -> None:
        result = CliRunner().invoke(app, list(args))
        error = result.exception if isinstance(result.exception, GovBusError) else None
        self.exit_code = error.exit_code if error is not None else result.exit_code
        self.output = result.output + (f"error: {error}" if error is not None else "")
        if result.exception is not None and error is None and not isinstance(result.exception, SystemExit):
            raise result.exception


cli = Outcome


def inbox(bus) -> Path:
    return bus.settings.home / "agencies" / "statistics" / "inbox" / "tax.income"


@pytest.fixture
def delivered(bus):
    """The sample seeded and run once; returns a person every recipient got (consented to Housing)."""
    demo.seed(bus, rows=ROWS)
    (result,) = bus.run(TAX)
    assert result.ok, result.failures
    with bus.engine.connect() as conn:
        quarantined = json.dumps([r.record for r in conn.execute(sa.select(state.quarantine.c.record))])
    benefits = {r["national_id"] for r in benefits_rows(bus.settings.home)}
    person = next(
        r["national_id"]
        for r in housing_rows(bus.settings.home)
        if r["national_id"] not in quarantined and r["national_id"] in benefits
    )
    return person


def housing_consent(bus, person: str) -> str:
    with bus.engine.connect() as conn:
        records = bus.register.list_for_subject(conn, person)
    (record,) = [r for r in records if r.recipient == "housing" and r.status == "ACTIVE"]
    return record.consent_id


def state_text(bus) -> str:
    """Every row of every table of the state database (ledger, purges, index...) as text."""
    chunks = []
    with bus.engine.connect() as conn:
        for metadata in schema_migrations.target_metadata():
            for table in metadata.sorted_tables:
                rows = conn.execute(sa.select(table)).all()
                chunks.append(json.dumps([list(r) for r in rows], default=str))
    return "\n".join(chunks)


def listed_purges(*options: str) -> list[dict]:
    out = cli("consent", "purges", *options)
    assert out.exit_code == 0, out.output
    return json.loads(out.output)


def ids_of(rows: list[dict]) -> list[str]:
    return [r["national_id"] for r in rows]


def test_revoking_with_erasure_deletes_the_consented_rows_and_nothing_else(bus, delivered):
    person, home = delivered, bus.settings.home
    housing_before, benefits_before = housing_rows(home), benefits_rows(home)
    consent_id = housing_consent(bus, person)

    out = cli("consent", "revoke", consent_id, "--erase")
    assert out.exit_code == 65 and "--subject" in out.output  # the id is needed to name the person
    out = cli("consent", "revoke", consent_id, "--erase", "--subject", "00000000000")
    assert out.exit_code == 65 and "not the given subject's" in out.output

    out = cli("-v", "consent", "revoke", consent_id, "--erase", "--subject", person)
    assert out.exit_code == 0, out.output
    assert person not in out.output
    housing_after = housing_rows(home)
    assert person in ids_of(housing_before) and person not in ids_of(housing_after)
    gone = len(housing_before) - len(housing_after)
    assert gone == ids_of(housing_before).count(person)
    assert benefits_rows(home) == benefits_before  # Benefits holds it under a statute: untouched
    assert not list(inbox(bus).glob("purge-*.json"))  # Statistics too

    with bus.engine.connect() as conn:
        assert bus.register.get(conn, consent_id).status == "REVOKED"
        (purge,) = purges.purge_register(bus).find(conn)
        kinds = [e.kind for e in bus.ledger.entries(conn) if e.kind.startswith("purge.")]
        assert bus.ledger.verify(conn).ok
    assert (purge.recipient, purge.channel, purge.status, purge.confirmed_by) == (
        "housing",
        "delete",
        "confirmed",
        "bus",
    )
    assert purge.rows_deleted == gone and purge.match_field == "national_id"
    assert purge.subject_ref == bus.register.subject_ref(person) and purge.consent_id == consent_id
    assert kinds == ["purge.issued", "purge.confirmed"]

    listing = cli("consent", "purges")
    assert listing.exit_code == 0 and "1 confirmed, 0 pending" in listing.output
    assert person not in listing.output
    (listed,) = listed_purges("--format", "json")
    assert (listed["recipient"], listed["status"], listed["rows_deleted"]) == ("housing", "confirmed", gone)

    again = cli("consent", "revoke", consent_id, "--erase", "--subject", person)
    assert again.exit_code == 0 and "already revoked" in again.output and "nothing to purge" in again.output
    assert len(purges.list_purges(bus)) == 1

    assert person not in state_text(bus)
    assert person not in cli("consent", "receipt", consent_id).output  # only the citizen's own receipt
    assert person in cli("consent", "receipt", consent_id, "--subject", person).output


def test_an_erasure_order_reaches_the_sql_sinks_and_the_file_sink(bus, delivered, caplog):
    person, home = delivered, bus.settings.home
    key = bus.keys.pseudonym_key("statistics", "OFFICIAL_STATISTICS")
    pseudonym = consent.pseudonymize(pa.array([person]), key)[0].as_py()
    holding = sorted(
        f.name.removesuffix(".parquet")
        for f in statistics_files(home)
        if pseudonym in pq.read_table(f)["subject_pseudonym"].to_pylist()
    )
    assert holding

    caplog.set_level(logging.DEBUG)
    run = purges.erase_subject(bus, person)
    assert not run.failed
    assert {o.purge.recipient: o.purge.status for o in run.outcomes} == {
        "benefits": "confirmed",
        "housing": "confirmed",
        "statistics": "delivered",
    }
    assert person not in ids_of(benefits_rows(home)) and person not in ids_of(housing_rows(home))
    assert person not in caplog.text

    # The tombstone: signed, names the person only by Statistics' pseudonym, lists its batches.
    (tombstone,) = inbox(bus).glob("purge-*.json")
    document = json.loads(tombstone.read_bytes())
    assert document["subject"] == {
        "field": "subject_pseudonym",
        "values": [pseudonym],
        "pseudonym_key_ids": ["k1"],
    }
    assert sorted(b["batch_id"] for b in document["batches"]) == holding
    assert document["reason"] == "erasure-order" and document["recipient"] == "statistics"
    assert person not in tombstone.read_text()
    verified = cli("consent", "verify-purge", str(inbox(bus)))
    assert verified.exit_code == 0 and "authentic" in verified.output
    tombstone.write_bytes(tombstone.read_bytes().replace(pseudonym.encode(), b"0" * 64))
    assert cli("consent", "verify-purge", str(tombstone)).exit_code == 1
    tombstone.write_bytes(tombstone.read_bytes().replace(b"0" * 64, pseudonym.encode()))

    statistics_purge = next(o.purge for o in run.outcomes if o.purge.recipient == "statistics")
    pending = listed_purges("--status", "pending", "--format", "json")
    assert [(p["purge_id"], p["status"]) for p in pending] == [(statistics_purge.purge_id, "delivered")]
    confirmed = cli("consent", "purge-confirm", statistics_purge.purge_id, "--evidence", "ticket STAT-2291")
    assert confirmed.exit_code == 0 and "confirmed by the recipient" in confirmed.output
    assert "No purge instruction matches" in cli("consent", "purges", "--status", "pending").output
    assert "already confirmed" in cli("consent", "purge-confirm", statistics_purge.purge_id).output
    (only_statistics,) = listed_purges("--recipient", "statistics", "--format", "json")
    assert (only_statistics["confirmed_by"], only_statistics["evidence"]) == ("recipient", "ticket STAT-2291")
    assert len(listed_purges("--status", "confirmed", "--format", "json")) == 3

    again = cli("-v", "consent", "erase", person)
    assert again.exit_code == 0 and "nothing to purge" in again.output and person not in again.output
    with bus.engine.connect() as conn:
        kinds = sorted(e.kind for e in bus.ledger.entries(conn) if e.kind.startswith("purge."))
        assert bus.ledger.verify(conn).ok
    assert kinds == ["purge.confirmed"] * 3 + ["purge.delivered"] + ["purge.issued"] * 3
    assert person not in state_text(bus)


def test_an_undelivered_purge_stays_issued_and_the_same_command_delivers_it(bus, delivered):
    person = delivered
    folder, aside = inbox(bus), inbox(bus).with_name("aside")
    folder.rename(aside)
    folder.write_text("not a folder")  # the recipient's folder cannot take the tombstone
    failed = cli("consent", "erase", person, "--recipient", "statistics")
    assert failed.exit_code == 75 and "not delivered" in failed.output
    (purge,) = purges.list_purges(bus)
    assert purge.status == "issued"
    assert [p["status"] for p in listed_purges("--status", "pending", "--format", "json")] == ["issued"]

    folder.unlink()
    aside.rename(folder)
    retried = cli("consent", "erase", person, "--recipient", "statistics")
    assert retried.exit_code == 0, retried.output
    assert "delivered (issued earlier)" in retried.output
    (after,) = purges.list_purges(bus)
    assert (after.purge_id, after.status) == (purge.purge_id, "delivered")
    assert after.instruction_sha256 != purge.instruction_sha256  # sent anew, with a new nonce
    assert (folder / f"purge-{purge.purge_id}.json").is_file()


def test_an_ended_statute_purges_everything_its_subscriptions_received(bus, delivered, tmp_path, monkeypatch):
    home = bus.settings.home
    assert cli("consent", "purge-statute", "STAT-7").exit_code == 65  # in force: nothing to purge
    ended = tmp_path / "catalog"
    shutil.copytree(CATALOG, ended)
    bases = ended / "legal-bases.yaml"
    text = bases.read_text()
    for statute in ("STAT-7", "SBA-12"):
        start = text.index(f"id: {statute}")
        end = text.index("valid_from:", start)
        line_end = text.index("\n", end)
        text = text[:line_end] + "\n    valid_until: 2026-01-01" + text[line_end:]
    bases.write_text(text)
    monkeypatch.setenv("GOVBUS_CATALOG", str(ended))

    assert cli("consent", "purge-statute", "SBA-14").exit_code == 65
    out = cli("consent", "purge-statute", "STAT-7")
    assert out.exit_code == 0, out.output
    (tombstone,) = inbox(bus).glob("purge-*.json")
    document = json.loads(tombstone.read_bytes())
    assert document["subject"] is None and document["scope"] == "batches"
    assert document["basis"] == {"statute": "STAT-7"} and document["reason"] == "statute-ended"
    assert sorted(b["batch_id"] for b in document["batches"]) == sorted(
        f.name.removesuffix(".parquet") for f in statistics_files(home)
    )

    assert benefits_rows(home)
    every = cli("consent", "purge-statute")  # every ended statute: SBA-12 now, STAT-7 has nothing new
    assert every.exit_code == 0, every.output
    assert benefits_rows(home) == []
    assert "Statute STAT-7 ended: nothing to purge" in every.output
    found = {p.statute: p for p in purges.list_purges(bus)}
    assert (found["SBA-12"].channel, found["SBA-12"].status) == ("delete", "confirmed")
    assert found["SBA-12"].subject_ref is None and found["SBA-12"].rows_deleted > 0
    assert (found["STAT-7"].channel, found["STAT-7"].status) == ("tombstone", "delivered")


def test_a_recipient_the_bus_cannot_reach_gets_a_manual_purge_the_operator_confirms(
    bus, delivered, tmp_path, monkeypatch
):
    person = delivered
    moved = tmp_path / "catalog"
    shutil.copytree(CATALOG, moved)
    housing = moved / "subscriptions" / "housing.yaml"
    text = housing.read_text()
    start = text.index("    sink:")
    end = text.index("    schedule:")
    rest = "    sink:\n      connector: rest\n      url: http://127.0.0.1:9/applicant-income\n"
    housing.write_text(text[:start] + rest + text[end:])  # Housing now takes deliveries by REST
    monkeypatch.setenv("GOVBUS_CATALOG", str(moved))

    out = cli("consent", "erase", person, "--recipient", "housing")
    assert out.exit_code == 0, out.output
    assert "by hand" in out.output and person not in out.output
    (purge,) = purges.list_purges(bus)
    assert (purge.channel, purge.status, purge.match_field) == ("manual", "issued", "national_id")
    assert person in ids_of(housing_rows(bus.settings.home))  # nothing was deleted for it

    again = cli("consent", "erase", person, "--recipient", "housing")  # still issued: listed, not re-issued
    assert again.exit_code == 0 and len(purges.list_purges(bus)) == 1
    assert (
        cli("consent", "purge-confirm", purge.purge_id, "--evidence", "phone call 2026-11-26").exit_code == 0
    )
    (done,) = purges.list_purges(bus, status="confirmed")
    assert (done.confirmed_by, done.evidence) == ("recipient", "phone call 2026-11-26")
