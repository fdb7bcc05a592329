"""Consent receipts a citizen can keep: Kantara Consent Receipt v1.1 fields, ISO/IEC TS 27560
record details, signed by the bus (Ed25519, embedded signature, `audit.signatures`).

What a caller must know:

* A receipt describes one version of one consent. It is built only from what the
  register stored, with no "issued now" stamp, so the same version signed by the same
  key gives the same bytes: a citizen can ask again and compare.
* `piiPrincipalId` is the subject's audit pseudonym unless the caller passes the
  citizen's own id (`subject_id`, checked against the consent): only the citizen's own
  receipt carries the raw id.
* `verify_receipt(receipt, public_keys)` needs only the receipt and the bus's published
  public keys: offline, no database.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from audit import (
    PublicKeys,
    SigningKey,
    Verification,
    public_key_pem,
    sign_document,
    verify_document,
)
from consent.register.register import ConsentRegister
from consent.register.terms import ConsentEvent, ConsentRecord
from govbus.errors import BadInput
from govbus.instants import iso_utc

KANTARA_VERSION = "KI-CR-v1.1.0"
RECEIPT_SCHEMA = "govbus-consent-receipt/1 (Kantara CR v1.1 + ISO/IEC TS 27560)"


def _epoch(record: ConsentRecord) -> int:
    return int(record.created_at.timestamp())


def build_receipt(
    record: ConsentRecord,
    history: Sequence[ConsentEvent],
    *,
    signing_key: SigningKey,
    register: ConsentRegister | None = None,
    subject_id: str | None = None,
    controller: Mapping[str, str] | None = None,
    recipient_name: str | None = None,
    purpose_description: str | None = None,
    sensitive_fields: Sequence[str] = (),
    jurisdiction: str = "",
    policy_url: str = "",
    language: str = "en",
) -> dict[str, Any]:
    """The signed receipt of `record` at its current version (see module doc).

    `controller` is the data owner ({"piiController": name, ...} in Kantara's terms);
    with `subject_id`, `register` must be given to check the id is this consent's subject.
    """
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
    spi = sorted(set(sensitive_fields) & set(record.fields))
    public = signing_key.key.public_key()
    termination = (
        "on revocation"
        if record.valid_until is None
        else f"at {iso_utc(record.valid_until)} or on revocation"
    )
    receipt: dict[str, Any] = {
        "version": KANTARA_VERSION,
        "receiptSchema": RECEIPT_SCHEMA,
        "jurisdiction": jurisdiction,
        "consentTimestamp": _epoch(record),
        "collectionMethod": record.collection_method or "not stated",
        "consentReceiptID": f"{record.consent_id}/v{record.version}",
        "publicKey": public_key_pem(public),
        "language": language,
        "piiPrincipalId": principal,
        "piiPrincipalIdType": principal_type,
        "piiControllers": [dict(controller)] if controller else [],
        "policyUrl": policy_url,
        "services": [
            {
                "service": record.dataset,
                "purposes": [
                    {
                        "purpose": purpose_description or record.purpose,
                        "purposeCategory": [record.purpose],
                        "consentType": "EXPLICIT",
                        "piiCategory": list(record.fields),
                        "primaryPurpose": True,
                        "termination": termination,
                        "thirdPartyDisclosure": True,
                        "thirdPartyName": recipient_name or record.recipient,
                    }
                ],
            }
        ],
        "sensitive": bool(spi),
        "spiCat": spi,
        "consentRecord": {
            "consentId": record.consent_id,
            "recordVersion": record.version,
            "status": record.status,
            "recipient": record.recipient,
            "dataset": record.dataset,
            "purposeCode": record.purpose,
            "fields": list(record.fields),
            "validFrom": iso_utc(record.valid_from),
            "validUntil": iso_utc(record.valid_until) if record.valid_until else None,
            "dataLife": record.data_life,
            "frequency": record.frequency,
            "evidence": record.evidence,
            "events": [
                {
                    "event": e.event,
                    "at": iso_utc(e.at),
                    "recordedAt": iso_utc(e.recorded_at),
                    "version": e.version,
                }
                for e in history
            ],
        },
    }
    return sign_document(receipt, signing_key)


def verify_receipt(receipt: Mapping[str, Any], public_keys: PublicKeys) -> Verification:
    """Check a receipt's signature against the bus's public keys (offline).

    Also refuses a receipt whose embedded `publicKey` is not the key that signed it, and
    one that is not a GovBus receipt at all.
    """
    result = verify_document(receipt, public_keys)
    if not isinstance(receipt, Mapping):
        return result
    if receipt.get("version") != KANTARA_VERSION or "consentRecord" not in receipt:
        result.ok = False
        result.problems.append("not a GovBus consent receipt")
    if result.ok and result.key_id is not None:
        embedded = receipt.get("publicKey")
        if embedded != public_key_pem(public_keys[result.key_id]):
            result.ok = False
            result.problems.append("embedded publicKey is not the key that signed the receipt")
    return result
