"""Consent receipts a citizen can keep: Kantara Consent Receipt v1.1 and ISO/IEC TS 27560,
signed by the bus as a detached EdDSA JWS over RFC 8785 canonical JSON (`consent.register.jws`).

What a caller must know:

* A receipt describes one version of one consent. It is built only from what the
  register stored and what the catalog declares (`ReceiptTerms`: the controller's
  identity and contact, jurisdiction, policy and notice, how to withdraw, the rights),
  with no "issued now" stamp, so the same version signed by the same key gives the same
  bytes: a citizen can ask again and compare.
* The grant time and the record time are kept apart: `consentTimestamp` (Kantara) and
  `consentRecord.givenAt` are when the citizen gave the consent (its `given` event's
  effective time); `consentRecord.recordedAt` is when the register recorded it. An
  expiry is an event of the record (`expired`, at the end of the validity, by the bus).
* Every field the two standards require is present (`RECEIPT_SCHEMA`, a JSON Schema of
  them, is published as docs/consent-receipt.schema.json); a field the catalog does not
  declare reads "not declared" rather than being left out, and `govbus check` warns.
* `piiPrincipalId` is the subject's audit pseudonym unless the caller passes the
  citizen's own id (`subject_id`, checked against the consent): only the citizen's own
  receipt carries the raw id.
* `verify_receipt(receipt, public_keys)` needs only the receipt and the bus's published
  public keys: offline, no database. Receipts of the first format (an embedded Ed25519
  signature over sorted compact JSON) still verify.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from audit import PublicKeys, SigningKey, Verification, public_key_pem, verify_document
from consent.register import jws
from consent.register.receipt_schema import KANTARA_VERSION, RECEIPT_FORMAT, RIGHTS
from consent.register.register import ConsentRegister
from consent.register.terms import GIVEN, ConsentEvent, ConsentRecord
from govbus.errors import BadInput
from govbus.instants import as_utc, iso_utc

__all__ = ["KANTARA_VERSION", "ReceiptTerms", "build_receipt", "compact_jws", "verify_receipt"]

NOT_DECLARED = "not declared"
compact_jws = jws.compact_jws


@dataclass(frozen=True)
class ReceiptTerms:
    """What the catalog says around a consent: who controls the data and how to act on it.

    `controller` keys (agencies.yaml `controller:`): identifier, address, email, phone,
    contact, url, jurisdiction, policy_url, withdrawal, rights. `special_categories`
    maps a field to its GDPR special categories (`contracts.special_categories`).
    """

    controller_name: str = NOT_DECLARED
    controller: Mapping[str, str] = field(default_factory=dict)
    recipient_name: str | None = None
    purpose_description: str | None = None
    notice_url: str = ""
    sensitive_fields: Sequence[str] = ()
    special_categories: Mapping[str, Sequence[str]] = field(default_factory=dict)
    language: str = "en"


def _given_at(record: ConsentRecord, history: Sequence[ConsentEvent]) -> Any:
    """When the citizen gave the consent: its `given` event (the record time before events had one)."""
    given = next((e for e in history if e.event == GIVEN), None)
    return as_utc(given.at) if given is not None else as_utc(record.created_at)


def _controller(terms: ReceiptTerms) -> dict[str, Any]:
    """Kantara's `piiControllers` entry: every required field, "not declared" where missing."""
    c = terms.controller
    return {
        "piiController": terms.controller_name,
        "onBehalf": False,
        "contact": c.get("contact", NOT_DECLARED),
        "address": c.get("address", NOT_DECLARED),
        "email": c.get("email", NOT_DECLARED),
        "phone": c.get("phone", NOT_DECLARED),
        "piiControllerUrl": c.get("url", NOT_DECLARED),
        "identifier": c.get("identifier", NOT_DECLARED),
        "role": "controller",
    }


