"""The JSON Schema of a GovBus consent receipt: the fields Kantara CR v1.1 and ISO/IEC TS 27560 require.

Kantara Consent Receipt Specification v1.1 requires, at the top: `version`,
`jurisdiction`, `consentTimestamp`, `collectionMethod`, `consentReceiptID`,
`piiPrincipalId`, `piiControllers` (each: `piiController`, `contact`, `address`,
`email`, `phone`), `policyUrl`, `services` (each: `service` and `purposes`, each purpose:
`purpose`, `purposeCategory`, `consentType`, `piiCategory`, `termination`,
`thirdPartyDisclosure`, and `thirdPartyName` when disclosed), `sensitive` and `spiCat`.

ISO/IEC TS 27560:2023 structures a consent record in a header (schema version, record
id, PII principal, when recorded), the PII processing (purposes, lawful basis, PII
categories, recipients, jurisdiction, policy, notice, retention, withdrawal method,
rights), the parties (controllers with identity and contact, their role) and the events
(each: what, when it took effect, when recorded, who expressed it). Under `consentRecord`
a receipt carries those.

`RECEIPT_SCHEMA` is published as docs/consent-receipt.schema.json (a test keeps the two
equal and validates receipts against it).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

__all__ = ["KANTARA_VERSION", "RECEIPT_FORMAT", "RECEIPT_SCHEMA", "RIGHTS", "SCHEMA_PATH", "write_schema"]

KANTARA_VERSION = "KI-CR-v1.1.0"
RECEIPT_FORMAT = "govbus-consent-receipt/2 (Kantara CR v1.1 + ISO/IEC TS 27560:2023)"
RIGHTS = (
    "withdraw-consent",
    "access",
    "rectification",
    "erasure",
    "restriction",
    "portability",
    "objection",
    "complaint-to-supervisory-authority",
)
SCHEMA_PATH = Path(__file__).resolve().parents[2] / "docs" / "consent-receipt.schema.json"

_TEXT = {"type": "string", "minLength": 1}
_INSTANT = {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}"}
_TEXTS = {"type": "array", "items": _TEXT}


def _object(required: dict[str, Any], optional: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "type": "object",
        "required": sorted(required),
        "properties": {**required, **(optional or {})},
    }


_CONTROLLER = _object(
    {
        "piiController": _TEXT,
        "contact": _TEXT,
        "address": _TEXT,
        "email": _TEXT,
        "phone": _TEXT,
        "identifier": _TEXT,
        "role": {"const": "controller"},
    },
    {"onBehalf": {"type": "boolean"}, "piiControllerUrl": _TEXT},
)
_PURPOSE = _object(
    {
        "purpose": _TEXT,
        "purposeCategory": {**_TEXTS, "minItems": 1},
        "consentType": {"enum": ["EXPLICIT", "IMPLICIT"]},
        "piiCategory": {**_TEXTS, "minItems": 1},
        "termination": _TEXT,
        "thirdPartyDisclosure": {"type": "boolean"},
        "thirdPartyName": _TEXT,
    },
    {"primaryPurpose": {"type": "boolean"}},
)
_EVENT = _object(
    {
        "event": {"enum": ["given", "paused", "resumed", "revoked", "expired"]},
        "at": _INSTANT,
        "recordedAt": _INSTANT,
        "version": {"type": "integer", "minimum": 1},
        "expressedBy": {"enum": ["pii-principal", "operator", "bus", "not recorded"]},
    }
)
_RECORD = _object(
    {
        "schemaVersion": {"const": "ISO/IEC TS 27560:2023"},
        "recordId": _TEXT,
        "recordVersion": {"type": "integer", "minimum": 1},
        "piiPrincipalId": _TEXT,
        "status": {"enum": ["ACTIVE", "PAUSED", "REVOKED", "EXPIRED"]},
        "givenAt": _INSTANT,
        "recordedAt": _INSTANT,
        "notice": _object({"url": _TEXT, "language": _TEXT}),
        "controllers": {"type": "array", "minItems": 1, "items": _CONTROLLER},
        "recipients": {
            "type": "array",
            "minItems": 1,
            "items": _object({"id": _TEXT, "name": _TEXT, "role": _TEXT}),
        },
        "jurisdiction": _TEXT,
        "policyUrl": _TEXT,
        "purposeCode": _TEXT,
        "lawfulBasis": {**_TEXTS, "minItems": 1},
        "fields": {**_TEXTS, "minItems": 1},
        "specialCategories": {
            "type": "array",
            "items": _object({"field": _TEXT, "categories": {**_TEXTS, "minItems": 1}}),
        },
        "validFrom": _INSTANT,
        "validUntil": {"anyOf": [_INSTANT, {"type": "null"}]},
        "dataLife": {"type": ["string", "null"]},
        "collectionMethod": _TEXT,
        "withdrawal": _object({"method": _TEXT, "effect": _TEXT}),
        "rights": {
            "type": "array",
            "minItems": len(RIGHTS),
            "items": _object({"right": {"enum": list(RIGHTS)}, "how": _TEXT}),
        },
        "events": {"type": "array", "minItems": 1, "items": _EVENT},
    },
    {"updatedAt": _INSTANT, "frequency": {"type": ["string", "null"]}, "evidence": {"type": "string"}},
)
_SIGNATURE = _object(
    {
        "alg": {"const": "EdDSA"},
        "keyId": _TEXT,
        "canonicalization": {"const": "RFC8785"},
        "jws": {"type": "string", "pattern": r"^[A-Za-z0-9_-]+\.\.[A-Za-z0-9_-]+$"},
    }
)

RECEIPT_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "https://govbus.example/schemas/consent-receipt-2.json",
    "title": "GovBus consent receipt (Kantara CR v1.1 + ISO/IEC TS 27560:2023)",
    **_object(
        {
            "version": {"const": KANTARA_VERSION},
            "jurisdiction": _TEXT,
            "consentTimestamp": {"type": "integer", "minimum": 0},
            "collectionMethod": _TEXT,
            "consentReceiptID": _TEXT,
            "piiPrincipalId": _TEXT,
            "piiControllers": {"type": "array", "minItems": 1, "items": _CONTROLLER},
            "policyUrl": _TEXT,
            "services": {
                "type": "array",
                "minItems": 1,
                "items": _object(
                    {"service": _TEXT, "purposes": {"type": "array", "minItems": 1, "items": _PURPOSE}}
                ),
            },
            "sensitive": {"type": "boolean"},
            "spiCat": {"type": "array", "items": _TEXT},
            "consentRecord": _RECORD,
            "signature": _SIGNATURE,
        },
        {
            "receiptSchema": _TEXT,
            "publicKey": _TEXT,
            "language": _TEXT,
            "piiPrincipalIdType": {"enum": ["subject-id", "audit-pseudonym"]},
        },
    ),
}


def write_schema(path: Path = SCHEMA_PATH) -> None:
    """(Re)write the published JSON Schema file."""
    path.write_text(json.dumps(RECEIPT_SCHEMA, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
