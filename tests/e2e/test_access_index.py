"""Who received person X's data: the access index and `govbus audit subject`."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

import audit
from audit import AUDIT_METADATA, subject_sets
from exchange.cli.main import app
from exchange.demo import deployment as demo
from tests.e2e.catalog_variants import use_pre_disclosure_catalog
from tests.e2e.helpers import housing_rows, statistics_files

# This test follows a person to the Statistics Office's pseudonymized copy: the sample as it
# was before disclosure control (tested in tests/e2e/test_privacy_linkage.py).
_before_disclosure = pytest.fixture(autouse=True, name="_before_disclosure")(use_pre_disclosure_catalog)


def test_every_delivery_of_a_person_is_listed_and_the_index_holds_no_raw_id(bus):
    demo.seed(bus, rows=800)
    (result,) = bus.run(["tax.income"])
    assert result.ok
    person = housing_rows(bus.settings.home)[0]["national_id"]  # consented: 3 recipients
    ledger = audit.AUDIT_METADATA.tables["ledger"]
    with bus.engine.connect() as conn:
        stored = [
            bytes(blob)
            for table, column in (("subject_set_buckets", "refs"), ("access_deliveries", "bits"))
            for blob in conn.execute(sa.select(AUDIT_METADATA.tables[table].c[column])).scalars()
        ]
        pairs = list(subject_sets.entries(conn))
        recipient = {
            seq: json.loads(payload)["recipient"]
            for seq, payload in conn.execute(
                sa.select(ledger.c.seq, ledger.c.payload).where(ledger.c.kind == "delivery")
            )
        }
    ref = bus.register.subject_ref(person)
    assert sorted(recipient[seq] for r, seq in pairs if r == ref) == ["benefits", "housing", "statistics"]
    assert stored and not any(person.encode() in blob for blob in stored)
    # Each (subject, batch) once: as many as distinct subjects delivered, per recipient.
    assert len(pairs) == len(set(pairs))
    per_batch = sum(
        len(set(pq.read_table(f)["subject_pseudonym"].to_pylist()))
        for f in statistics_files(bus.settings.home)
    )
    assert sum(1 for _, seq in pairs if recipient[seq] == "statistics") == per_batch

    out = CliRunner().invoke(app, ["audit", "subject", person, "--format", "json"])
    assert out.exit_code == 0, out.output
    report = json.loads(out.output)
    # Oldest first; a fan-out sends to the subscriptions at once, so their order is the ledger's.
    assert sorted(d["recipient"] for d in report["deliveries"]) == ["benefits", "housing", "statistics"]
    seqs = [d["ledger_seq"] for d in report["deliveries"]]
    assert seqs == sorted(seqs)
    assert all(recipient[seq] == d["recipient"] for seq, d in zip(seqs, report["deliveries"], strict=True))
    assert {d["basis"] for d in report["deliveries"]} == {"statute:SBA-12", "consent", "statute:STAT-7"}
    assert person not in out.output

    nobody = CliRunner().invoke(app, ["audit", "subject", "00000000000", "--format", "json"])
    assert json.loads(nobody.output)["deliveries"] == []
