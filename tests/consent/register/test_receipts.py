"""Signed consent receipts: fields, determinism, offline verification, tampering, rotation."""

from __future__ import annotations

import copy
import json
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from audit import AUDIT_METADATA, Ledger, SigningKey, key_id_of, public_key_pem
from consent import CONSENT_METADATA, ConsentRegister, KeyStore, ReceiptTerms, build_receipt, verify_receipt
from govbus.errors import BadInput

ALICE, BOB = "12345678901", "10987654321"
T0 = datetime(2025, 1, 1, tzinfo=UTC)
SCOPE = {"recipient": "benefits", "dataset": "health.disability", "purpose": "BENEFIT_ELIGIBILITY"}
TERMS = ReceiptTerms(
    controller_name="Health Ministry",
    purpose_description="Deciding benefit entitlement.",
    sensitive_fields=("disability_grade",),
)


@pytest.fixture
def state(tmp_path: Path, keystore: KeyStore) -> tuple[sa.Engine, ConsentRegister, Ledger]:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'state.db'}")
    CONSENT_METADATA.create_all(engine)
    AUDIT_METADATA.create_all(engine)
    ledger = Ledger.from_keystore(keystore)
    return engine, ConsentRegister(keystore.audit_key(), ledger=ledger), ledger


def _receipt(
    engine: sa.Engine, register: ConsentRegister, keystore: KeyStore, cid: str, **extra: object
) -> dict:
    with engine.connect() as conn:
        record = register.get(conn, cid)
        assert record is not None
        return build_receipt(
            record,
            register.history(conn, cid),
            register=register,
            signing_key=keystore.signing_key(),
            **extra,
        )  # type: ignore[arg-type]


def test_receipt_fields_and_offline_verification(state, keystore: KeyStore) -> None:
    engine, register, _ = state
    with engine.begin() as conn:
        cid = register.grant(
            conn,
            ALICE,
            fields=["disability_grade", "national_id"],
            valid_from=T0,
            valid_until=T0 + timedelta(days=365),
            data_life="P6M",
            frequency="P1M",
            collection_method="web-form",
            evidence="portal session 4711",
            **SCOPE,
        )
    receipt = _receipt(
        engine,
        register,
        keystore,
        cid,
        terms=TERMS,
    )
    assert receipt["version"] == "KI-CR-v1.1.0"
    assert receipt["consentReceiptID"] == f"{cid}/v1"
    assert receipt["collectionMethod"] == "web-form"
    assert receipt["piiControllers"][0]["piiController"] == "Health Ministry"
    (service,) = receipt["services"]
    (purpose,) = service["purposes"]
    assert purpose["purposeCategory"] == ["BENEFIT_ELIGIBILITY"]
    assert purpose["piiCategory"] == ["disability_grade", "national_id"]
    assert purpose["thirdPartyName"] == "benefits" and purpose["consentType"] == "EXPLICIT"
    assert receipt["sensitive"] is True and receipt["spiCat"] == ["disability_grade"]
    record = receipt["consentRecord"]
    assert (record["dataLife"], record["frequency"], record["status"]) == ("P6M", "P1M", "ACTIVE")
    assert [e["event"] for e in record["events"]] == ["given"]
    # Offline: only the JSON text and the bus's public keys.
    text = json.dumps(receipt)
    check = verify_receipt(json.loads(text), keystore.public_keys())
    assert check.ok and check.key_id == keystore.signing_key_id()
    # Same version, same key: the same bytes.
    assert (
        _receipt(
            engine,
            register,
            keystore,
            cid,
            terms=TERMS,
        )
        == receipt
    )


@pytest.mark.parametrize(
    "edit",
    [
        lambda r: r["consentRecord"].__setitem__("status", "REVOKED"),
        lambda r: r["services"][0]["purposes"][0]["piiCategory"].append("income"),
        lambda r: r.__setitem__("piiPrincipalId", "0" * 64),
        lambda r: r["signature"].__setitem__("jws", r["signature"]["jws"][::-1]),
        lambda r: r.pop("signature"),
    ],
)
def test_any_change_breaks_the_signature(state, keystore: KeyStore, edit) -> None:
    engine, register, _ = state
    with engine.begin() as conn:
        cid = register.grant(conn, ALICE, fields=["a"], **SCOPE)
    receipt = _receipt(engine, register, keystore, cid)
    tampered = copy.deepcopy(receipt)
    edit(tampered)
    check = verify_receipt(tampered, keystore.public_keys())
    assert not check.ok and check.problems


def test_unknown_key_and_rotation(state, keystore: KeyStore) -> None:
    engine, register, _ = state
    with engine.begin() as conn:
        cid = register.grant(conn, ALICE, fields=["a"], **SCOPE)
    old = _receipt(engine, register, keystore, cid)
    stranger = Ed25519PrivateKey.generate()
    strangers = {key_id_of(stranger.public_key()): stranger.public_key()}
    assert verify_receipt(old, strangers).problems == [
        "signed by an unknown key id (not among the trusted keys)"
    ]
    forged = build_receipt(
        _record(engine, register, cid), [], signing_key=SigningKey(stranger, key_id_of(stranger.public_key()))
    )
    assert not verify_receipt(forged, keystore.public_keys()).ok
    new_key = keystore.rotate_signing_key()
    with engine.begin() as conn:
        register.pause(conn, cid)
    new = _receipt(engine, register, keystore, cid)
    assert new["signature"]["keyId"] == new_key != old["signature"]["keyId"]
    assert new["consentReceiptID"].endswith("/v2") and new["consentRecord"]["status"] == "PAUSED"
    for receipt in (old, new):  # old receipts still verify: public keys are kept
        assert verify_receipt(receipt, keystore.public_keys()).ok
    assert new["publicKey"] == public_key_pem(keystore.public_keys()[new_key])


def _record(engine: sa.Engine, register: ConsentRegister, cid: str):  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return register.get(conn, cid)


def test_no_raw_subject_id_outside_the_citizens_own_receipt(
    state, keystore: KeyStore, caplog: pytest.LogCaptureFixture
) -> None:
    engine, register, ledger = state
    caplog.set_level(logging.DEBUG)
    with engine.begin() as conn:
        cid = register.grant(conn, ALICE, fields=["a"], valid_from=T0, evidence="form 9", **SCOPE)
        register.pause(conn, cid, at=T0 + timedelta(days=1))
        register.resume(conn, cid, at=T0 + timedelta(days=2))
        register.revoke(conn, cid, at=T0 + timedelta(days=3))
        register.expire_due(conn)
    anonymous = _receipt(engine, register, keystore, cid)
    own = _receipt(engine, register, keystore, cid, subject_id=ALICE)
    with pytest.raises(BadInput) as refused:
        _receipt(engine, register, keystore, cid, subject_id=BOB)
    assert BOB not in str(refused.value)
    with engine.connect() as conn:
        ledger_dump = repr([e.payload for e in ledger.entries(conn)])
        tables = repr(
            [
                conn.execute(sa.text(f"SELECT * FROM {t}")).all()
                for t in ("consents", "consent_events", "ledger")
            ]
        )
    for text in (ledger_dump, tables, json.dumps(anonymous), caplog.text):
        assert ALICE not in text
    assert anonymous["piiPrincipalId"] == register.subject_ref(ALICE)
    assert own["piiPrincipalId"] == ALICE and own["piiPrincipalIdType"] == "subject-id"
    assert verify_receipt(own, keystore.public_keys()).ok
