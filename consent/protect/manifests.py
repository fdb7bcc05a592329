"""Signed delivery manifests: what a delivered batch holds, verifiable by the recipient.

Next to a batch's files, `write_manifest` writes three files:

* `<batch_id>.manifest.json` — canonical JSON (sorted keys, no spaces, UTF-8): contract
  id and version, schema SHA-256 fingerprint, batch id, row counts, every file's name,
  size and SHA-256, the policy version, the signing key id, and (when asked) the
  envelope: the data key sealed to each recipient, and reversible-field keys;
* `<batch_id>.manifest.sig` — the raw 64-byte Ed25519 signature over the exact bytes of
  the manifest file;
* `govbus-signing-<key_id>.pub.pem` — the bus's public key, for convenience.

A recipient checks it with GovBus (`verify_delivery`, `govbus verify-delivery PATH`) or
with OpenSSL alone:

    openssl pkeyutl -verify -pubin -inkey govbus-signing-<key_id>.pub.pem -rawin \\
        -in <batch_id>.manifest.json -sigfile <batch_id>.manifest.sig
    sha256sum <each file named in the manifest>

but must trust the public key only after comparing it (or its key id: first 16 hex digits
of SHA-256 of the raw key) with the one the bus publishes: a key shipped in the same
folder proves nothing alone. `verify_delivery` therefore takes the trusted keys.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey

from audit import PublicKeys, SigningKey, canonical_json, public_key_pem, read_signed_file
from consent.protect.envelopes import (
    FILE_ALGORITHM,
    KEY_ALGORITHM,
    encrypt_file,
    new_data_key,
    seal_key,
    x25519_key_id,
)
from govbus.errors import BadInput
from govbus.instants import iso_utc, utc_now
from govbus.temp_files import SWEEP_EVERY, sweep, temporary_name

MANIFEST_FORMAT = "govbus-delivery-manifest/1"
MANIFEST_SUFFIX, SIGNATURE_SUFFIX = ".manifest.json", ".manifest.sig"
DATA_KEY, FIELD_KEY = "delivery-data-key", "reversible-field-key"
SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,250}$")
_CHUNK = 1 << 20


def _safe(name: object, what: str) -> str:
    if not isinstance(name, str) or not SAFE_NAME.match(name) or ".." in name:
        raise BadInput(
            f"{what} is not a plain file name",
            where=what,
            hint="letters, digits, '.', '_' and '-', no folders",
        )
    return name


def file_sha256(path: Path) -> tuple[str, int]:
    """SHA-256 (hex) and size of a file, read in 1 MiB chunks."""
    digest, size = hashlib.sha256(), 0
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def _write_atomic(path: Path, data: bytes) -> None:
    """Write `data` to `path` through a temporary renamed into place.

    The temporary's name says who wrote it (`govbus.temp_files`): a process killed
    before the rename leaves it for the next writer to the folder to sweep, and this one
    sweeps the folder first (at most every few minutes per process).
    """
    sweep(path.parent, every=SWEEP_EVERY)
    temporary = path.with_name(temporary_name(path.name))
    try:
        with temporary.open("wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, 0o644)  # the recipient reads it; it holds no secret
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def _files(directory: Path, files: Sequence[str | tuple[str, str]]) -> list[tuple[str, str | None]]:
    listed: list[tuple[str, str | None]] = []
    for item in files:
        name, expected = (item, None) if isinstance(item, str) else (item[0], item[1])
        _safe(name, "file name")
        if not (directory / name).is_file():
            raise BadInput("a file to list in the manifest is missing", where=str(directory / name))
        listed.append((name, expected))
    return listed


@dataclass(frozen=True)
class SignedManifest:
    """A signed manifest as bytes, before it is stored anywhere.

    `data` is the exact canonical JSON the signature covers; `signature` the raw 64-byte
    Ed25519 signature over it; `public_key_pem` the signer's public key (convenience: a
    recipient trusts only a key it got out of band). Where it goes — files beside a
    batch, a table beside the rows, an HTTP call — is the caller's choice.
    """

    batch_id: str
    key_id: str
    data: bytes
    signature: bytes
    public_key_pem: bytes

    @property
    def sha256(self) -> str:
        """SHA-256 (hex) of the manifest bytes: what the ledger records as `manifest_sha256`."""
        return hashlib.sha256(self.data).hexdigest()

    @property
    def manifest_name(self) -> str:
        """`<batch_id>.manifest.json`."""
        return f"{self.batch_id}{MANIFEST_SUFFIX}"

    @property
    def signature_name(self) -> str:
        """`<batch_id>.manifest.sig`."""
        return f"{self.batch_id}{SIGNATURE_SUFFIX}"

    @property
    def public_key_name(self) -> str:
        """`govbus-signing-<key_id>.pub.pem`."""
        return f"govbus-signing-{self.key_id}.pub.pem"


def sign_manifest(
    batch_id: str,
    *,
    signing_key: SigningKey,
    contract_id: str,
    contract_version: str,
    schema_sha256: str,
    rows_delivered: int,
    rows_denied: int,
    files: Sequence[Mapping[str, Any]],
    policy_version: str,
    details: Mapping[str, Any] | None = None,
    envelope: Mapping[str, Any] | None = None,
    recipient_keys: Mapping[str, X25519PublicKey] | None = None,
    field_keys: Mapping[str, tuple[str, bytes]] | None = None,
) -> SignedManifest:
    """Build and sign a batch's manifest document; store nothing.

    `files` are the listed entries as they go into the document (`name`, `sha256`,
    `bytes`, optionally `encrypted_from`): files beside the batch, or request bodies for
    a REST recipient, or none for rows in a table. `field_keys` are sealed to every key
    of `recipient_keys`. `write_manifest` is this plus the files of a local folder.
    """
    _safe(batch_id, "batch_id")
    if field_keys and not recipient_keys:
        raise BadInput(
            "encryption needs the recipient's X25519 public key",
            where=f"batch {batch_id}",
            hint="publish the recipient's key in the catalog",
        )
    key_id = signing_key.key_id
    document: dict[str, Any] = {
        "manifest": MANIFEST_FORMAT,
        "batch_id": batch_id,
        "contract": {"id": contract_id, "version": contract_version},
        "schema_sha256": schema_sha256,
        "policy_version": policy_version,
        "rows": {"delivered": int(rows_delivered), "denied": int(rows_denied)},
        "files": [dict(entry) for entry in files],
        "created_at": iso_utc(utc_now()),
        "key_id": key_id,
        "signature": {
            "alg": "Ed25519",
            "file": f"{batch_id}{SIGNATURE_SUFFIX}",
            "public_key_file": f"govbus-signing-{key_id}.pub.pem",
        },
        "delivery": dict(details or {}),
        "encryption": dict(envelope) if envelope is not None else None,
    }
    if field_keys:
        assert recipient_keys is not None
        document["field_keys"] = [
            {
                "field": name,
                "key_id": kid,
                "recipient": rid,
                "sealed_key": seal_key(pub, key, purpose=FIELD_KEY, recipient=rid, context=name),
            }
            for name, (kid, key) in sorted(field_keys.items())
            for rid, pub in sorted(recipient_keys.items())
        ]
    data = canonical_json(document).encode("utf-8")
    return SignedManifest(
        batch_id=batch_id,
        key_id=key_id,
        data=data,
        signature=signing_key.key.sign(data),
        public_key_pem=public_key_pem(signing_key.key.public_key()).encode("ascii"),
    )


def write_manifest(
    directory: Path,
    batch_id: str,
    *,
    signing_key: SigningKey,
    contract_id: str,
    contract_version: str,
    schema_sha256: str,
    rows_delivered: int,
    rows_denied: int,
    files: Sequence[str | tuple[str, str]],
    policy_version: str,
    details: Mapping[str, Any] | None = None,
    recipient_keys: Mapping[str, X25519PublicKey] | None = None,
    encrypt: bool = False,
    field_keys: Mapping[str, tuple[str, bytes]] | None = None,
) -> Path:
    """Write and sign the manifest of a batch a file sink wrote into `directory`.

    `files` are names in `directory` (or (name, sha256) pairs, as `SinkReceipt.files`
    gives them: a file that changed since the sink wrote it is refused). `details` adds
    JSON members (subscription, recipient, purpose, fields, merkle_root, ...).
    With `encrypt`, each file is replaced by `<name>.enc` under one new data key, sealed
    to every key of `recipient_keys`; `field_keys` ({field: (key_id, key)}) are sealed to
    them too. Returns the manifest's path. Rewriting a batch's manifest replaces it.
    """
    directory = Path(directory)
    _safe(batch_id, "batch_id")
    listed = _files(directory, files)
    entries, envelope = [], None
    if (encrypt or field_keys) and not recipient_keys:
        raise BadInput(
            "encryption needs the recipient's X25519 public key",
            where=f"batch {batch_id}",
            hint="publish the recipient's key in the catalog",
        )
    if encrypt:
        assert recipient_keys is not None
        data_key = new_data_key()
        envelope = {
            "file_alg": FILE_ALGORITHM,
            "key_alg": KEY_ALGORITHM,
            "recipients": [
                {
                    "recipient": rid,
                    "key_id": x25519_key_id(pub),
                    "sealed_key": seal_key(pub, data_key, purpose=DATA_KEY, recipient=rid, context=batch_id),
                }
                for rid, pub in sorted(recipient_keys.items())
            ],
        }
    for name, expected in listed:
        path = directory / name
        if expected is not None and file_sha256(path)[0] != expected:
            raise BadInput(
                "the file changed after the sink wrote it", where=str(path), hint="deliver the batch again"
            )
        entry: dict[str, Any] = {"name": name}
        if encrypt:
            path = directory / f"{name}.enc"
            encrypt_file(directory / name, path, data_key)
            (directory / name).unlink()
            entry = {"name": path.name, "encrypted_from": name}
        entry["sha256"], entry["bytes"] = file_sha256(path)
        entries.append(entry)
    signed = sign_manifest(
        batch_id,
        signing_key=signing_key,
        contract_id=contract_id,
        contract_version=contract_version,
        schema_sha256=schema_sha256,
        rows_delivered=rows_delivered,
        rows_denied=rows_denied,
        files=entries,
        policy_version=policy_version,
        details=details,
        envelope=envelope,
        recipient_keys=recipient_keys,
        field_keys=field_keys,
    )
    pem = directory / signed.public_key_name
    if not pem.exists():
        _write_atomic(pem, signed.public_key_pem)
    _write_atomic(directory / signed.signature_name, signed.signature)
    manifest = directory / signed.manifest_name
    _write_atomic(manifest, signed.data)
    return manifest


@dataclass
class ManifestCheck:
    """One manifest's verdict; `problems` name files and checks, never data."""

    manifest: Path
    ok: bool
    batch_id: str | None = None
    key_id: str | None = None
    rows: int | None = None
    files: int = 0
    problems: list[str] = field(default_factory=list)