def build_receipt(
    record: ConsentRecord,
    history: Sequence[ConsentEvent],
    *,
    signing_key: SigningKey,
    terms: ReceiptTerms | None = None,
    register: ConsentRegister | None = None,
    subject_id: str | None = None,
) -> dict[str, Any]:
    """The signed receipt of `record` at its current version (see module doc).

    With `subject_id`, `register` must be given to check the id is this consent's subject.
    """
    terms = terms or ReceiptTerms()
    if subject_id is not None:
        if register is None or register.subject_ref(subject_id) != record.subject_ref:
            raise BadInput(
                "this consent is not the given subject's",
                where="subject",
                hint="ask with the id of the citizen who gave the consent",
            )
        principal, principal_type = subject_id, "subject-id"
    else:
        principal, principal_type = record.subject_ref, "audit-pseudonym"
    special = {
        f: sorted(terms.special_categories[f]) for f in record.fields if terms.special_categories.get(f)
    }
    spi = sorted((set(terms.sensitive_fields) | set(special)) & set(record.fields))
    given = _given_at(record, history)
    until = f"at {iso_utc(record.valid_until)} or on withdrawal" if record.valid_until else "on withdrawal"
    c = terms.controller
    jurisdiction, policy_url = c.get("jurisdiction", NOT_DECLARED), c.get("policy_url", NOT_DECLARED)
    withdrawal = c.get("withdrawal", NOT_DECLARED)
    recipient = terms.recipient_name or record.recipient
    lawful = ["GDPR art. 6(1)(a): consent"] + (["GDPR art. 9(2)(a): explicit consent"] if special else [])
    receipt: dict[str, Any] = {
        "version": KANTARA_VERSION,
        "receiptSchema": RECEIPT_FORMAT,
        "jurisdiction": jurisdiction,
        "consentTimestamp": int(given.timestamp()),
        "collectionMethod": record.collection_method or NOT_DECLARED,
        "consentReceiptID": f"{record.consent_id}/v{record.version}",
        "publicKey": public_key_pem(signing_key.key.public_key()),
        "language": terms.language,
        "piiPrincipalId": principal,
        "piiPrincipalIdType": principal_type,
        "piiControllers": [_controller(terms)],
        "policyUrl": policy_url,
        "services": [
            {
                "service": record.dataset,
                "purposes": [
                    {
                        "purpose": terms.purpose_description or record.purpose,
                        "purposeCategory": [record.purpose],
                        "consentType": "EXPLICIT",
                        "piiCategory": list(record.fields),
                        "primaryPurpose": True,
                        "termination": until,
                        "thirdPartyDisclosure": True,
                        "thirdPartyName": recipient,
                    }
                ],
            }
        ],
        "sensitive": bool(spi),
        "spiCat": spi,
        "consentRecord": {
            "schemaVersion": "ISO/IEC TS 27560:2023",
            "recordId": record.consent_id,
            "consentId": record.consent_id,
            "recordVersion": record.version,
            "piiPrincipalId": principal,
            "status": record.status,
            "givenAt": iso_utc(given),
            "recordedAt": iso_utc(record.created_at),
            "updatedAt": iso_utc(record.updated_at or record.created_at),
            "notice": {"url": terms.notice_url or NOT_DECLARED, "language": terms.language},
            "controllers": [_controller(terms)],
            "recipient": record.recipient,
            "recipients": [{"id": record.recipient, "name": recipient, "role": "third-party"}],
            "jurisdiction": jurisdiction,
            "policyUrl": policy_url,
            "dataset": record.dataset,
            "purposeCode": record.purpose,
            "lawfulBasis": lawful,
            "fields": list(record.fields),
            "specialCategories": [{"field": f, "categories": cats} for f, cats in special.items()],
            "validFrom": iso_utc(record.valid_from),
            "validUntil": iso_utc(record.valid_until) if record.valid_until else None,
            "dataLife": record.data_life,
            "frequency": record.frequency,
            "collectionMethod": record.collection_method or NOT_DECLARED,
            "evidence": record.evidence,
            "withdrawal": {
                "method": withdrawal,
                "effect": "no delivery relies on the consent from then on; ask for erasure to have "
                "recipients delete what they received",
            },
            "rights": [
                {
                    "right": right,
                    "how": withdrawal if right == "withdraw-consent" else c.get("rights", NOT_DECLARED),
                }
                for right in RIGHTS
            ],
            "events": [
                {
                    "event": e.event,
                    "at": iso_utc(e.at),
                    "recordedAt": iso_utc(e.recorded_at),
                    "version": e.version,
                    "expressedBy": e.expressed_by or "not recorded",
                }
                for e in history
            ],
        },
    }
    return jws.sign(receipt, signing_key)


def verify_receipt(receipt: Mapping[str, Any], public_keys: PublicKeys) -> Verification:
    """Check a receipt's signature against the bus's public keys (offline).

    Also refuses a receipt whose embedded `publicKey` is not the key that signed it, and
    one that is not a GovBus receipt at all.
    """
    if not isinstance(receipt, Mapping):
        return Verification(False, None, ["not a JSON object"])
    block = receipt.get("signature")
    legacy = isinstance(block, Mapping) and block.get("alg") == "Ed25519"
    result = verify_document(receipt, public_keys) if legacy else jws.verify(receipt, public_keys)
    if receipt.get("version") != KANTARA_VERSION or "consentRecord" not in receipt:
        result.ok = False
        result.problems.append("not a GovBus consent receipt")
    if result.ok and result.key_id is not None:
        embedded = receipt.get("publicKey")
        if embedded != public_key_pem(public_keys[result.key_id]):
            result.ok = False
            result.problems.append("embedded publicKey is not the key that signed the receipt")
    return result
