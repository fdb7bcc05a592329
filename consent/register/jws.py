"""A JSON document signed as a detached JWS (RFC 7515, EdDSA) over its RFC 8785 canonical form.

Why this form: any JOSE library (jwcrypto, joserfc, jose for Node, ...) verifies an
EdDSA JWS, and RFC 8785 (the JSON Canonicalization Scheme) names exactly which bytes are
signed, so a citizen or an auditor can check a receipt without GovBus:

1. remove the `signature` member and canonicalize the rest with RFC 8785 (the `rfc8785`
   package, or any JCS implementation);
2. put the base64url of those bytes between the two dots of `signature.jws` (the
   detached payload, RFC 7515 appendix F);
3. verify that compact JWS with the bus's Ed25519 public key (`govbus keys list --pem`).

`sign` writes `{"alg": "EdDSA", "keyId", "canonicalization": "RFC8785", "jws"}`; the
protected header is `{"alg": "EdDSA", "kid": keyId}`. `verify` checks the same
(problems in words, never a data value).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from typing import Any

import rfc8785
from cryptography.exceptions import InvalidSignature

from audit import PublicKeys, SigningKey, Verification

__all__ = ["CANONICALIZATION", "JWS_ALG", "canonical_bytes", "compact_jws", "sign", "verify"]

JWS_ALG = "EdDSA"
CANONICALIZATION = "RFC8785"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def canonical_bytes(document: Mapping[str, Any]) -> bytes:
    """The RFC 8785 canonical bytes of `document` without its `signature` member."""
    return rfc8785.dumps({k: v for k, v in document.items() if k != "signature"})


def sign(document: Mapping[str, Any], signing_key: SigningKey) -> dict[str, Any]:
    """A copy of `document` with a detached EdDSA JWS over its canonical bytes."""
    header = _b64url(rfc8785.dumps({"alg": JWS_ALG, "kid": signing_key.key_id}))
    signing_input = f"{header}.{_b64url(canonical_bytes(document))}".encode("ascii")
    value = _b64url(signing_key.key.sign(signing_input))
    return {
        **{k: v for k, v in document.items() if k != "signature"},
        "signature": {
            "alg": JWS_ALG,
            "keyId": signing_key.key_id,
            "canonicalization": CANONICALIZATION,
            "jws": f"{header}..{value}",
        },
    }


def compact_jws(document: Mapping[str, Any]) -> str:
    """The signed document's JWS with its payload put back (what a JOSE library verifies)."""
    header, _, value = str(document["signature"]["jws"]).split(".")
    return f"{header}.{_b64url(canonical_bytes(document))}.{value}"


def verify(document: Mapping[str, Any], public_keys: PublicKeys) -> Verification:
    """Check the detached JWS of `document` against the trusted `public_keys`."""
    block = document.get("signature")
    if not isinstance(block, Mapping) or block.get("alg") != JWS_ALG or not isinstance(block.get("jws"), str):
        return Verification(False, None, ["no EdDSA JWS signature block"])
    parts = block["jws"].split(".")
    if len(parts) != 3 or parts[1] != "":
        return Verification(False, None, ["signature.jws is not a detached compact JWS (header..signature)"])
    try:
        header = json.loads(_unb64url(parts[0]))
        value = _unb64url(parts[2])
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return Verification(False, None, ["signature.jws is not base64url JSON"])
    key_id = header.get("kid") if isinstance(header, dict) else None
    if not isinstance(header, dict) or header.get("alg") != JWS_ALG or key_id != block.get("keyId"):
        return Verification(False, None, ["the JWS header does not match the signature block"])
    if key_id not in public_keys:
        return Verification(False, key_id, ["signed by an unknown key id (not among the trusted keys)"])
    try:
        payload = canonical_bytes(document)
    except (TypeError, ValueError, rfc8785.CanonicalizationError):
        return Verification(False, key_id, ["document is not plain JSON"])
    signing_input = f"{parts[0]}.{_b64url(payload)}".encode("ascii")
    try:
        public_keys[key_id].verify(value, signing_input)
    except InvalidSignature:
        return Verification(
            False, key_id, ["signature does not verify (content changed or signed by another key)"]
        )
    return Verification(True, key_id)
