"""ConsentRegister on SQLite and PostgreSQL: grant, revoke, expiry, lookups by time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pytest
import sqlalchemy as sa

from audit import Ledger
from consent import ConsentRegister, KeyStore
from govbus.errors import BadInput

T0 = datetime(2024, 1, 1, tzinfo=UTC)
SCOPE = {"recipient": "benefits", "dataset": "health.disability", "purpose": "BENEFIT_ELIGIBILITY"}
ALICE, BOB = "12345678901", "10987654321"


def _active(
    register: ConsentRegister,
    conn: sa.Connection,
    at: datetime,
    fields: tuple[str, ...] = ("disability_grade",),
) -> dict[str, str]:
    table = register.active(conn, fields=list(fields), at=at, **SCOPE)
    assert table.schema.names == ["subject_ref", "consent_id"]
    return dict(
        zip(table.column("subject_ref").to_pylist(), table.column("consent_id").to_pylist(), strict=True)
    )


def test_grant_revoke_expiry_by_time(engine: sa.Engine, keystore: KeyStore) -> None:
    register = ConsentRegister(keystore.audit_key())
    with engine.begin() as conn:
        alice = register.grant(
            conn,
            ALICE,
            fields=["disability_grade", "national_id"],
            valid_from=T0,
            valid_until=T0 + timedelta(days=30),
            evidence="form-2024-001",
            **SCOPE,
        )
        bob = register.grant(conn, BOB, fields=["disability_grade"], valid_from=T0, **SCOPE)
    alice_ref, bob_ref = register.subject_ref(ALICE), register.subject_ref(BOB)
    with engine.begin() as conn:
        assert _active(register, conn, T0 - timedelta(seconds=1)) == {}
        assert _active(register, conn, T0) == {alice_ref: alice, bob_ref: bob}
        assert _active(register, conn, T0 + timedelta(days=30)) == {bob_ref: bob}  # expired
        assert register.revoke(conn, bob, at=T0 + timedelta(days=10)) is True
        assert register.revoke(conn, bob, at=T0 + timedelta(days=11)) is False  # idempotent
    with engine.begin() as conn:
        # History stays answerable: before the revocation Bob's consent still counts.
        assert _active(register, conn, T0 + timedelta(days=9)) == {alice_ref: alice, bob_ref: bob}
        assert _active(register, conn, T0 + timedelta(days=10)) == {alice_ref: alice}
        assert [e for e, _ in register.events(conn, bob)] == ["given", "revoked"]
        assert register.expire_due(conn, at=T0 + timedelta(days=31)) == 1
    with engine.begin() as conn:
        (record,) = register.list_for_subject(conn, ALICE)
        assert record.status == "EXPIRED" and record.version == 2
        assert record.fields == ("disability_grade", "national_id")
        assert record.valid_until == T0 + timedelta(days=30)
        assert record.evidence == "form-2024-001"
        assert [r.consent_id for r in register.list_for_subject(conn, BOB)] == [bob]


def test_active_requires_every_requested_field(engine: sa.Engine, keystore: KeyStore) -> None:
    register = ConsentRegister(keystore.audit_key())
    with engine.begin() as conn:
        register.grant(conn, ALICE, fields=["a", "b"], valid_from=T0, **SCOPE)
        register.grant(conn, BOB, fields=["a"], valid_from=T0, **SCOPE)
        register.grant(
            conn,
            "33333333333",
            fields=["a", "b"],
            valid_from=T0,
            recipient="statistics",
            dataset=SCOPE["dataset"],
            purpose=SCOPE["purpose"],
        )
    with engine.begin() as conn:
        assert set(_active(register, conn, T0, ("a",))) == {
            register.subject_ref(ALICE),
            register.subject_ref(BOB),
        }
        assert set(_active(register, conn, T0, ("a", "b"))) == {register.subject_ref(ALICE)}
        assert _active(register, conn, T0, ("a", "c")) == {}


def test_raw_subject_id_is_never_stored(engine: sa.Engine, keystore: KeyStore) -> None:
    ledger = Ledger.from_keystore(keystore)
    register = ConsentRegister(keystore.audit_key(), ledger=ledger)
    with engine.begin() as conn:
        consent_id = register.grant(conn, ALICE, fields=["a"], **SCOPE)
        register.revoke(conn, consent_id)
    with engine.connect() as conn:
        for table in ("consents", "consent_events", "ledger"):
            dump = repr(conn.execute(sa.text(f"SELECT * FROM {table}")).all())
            assert ALICE not in dump, table
        kinds = [e.kind for e in ledger.entries(conn)]
        assert kinds == ["consent.given", "consent.revoked"]
        assert ledger.entries(conn)[0].payload["subject_ref"] == register.subject_ref(ALICE)
        assert ledger.verify(conn).ok


def test_caller_transaction_decides(engine: sa.Engine, keystore: KeyStore) -> None:
    register = ConsentRegister(keystore.audit_key())
    with engine.connect() as conn:
        with conn.begin() as transaction:
            register.grant(conn, ALICE, fields=["a"], valid_from=T0, **SCOPE)
            transaction.rollback()
        assert register.list_for_subject(conn, ALICE) == []


def test_subject_refs_column_matches_subject_ref(keystore: KeyStore) -> None:
    register = ConsentRegister(keystore.audit_key())
    refs = register.subject_refs(pa.array([ALICE, None, BOB]))
    assert refs.to_pylist() == [register.subject_ref(ALICE), None, register.subject_ref(BOB)]
    # The raw form (as staged, ADR 0008): the same pseudonyms as 32 bytes each.
    raw = register.subject_refs(pa.array([ALICE, None, BOB]), raw=True)
    assert raw.type == pa.binary(32)
    alice, bob = (bytes.fromhex(register.subject_ref(s)) for s in (ALICE, BOB))
    assert raw.to_pylist() == [alice, None, bob]


def test_bad_arguments_are_refused(engine: sa.Engine, keystore: KeyStore) -> None:
    register = ConsentRegister(keystore.audit_key())
    with engine.begin() as conn:
        with pytest.raises(BadInput, match="fields"):
            register.grant(conn, ALICE, fields=[], **SCOPE)
        with pytest.raises(BadInput, match="valid_until"):
            register.grant(conn, ALICE, fields=["a"], valid_from=T0, valid_until=T0, **SCOPE)
        with pytest.raises(BadInput, match="recipient") as caught:
            register.grant(conn, ALICE, fields=["a"], recipient="x; DROP TABLE", dataset="d", purpose="P")
        assert ALICE not in str(caught.value)
        with pytest.raises(BadInput, match="no consent"):
            register.revoke(conn, "00000000-0000-0000-0000-000000000000")