@dataclass
class DeliveryReport:
    """Every manifest found at the path given to `verify_delivery`."""

    path: Path
    checks: list[ManifestCheck]

    @property
    def ok(self) -> bool:
        """True when there was something to check and every check passed."""
        return bool(self.checks) and all(check.ok for check in self.checks)


def _check_files(directory: Path, document: Mapping[str, Any], problems: list[str]) -> int:
    entries = document.get("files")
    if not isinstance(entries, list):
        problems.append("manifest lists no files")
        return 0
    for entry in entries:
        name = entry.get("name") if isinstance(entry, Mapping) else None
        if not isinstance(name, str) or not SAFE_NAME.match(name) or ".." in name:
            problems.append("a file entry is not a plain file name (refused)")
            continue
        path = directory / name
        if not path.is_file():
            problems.append(f"file {name}: missing")
            continue
        digest, size = file_sha256(path)
        if digest != entry.get("sha256"):
            problems.append(f"file {name}: SHA-256 does not match the manifest (altered)")
        elif "bytes" in entry and size != entry["bytes"]:  # REST bodies and SFTP files list no size
            problems.append(f"file {name}: size does not match the manifest")
    return len(entries)


def check_manifest(path: Path, trusted_keys: PublicKeys) -> ManifestCheck:
    """Verify one manifest: signature by a trusted key, canonical form, every file's hash."""
    check = ManifestCheck(manifest=path, ok=False)
    signed = read_signed_file(
        path,
        path.with_name(path.name.removesuffix(".json") + ".sig"),
        trusted_keys,
        label="manifest",
        format_field="manifest",
        format_value=MANIFEST_FORMAT,
        kind="delivery manifest",
    )
    check.problems.extend(signed.problems)
    document = signed.document
    if document is None:
        return check
    check.key_id = signed.key_id
    check.batch_id = document.get("batch_id") if isinstance(document.get("batch_id"), str) else None
    rows = document.get("rows")
    check.rows = rows.get("delivered") if isinstance(rows, dict) else None
    check.files = _check_files(path.parent, document, check.problems)
    check.ok = not check.problems
    return check


def verify_delivery(path: Path, trusted_keys: PublicKeys) -> DeliveryReport:
    """Check a manifest, or every `*.manifest.json` in a folder (see module doc)."""
    path = Path(path)
    if path.is_dir():
        manifests = sorted(path.glob(f"*{MANIFEST_SUFFIX}"))
        if not manifests:
            raise BadInput(
                "no delivery manifest in this folder",
                where=str(path),
                hint=f"pass a folder holding *{MANIFEST_SUFFIX} or one such file",
            )
    elif path.is_file():
        manifests = [path]
    else:
        raise BadInput("no such file or folder", where=str(path))
    return DeliveryReport(path, [check_manifest(m, trusted_keys) for m in manifests])
