"""Receipts to the standards: a JSON Schema of Kantara CR v1.1 + ISO/IEC TS 27560's required
fields, verification by an outside JOSE library (jwcrypto), grant time vs record time, expiry."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jsonschema
import pytest
import rfc8785
import sqlalchemy as sa
from jwcrypto import jwk, jws

from audit import AUDIT_METADATA, Ledger, public_key_pem
from consent import CONSENT_METADATA, RECEIPT_SCHEMA, ConsentRegister, KeyStore, ReceiptTerms, build_receipt
from consent.register.receipt_schema import SCHEMA_PATH

ALICE = "12345678901"
SCOPE = {"recipient": "benefits", "dataset": "health.disability", "purpose": "BENEFIT_ELIGIBILITY"}
CONTROLLER = {
    "identifier": "XX-GOV-0003",
    "address": "1 Civic Square, 1000 Capital City",
    "email": "privacy@health.gov.example",
    "phone": "+99 100 000 003",
    "contact": "Data Protection Officer",
    "url": "https://health.gov.example",
    "jurisdiction": "XX",
    "policy_url": "https://health.gov.example/privacy",
    "withdrawal": "the citizen portal or any counter",
    "rights": "https://health.gov.example/privacy/your-rights",
}
TERMS = ReceiptTerms(
    controller_name="Health Ministry",
    controller=CONTROLLER,
    recipient_name="Social Benefits Agency",
    purpose_description="Deciding benefit entitlement.",
    notice_url="https://benefits.gov.example/notices/benefit-eligibility",
    special_categories={"disability_degree": ("health",)},
)


@pytest.fixture
def register_db(tmp_path: Path, keystore: KeyStore) -> tuple[sa.Engine, ConsentRegister, Ledger]:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'state.db'}")
    CONSENT_METADATA.create_all(engine)
    AUDIT_METADATA.create_all(engine)
    ledger = Ledger.from_keystore(keystore)
    return engine, ConsentRegister(keystore.audit_key(), ledger=ledger), ledger


def _receipt(engine: sa.Engine, register: ConsentRegister, keystore: KeyStore, cid: str) -> dict:
    with engine.connect() as conn:
        record = register.get(conn, cid)
        assert record is not None
        return build_receipt(
            record, register.history(conn, cid), signing_key=keystore.signing_key(), terms=TERMS
        )


def test_the_published_schema_is_current_and_every_receipt_meets_it(register_db, keystore: KeyStore) -> None:
    assert json.loads(SCHEMA_PATH.read_text(encoding="utf-8")) == RECEIPT_SCHEMA, (
        "regenerate: consent.register.receipt_schema.write_schema()"
    )
    jsonschema.Draft202012Validator.check_schema(RECEIPT_SCHEMA)
    validator = jsonschema.Draft202012Validator(RECEIPT_SCHEMA)
    engine, register, _ = register_db
    with engine.begin() as conn:
        cid = register.grant(
            conn, ALICE, fields=["disability_degree", "national_id"], collection_method="paper-form", **SCOPE
        )
        register.pause(conn, cid, by="operator")
    receipt = _receipt(engine, register, keystore, cid)
    assert [e.message for e in validator.iter_errors(receipt)] == []
    controller = receipt["piiControllers"][0]
    assert (controller["email"], controller["phone"], controller["identifier"]) == (
        "privacy@health.gov.example",
        "+99 100 000 003",
        "XX-GOV-0003",
    )
    assert receipt["jurisdiction"] == "XX" and receipt["policyUrl"] == "https://health.gov.example/privacy"
    record = receipt["consentRecord"]
    assert record["notice"]["url"].endswith("/benefit-eligibility")
    assert record["withdrawal"]["method"] == "the citizen portal or any counter"
    assert {r["right"] for r in record["rights"]} >= {"withdraw-consent", "access", "erasure"}
    assert [e["expressedBy"] for e in record["events"]] == ["pii-principal", "operator"]
    # `health` makes the field special category whatever its classification.
    assert receipt["sensitive"] is True and receipt["spiCat"] == ["disability_degree"]
    assert record["specialCategories"] == [{"field": "disability_degree", "categories": ["health"]}]
    assert "GDPR art. 9(2)(a): explicit consent" in record["lawfulBasis"]
    # A receipt missing a required field (Kantara: policyUrl) is caught by the schema.
    broken = {k: v for k, v in receipt.items() if k != "policyUrl"}
    assert any("policyUrl" in e.message for e in validator.iter_errors(broken))


def test_a_receipt_verifies_with_jwcrypto_over_rfc8785_bytes(register_db, keystore: KeyStore) -> None:
    """Without GovBus: canonicalize (rfc8785), re-attach the payload, verify the JWS (jwcrypto)."""
    engine, register, _ = register_db
    with engine.begin() as conn:
        cid = register.grant(conn, ALICE, fields=["disability_degree"], collection_method="web-form", **SCOPE)
    receipt = json.loads(json.dumps(_receipt(engine, register, keystore, cid)))  # as a file would hold it
    signature = receipt["signature"]
    assert (signature["alg"], signature["canonicalization"]) == ("EdDSA", "RFC8785")
    header, empty, value = signature["jws"].split(".")
    assert empty == ""
    body = {k: v for k, v in receipt.items() if k != "signature"}
    payload = base64.urlsafe_b64encode(rfc8785.dumps(body)).rstrip(b"=").decode()
    key = jwk.JWK.from_pem(public_key_pem(keystore.public_keys()[signature["keyId"]]).encode())
    token = jws.JWS()
    token.deserialize(f"{header}.{payload}.{value}", key=key)  # raises if it does not verify
    assert json.loads(token.payload) == body
    assert json.loads(base64.urlsafe_b64decode(header + "=="))["kid"] == signature["keyId"]
    body["piiPrincipalId"] = "0" * 64
    forged = base64.urlsafe_b64encode(rfc8785.dumps(body)).rstrip(b"=").decode()
    with pytest.raises(jws.InvalidJWSSignature):
        jws.JWS().deserialize(f"{header}.{forged}.{value}", key=key)


def test_grant_time_and_record_time_are_kept_apart_and_expiry_is_an_event(
    register_db, keystore: KeyStore
) -> None:
    """An imported consent given in 2020 and ended in 2021: the receipt says given in 2020,
    recorded now, expired at its end by the bus — never "given" after it expired."""
    engine, register, ledger = register_db
    given = datetime(2020, 3, 1, 9, 30, tzinfo=UTC)
    with engine.begin() as conn:
        cid = register.grant(
            conn,
            ALICE,
            fields=["disability_degree"],
            valid_from=given,
            valid_until=datetime(2021, 3, 1, tzinfo=UTC),
            given_at=given,
            expressed_by="operator",
            collection_method="import",
            **SCOPE,
        )
        assert register.expire_due(conn) == 1
        assert register.expire_due(conn) == 0
    receipt = _receipt(engine, register, keystore, cid)
    record = receipt["consentRecord"]
    assert receipt["consentTimestamp"] == int(given.timestamp())
    assert datetime.fromisoformat(record["givenAt"]) == given
    assert datetime.fromisoformat(record["recordedAt"]) > datetime.now(UTC) - timedelta(minutes=5)
    assert record["status"] == "EXPIRED"
    expired = record["events"][-1]
    assert (expired["event"], datetime.fromisoformat(expired["at"]), expired["expressedBy"]) == (
        "expired",
        datetime(2021, 3, 1, tzinfo=UTC),
        "bus",
    )
    assert receipt["consentTimestamp"] < datetime.fromisoformat(expired["at"]).timestamp()
    with engine.connect() as conn:
        kinds = [e.kind for e in ledger.entries(conn)]
    assert kinds == ["consent.given", "consent.expired"]
