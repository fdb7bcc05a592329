"""Ed25519 signatures on JSON documents and the trust store of public keys a verifier uses.

Two formats, both verifiable without GovBus:

* *embedded* (receipts): the document carries `"signature": {"alg": "Ed25519", "keyId",
  "value": base64}`; the signature is over the canonical JSON (`canonical_json`: sorted
  keys, no spaces, UTF-8) of the document without its `signature` member.
* *detached* (delivery manifests, `consent.protect.manifests`): raw 64-byte signature over the
  exact bytes of the file.

A key id is the first 16 hex digits of SHA-256 of the raw 32-byte public key, so anyone
can recompute it from the PEM the bus publishes (`govbus keys list --pem`). A verifier
trusts only the keys *it* holds: a key shipped next to a document proves nothing alone.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple, Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from govbus.errors import BadConfiguration, BadInput


class SigningKey(NamedTuple):
    """The current signing key and its id: `key, key_id = keystore.signing_key()`."""

    key: Ed25519PrivateKey
    key_id: str

    def __repr__(self) -> str:
        return f"SigningKey(key_id={self.key_id!r})"


class KeySource(Protocol):
    """What signs for the bus: consent's `KeyStore` is one; audit/ needs nothing else of it."""

    def signing_key(self) -> SigningKey:
        """The current signing key and its id."""
        ...

    def public_keys(self) -> dict[str, Ed25519PublicKey]:
        """Every signing key's public half by key id, old keys included."""
        ...


def key_id_of(public_key: Ed25519PublicKey) -> str:
    """Key id of an Ed25519 public key: first 16 hex chars of SHA-256 of its raw bytes."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def canonical_json(payload: Mapping[str, Any]) -> str:
    """The one JSON text of a payload: sorted keys, no spaces, UTF-8, no NaN."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def load_pem_public_key_of(
    pem: str | bytes, key_type: type, *, kind: str, where: str, hint: str | None = None
) -> Any:
    """A public key of `key_type` from PEM text; BadInput naming `where` otherwise."""
    data = pem.encode("ascii", "replace") if isinstance(pem, str) else pem
    try:
        key = serialization.load_pem_public_key(data)
    except ValueError:
        raise BadInput("is not a PEM public key", where=where) from None
    if not isinstance(key, key_type):
        raise BadInput(f"is not an {kind} public key", where=where, hint=hint)
    return key


ALGORITHM = "Ed25519"
PublicKeys = Mapping[str, Ed25519PublicKey]


@dataclass
class Verification:
    """Outcome of a check: `problems` say what is wrong (never a data value)."""

    ok: bool
    key_id: str | None = None
    problems: list[str] = field(default_factory=list)


def public_key_pem(public: Ed25519PublicKey) -> str:
    """SubjectPublicKeyInfo PEM of an Ed25519 public key (what OpenSSL reads)."""
    return public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")


def load_public_key(pem: str | bytes, *, where: str) -> Ed25519PublicKey:
    """An Ed25519 public key from PEM text; BadInput naming `where` otherwise."""
    return load_pem_public_key_of(pem, Ed25519PublicKey, kind="Ed25519", where=where)


def load_trusted_keys(paths: Iterable[Path]) -> dict[str, Ed25519PublicKey]:
    """Public keys by key id from PEM files, or from every `*.pem` in a directory."""
    found: dict[str, Ed25519PublicKey] = {}
    for path in map(Path, paths):
        files = sorted(path.glob("*.pem")) if path.is_dir() else [path]
        if not files or not all(f.is_file() for f in files):
            raise BadConfiguration(
                "no public key file here",
                where=str(path),
                hint="pass PEM files or a folder of them (export them with `govbus keys list --pem`)",
            )
        for file in files:
            key = load_public_key(file.read_bytes(), where=str(file))
            found[key_id_of(key)] = key
    return found


def check_signature(
    public_keys: PublicKeys, key_id: object, signature: bytes, message: bytes
) -> Verification:
    """Verify a raw Ed25519 signature by the key `key_id` among `public_keys`."""
    if not isinstance(key_id, str) or key_id not in public_keys:
        return Verification(
            False,
            key_id if isinstance(key_id, str) else None,
            ["signed by an unknown key id (not among the trusted keys)"],
        )
    try:
        public_keys[key_id].verify(signature, message)
    except InvalidSignature:
        return Verification(
            False, key_id, ["signature does not verify (content changed or signed by another key)"]
        )
    return Verification(True, key_id)


def sign_document(document: Mapping[str, Any], signing_key: SigningKey) -> dict[str, Any]:
    """A copy of `document` with an embedded Ed25519 signature (see module doc)."""
    if "signature" in document:
        raise BadInput("document is signed already", where="signature")
    body = dict(document)
    value = signing_key.key.sign(canonical_json(body).encode("utf-8"))
    body["signature"] = {
        "alg": ALGORITHM,
        "keyId": signing_key.key_id,
        "value": base64.b64encode(value).decode("ascii"),
    }
    return body


def verify_document(document: Mapping[str, Any], public_keys: PublicKeys) -> Verification:
    """Check a document's embedded signature against the trusted `public_keys`."""
    if not isinstance(document, Mapping):
        return Verification(False, None, ["not a JSON object"])
    block = document.get("signature")
    if not isinstance(block, Mapping) or block.get("alg") != ALGORITHM:
        return Verification(False, None, ["no Ed25519 signature block"])
    try:
        value = base64.b64decode(str(block.get("value", "")), validate=True)
    except (binascii.Error, ValueError):
        return Verification(False, None, ["signature value is not base64"])
    body = {k: v for k, v in document.items() if k != "signature"}
    try:
        message = canonical_json(body).encode("utf-8")
    except (TypeError, ValueError):
        return Verification(False, None, ["document is not plain JSON"])
    return check_signature(public_keys, block.get("keyId"), value, message)


@dataclass
class SignedFile:
    """What `read_signed_file` found: the document (None if not a JSON object), the key id
    that signed it (None if unknown), and every problem, in words a recipient can act on."""

    document: dict[str, Any] | None
    key_id: str | None
    problems: list[str]


def read_signed_file(
    path: Path,
    signature_path: Path,
    trusted_keys: PublicKeys,
    *,
    label: str,
    format_field: str,
    format_value: str,
    kind: str,
) -> SignedFile:
    """Check a canonical-JSON file the bus signed with a detached raw Ed25519 signature.

    The one reading of signed manifests and purge instructions: a JSON object, of the
    expected format (`document[format_field] == format_value`, else "not a GovBus
    `kind`"), byte-equal to its canonical form, and signed by a trusted key in
    `signature_path` (64 raw bytes). `label` names the file in problems ("manifest").
    """
    data = path.read_bytes()
    try:
        document = json.loads(data.decode("utf-8"))
        if not isinstance(document, dict):
            raise ValueError
    except (UnicodeDecodeError, ValueError):
        return SignedFile(None, None, [f"{label} is not a JSON object"])
    problems: list[str] = []
    if document.get(format_field) != format_value:
        problems.append(f"not a GovBus {kind}")
    if canonical_json(document).encode("utf-8") != data:
        problems.append(f"{label} is not in canonical form (edited by hand?)")
    key_id = None
    if not signature_path.is_file():
        problems.append(f"signature file {signature_path.name} is missing")
    else:
        raw = signature_path.read_bytes()
        verdict = check_signature(trusted_keys, document.get("key_id"), raw, data)
        key_id = verdict.key_id
        if len(raw) != 64:
            problems.append("signature file is not a raw 64-byte Ed25519 signature")
        else:
            problems.extend(verdict.problems)
    return SignedFile(document, key_id, problems)
