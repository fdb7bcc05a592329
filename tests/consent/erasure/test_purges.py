"""The purge register and signed purge instructions (SQLite, PostgreSQL, MariaDB).

What the bus keeps of a purge names no subject (audit pseudonym, counts, hashes); the
instruction a recipient gets names the subject, is signed like a delivery manifest and
fails verification when touched.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
import subprocess
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from audit import DeliveryEntry, Ledger
from consent import (
    CONSENT_METADATA,
    KeyStore,
    Purge,
    PurgeRegister,
    check_purge_instruction,
    delivery_entries,
    purge_instruction,
    verify_purge,
    write_purge_instruction,
)
from govbus.errors import BadInput, FatalError

SUBJECT = "19750412345"
REF = "a" * 64
ISSUED_AT = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)


def purge(**changes: object) -> Purge:
    base = Purge(
        purge_id=str(uuid.uuid4()), request_id=str(uuid.uuid4()), reason="consent-revoked",
        recipient="housing", dataset="tax.income", subscription="housing.tax-income",
        channel="tombstone", batches=((7, "st1-00000-housing"), (9, "st2-00000-housing")),
        issued_at=ISSUED_AT, subject_ref=REF, match_field="national_id",
        consent_id=str(uuid.uuid4()), instruction_sha256="0" * 64,
    )  # fmt: skip
    return dataclasses.replace(base, **changes)


@pytest.fixture
def ledger(keystore: KeyStore) -> Ledger:
    return Ledger.from_keystore(keystore)


def test_issue_deliver_confirm_are_ledger_entries_without_the_subject(
    engine: sa.Engine, ledger: Ledger
) -> None:
    register = PurgeRegister(ledger)
    issued = purge()
    with engine.begin() as conn:
        stored = register.issue(conn, issued)
    with engine.begin() as conn:
        assert register.mark_delivered(
            conn, issued.purge_id, instruction_sha256="1" * 64, file="purge-x.json"
        )
        assert not register.mark_delivered(conn, issued.purge_id, instruction_sha256="2" * 64, file="x")
    with engine.connect() as conn:
        assert register.get(conn, issued.purge_id).status == "delivered"
        assert [p.purge_id for p in register.find(conn, status="pending")] == [issued.purge_id]
    with engine.begin() as conn:
        assert register.confirm(conn, issued.purge_id, by="recipient", evidence="letter 2026/118")
        assert not register.confirm(conn, issued.purge_id, by="recipient")
    with engine.connect() as conn:
        done = register.get(conn, issued.purge_id)
        entries = [e for e in ledger.entries(conn) if e.kind.startswith("purge.")]
        assert ledger.verify(conn).ok
        assert register.find(conn, status="pending") == []
        assert [p.purge_id for p in register.find(conn, status="confirmed", recipient="housing")] == [
            issued.purge_id
        ]
        assert register.find(conn, recipient="statistics") == []
    assert stored.status == "issued" and stored.batches == issued.batches
    assert (done.status, done.confirmed_by, done.evidence) == ("confirmed", "recipient", "letter 2026/118")
    assert done.instruction_sha256 == "1" * 64 and done.delivered_at is not None and not done.pending
    assert [e.kind for e in entries] == ["purge.issued", "purge.delivered", "purge.confirmed"]
    assert entries[0].payload["ledger_seqs"] == [7, 9] and entries[0].payload["subject_ref"] == REF
    assert SUBJECT not in json.dumps([e.payload for e in entries])


def test_refusals_name_the_field(engine: sa.Engine, ledger: Ledger) -> None:
    register = PurgeRegister(ledger)
    with engine.begin() as conn:
        with pytest.raises(BadInput, match="purge_id"):
            register.confirm(conn, str(uuid.uuid4()), by="bus")
        with pytest.raises(BadInput, match="reason or channel"):
            register.issue(conn, purge(reason="because"))
        with pytest.raises(BadInput, match="at least one delivery"):
            register.issue(conn, purge(batches=()))
        with pytest.raises(BadInput, match="status"):
            register.find(conn, status="done")
        with pytest.raises(BadInput, match="evidence"):
            register.confirm(conn, str(uuid.uuid4()), by="recipient", evidence="two\nlines")


def test_a_purge_of_everyone_covers_each_subject_and_a_subjects_only_them(
    engine: sa.Engine, ledger: Ledger
) -> None:
    register = PurgeRegister(ledger)
    with engine.begin() as conn:
        register.issue(conn, purge(batches=((3, "b3"),)))
        register.issue(
            conn,
            purge(
                subject_ref=None,
                match_field=None,
                consent_id=None,
                statute="SBA-12",
                reason="statute-ended",
                batches=((5, "b5"), (6, "b6")),
            ),
        )
        register.issue(conn, purge(subscription="benefits.tax-income", batches=((4, "b4"),)))
    with engine.connect() as conn:
        assert register.covered(conn, "housing.tax-income", REF) == {3, 5, 6}
        assert register.covered(conn, "housing.tax-income", "b" * 64) == {5, 6}
        assert register.covered(conn, "housing.tax-income", None) == {5, 6}
        assert register.covered(conn, "benefits.tax-income", REF) == {4}
        assert [p.statute for p in register.find(conn, statute="SBA-12")] == ["SBA-12"]


def _delivery(batch_id: str) -> DeliveryEntry:
    return DeliveryEntry(
        dataset="tax.income", contract_version="1.0.0", schema_sha256="c" * 64, subscription="s",
        recipient="housing", purpose="HOUSING_ALLOWANCE", basis="consent", policy_version="p" * 16,
        consents_used=1, batch_id=batch_id, rows_delivered=1, rows_denied=0, denials={},
        fields=("subject_pseudonym",), pseudonym_key_id="k1", merkle_root="d" * 64, files=(),
        manifest_sha256=None,
    )  # fmt: skip


def test_delivery_entries_reads_only_delivery_entries(engine: sa.Engine, ledger: Ledger) -> None:
    with engine.begin() as conn:
        first = ledger.append_entry(conn, _delivery("b1"))
        other = ledger.append(conn, "consent.given", {"consent_id": "c"})
        second = ledger.append_entry(conn, _delivery("b2"))
    with engine.connect() as conn:
        found = delivery_entries(conn, [second.seq, first.seq, other.seq, 999])
    assert found == {first.seq: _delivery("b1"), second.seq: _delivery("b2")}


def test_delivery_entries_names_the_entry_and_key_of_a_malformed_delivery(
    engine: sa.Engine, ledger: Ledger
) -> None:
    with engine.begin() as conn:
        odd = ledger.append(conn, "delivery", {"subscription": "s", "batch_id": "b1"})
    with engine.connect() as conn, pytest.raises(FatalError) as raised:
        delivery_entries(conn, [odd.seq])
    assert raised.value.where == f"ledger entry {odd.seq} (delivery): dataset"


def test_the_purges_table_is_part_of_consents_metadata() -> None:
    assert "purges" in CONSENT_METADATA.tables


# -- instructions -------------------------------------------------------------------------


def test_an_instruction_names_the_subject_is_signed_and_verifies(tmp_path: Path, keystore: KeyStore) -> None:
    signing = keystore.signing_key()
    issued = purge()
    data = purge_instruction(issued, [SUBJECT], key_id=signing.key_id)
    path = write_purge_instruction(tmp_path / "inbox", data, signing)
    document = json.loads(path.read_bytes())
    assert path.name == f"purge-{issued.purge_id}.json" and path.read_bytes() == data
    assert document["subject"] == {"field": "national_id", "values": [SUBJECT]}
    assert document["basis"] == {"consent_id": issued.consent_id} and document["scope"] == "subject"
    assert [b["ledger_seq"] for b in document["batches"]] == [7, 9]
    assert document["issued_at"] == "2026-03-01T09:30:00.000000+00:00"
    assert (tmp_path / "inbox" / f"govbus-signing-{signing.key_id}.pub.pem").is_file()
    (check,) = verify_purge(tmp_path / "inbox", keystore.public_keys())
    assert check.ok and check.purge_id == issued.purge_id and check.key_id == signing.key_id

    # Two instructions with the same content differ by their nonce: the stored hash of one
    # cannot be recomputed from a guessed identifier.
    again = purge_instruction(issued, [SUBJECT], key_id=signing.key_id)
    assert hashlib.sha256(again).digest() != hashlib.sha256(data).digest()
    assert purge_instruction(issued, [SUBJECT], key_id="k", nonce="00") == purge_instruction(
        issued, [SUBJECT], key_id="k", nonce="00"
    )


def test_a_touched_instruction_or_an_unknown_key_fails(tmp_path: Path, keystore: KeyStore) -> None:
    signing = keystore.signing_key()
    issued = purge(match_field="subject_pseudonym", pseudonym_key_ids=("k1", "k2"))
    path = write_purge_instruction(
        tmp_path, purge_instruction(issued, ["p2", "p1"], key_id=signing.key_id), signing
    )
    assert json.loads(path.read_bytes())["subject"]["values"] == ["p1", "p2"]
    original = path.read_bytes()

    path.write_bytes(original.replace(b'"p1"', b'"p3"'))
    touched = check_purge_instruction(path, keystore.public_keys())
    assert not touched.ok and any("does not verify" in p for p in touched.problems)

    path.write_bytes(json.dumps(json.loads(original), indent=1).encode())
    assert any("canonical" in p for p in check_purge_instruction(path, keystore.public_keys()).problems)

    path.write_bytes(original)
    stranger = KeyStore(tmp_path / "other-keys", master_key_env="GOVBUS_TEST_CONSENT_MASTER_KEY")
    assert not check_purge_instruction(path, stranger.public_keys()).ok

    renamed = path.with_name(f"purge-{uuid.uuid4()}.json")
    shutil.copy(path, renamed)
    assert any("file name" in p for p in check_purge_instruction(renamed, keystore.public_keys()).problems)

    path.with_name(path.name.replace(".json", ".sig")).unlink()
    assert any("missing" in p for p in check_purge_instruction(path, keystore.public_keys()).problems)
    with pytest.raises(BadInput):
        verify_purge(tmp_path / "nowhere", keystore.public_keys())


def test_a_purge_of_everything_names_no_subject(keystore: KeyStore) -> None:
    whole = purge(
        subject_ref=None, match_field=None, consent_id=None, statute="STAT-7", reason="statute-ended"
    )
    document = json.loads(purge_instruction(whole, [], key_id="k"))
    assert document["subject"] is None and document["scope"] == "batches"
    assert document["basis"] == {"statute": "STAT-7"}
    with pytest.raises(BadInput):
        purge_instruction(whole, [SUBJECT], key_id="k")
    with pytest.raises(BadInput):
        purge_instruction(purge(), [], key_id="k")


@pytest.mark.skipif(shutil.which("openssl") is None, reason="no openssl binary")
def test_openssl_verifies_a_tombstone(tmp_path: Path, keystore: KeyStore) -> None:
    signing = keystore.signing_key()
    path = write_purge_instruction(
        tmp_path, purge_instruction(purge(), [SUBJECT], key_id=signing.key_id), signing
    )
    pem = tmp_path / f"govbus-signing-{signing.key_id}.pub.pem"
    command = [
        "openssl",
        "pkeyutl",
        "-verify",
        "-pubin",
        "-inkey",
        str(pem),
        "-rawin",
        "-in",
        str(path),
        "-sigfile",
        str(path.with_suffix(".sig")),
    ]
    good = subprocess.run(command, capture_output=True, text=True, check=False)
    assert good.returncode == 0 and "Signature Verified Successfully" in good.stdout
    path.write_bytes(path.read_bytes().replace(SUBJECT.encode(), b"19750412346"))
    assert subprocess.run(command, capture_output=True, text=True, check=False).returncode != 0


def test_an_instruction_never_leaves_the_folder(tmp_path: Path, keystore: KeyStore) -> None:
    signing = keystore.signing_key()
    hostile = purge_instruction(purge(purge_id="../../escape"), [SUBJECT], key_id=signing.key_id)
    with pytest.raises(BadInput, match="purge id"):
        write_purge_instruction(tmp_path / "inbox", hostile, signing)
    assert not list(tmp_path.rglob("*escape*"))
    with pytest.raises(BadInput, match="signing key"):
        write_purge_instruction(tmp_path, purge_instruction(purge(), [SUBJECT], key_id="other"), signing)
