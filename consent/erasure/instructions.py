"""Signed purge instructions: what a recipient must erase, verifiable like a delivery manifest.

`purge_instruction(purge, subject_values, key_id=...)` gives the instruction's bytes:
canonical JSON (sorted keys, no spaces, UTF-8) with the purge id, reason and basis
(consent id or statute), dataset, recipient, subscription, the batches concerned (ledger
seq, batch id), the subject as this recipient knows it — `{"field": column, "values":
[...]}`, the raw id only where the recipient received the subject field itself, else the
pseudonyms the bus delivered to it (one per pseudonym key id used) — or `null` when
everything the batches held must go, the issue instant, a random nonce and the signing
key id. The bytes name the subject, so the bus never stores them: only their SHA-256
(the nonce keeps that hash from being matched against guessed identifiers).

`write_purge_instruction(directory, data, signing_key)` puts the tombstone into a
recipient's delivery folder, each file atomically:

* `purge-<purge_id>.json` — the instruction;
* `purge-<purge_id>.sig` — the raw 64-byte Ed25519 signature over its exact bytes;
* `govbus-signing-<key_id>.pub.pem` — the bus's public key, for convenience.

A recipient checks it with `verify_purge` (`govbus consent verify-purge PATH`) or OpenSSL:

    openssl pkeyutl -verify -pubin -inkey govbus-signing-<key_id>.pub.pem -rawin \\
        -in purge-<purge_id>.json -sigfile purge-<purge_id>.sig

trusting the key only once compared with the one the bus publishes (as for manifests).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from audit import PublicKeys, SigningKey, canonical_json, public_key_pem, read_signed_file
from consent.erasure.register import Purge
from consent.protect.manifests import SAFE_NAME, _write_atomic
from govbus.errors import BadInput
from govbus.instants import iso_utc

PURGE_FORMAT = "govbus-purge-instruction/1"
PURGE_PREFIX, PURGE_SUFFIX, PURGE_SIGNATURE_SUFFIX = "purge-", ".json", ".sig"
_NONCE_BYTES = 16


def purge_file_names(purge_id: str) -> tuple[str, str]:
    """The instruction's and its signature's file names."""
    return f"{PURGE_PREFIX}{purge_id}{PURGE_SUFFIX}", f"{PURGE_PREFIX}{purge_id}{PURGE_SIGNATURE_SUFFIX}"


def _action(purge: Purge) -> str:
    if purge.match_field is None:
        return "delete every row and file these batches delivered, and every copy or derivative kept of them"
    return (
        f"delete every row whose {purge.match_field} is one of subject.values, from what "
        "these batches delivered and every copy or derivative kept of it"
    )


def purge_instruction(
    purge: Purge, subject_values: Sequence[str], *, key_id: str, nonce: str | None = None
) -> bytes:
    """The canonical JSON bytes of `purge`'s instruction (see the module doc).

    `subject_values` are what the recipient holds in `purge.match_field`; empty when the
    purge covers every subject. `nonce` (hex) is random unless given (tests).
    """
    if (purge.match_field is None) != (not subject_values):
        raise BadInput(
            "a subject's purge needs the values to match, a purge of everything none",
            where=f"purge {purge.purge_id}",
        )
    subject: dict[str, Any] | None = None
    if purge.match_field is not None:
        subject = {"field": purge.match_field, "values": sorted(set(subject_values))}
        if purge.pseudonym_key_ids:
            subject["pseudonym_key_ids"] = list(purge.pseudonym_key_ids)
    basis = (
        {"consent_id": purge.consent_id}
        if purge.consent_id
        else {"statute": purge.statute}
        if purge.statute
        else {}
    )
    sig_name = purge_file_names(purge.purge_id)[1]
    document = {
        "purge": PURGE_FORMAT,
        "purge_id": purge.purge_id,
        "reason": purge.reason,
        "basis": basis,
        "dataset": purge.dataset,
        "recipient": purge.recipient,
        "subscription": purge.subscription,
        "scope": "subject" if subject is not None else "batches",
        "subject": subject,
        "action": _action(purge),
        "batches": [{"ledger_seq": seq, "batch_id": batch} for seq, batch in purge.batches],
        "issued_at": iso_utc(purge.issued_at),
        "nonce": nonce if nonce is not None else os.urandom(_NONCE_BYTES).hex(),
        "key_id": key_id,
        "signature": {
            "alg": "Ed25519",
            "file": sig_name,
            "public_key_file": f"govbus-signing-{key_id}.pub.pem",
        },
    }
    return canonical_json(document).encode("utf-8")


def write_purge_instruction(directory: Path, data: bytes, signing_key: SigningKey) -> Path:
    """Sign `data` (from `purge_instruction`) and write the tombstone into `directory`.

    The signature and key are written before the instruction, so a recipient that sees
    `purge-<id>.json` finds its signature next to it. Writing it again replaces it.
    """
    document = json.loads(data)
    if document.get("key_id") != signing_key.key_id:
        raise BadInput(
            "the instruction names another signing key",
            where="key_id",
            hint="build it with the key that signs it",
        )
    purge_id = document.get("purge_id")
    if not isinstance(purge_id, str) or not SAFE_NAME.match(purge_id) or ".." in purge_id:
        raise BadInput("the instruction's purge id is not a plain name", where="purge_id")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    json_name, sig_name = purge_file_names(purge_id)
    pem = directory / f"govbus-signing-{signing_key.key_id}.pub.pem"
    if not pem.exists():
        _write_atomic(pem, public_key_pem(signing_key.key.public_key()).encode("ascii"))
    _write_atomic(directory / sig_name, signing_key.key.sign(data))
    path = directory / json_name
    _write_atomic(path, data)
    return path


@dataclass
class PurgeCheck:
    """One instruction's verdict; `problems` name checks, never the subject."""

    path: Path
    ok: bool
    purge_id: str | None = None
    key_id: str | None = None
    problems: list[str] = field(default_factory=list)


def check_purge_instruction(path: Path, trusted_keys: PublicKeys) -> PurgeCheck:
    """Verify one instruction: format, canonical form, signature by a trusted key."""
    check = PurgeCheck(path=path, ok=False)
    signature = path.with_name(path.name.removesuffix(PURGE_SUFFIX) + PURGE_SIGNATURE_SUFFIX)
    signed = read_signed_file(
        path,
        signature,
        trusted_keys,
        label="instruction",
        format_field="purge",
        format_value=PURGE_FORMAT,
        kind="purge instruction",
    )
    check.problems.extend(signed.problems)
    if signed.document is None:
        return check
    check.key_id = signed.key_id
    purge_id = signed.document.get("purge_id")
    check.purge_id = purge_id if isinstance(purge_id, str) else None
    if check.purge_id is None or path.name != purge_file_names(check.purge_id)[0]:
        check.problems.append("file name does not match the purge id")
    check.ok = not check.problems
    return check


def verify_purge(path: Path, trusted_keys: PublicKeys) -> list[PurgeCheck]:
    """Check an instruction, or every `purge-*.json` in a folder."""
    path = Path(path)
    if path.is_dir():
        found = sorted(path.glob(f"{PURGE_PREFIX}*{PURGE_SUFFIX}"))
        if not found:
            raise BadInput(
                "no purge instruction in this folder",
                where=str(path),
                hint=f"pass a folder holding {PURGE_PREFIX}*{PURGE_SUFFIX} or one such file",
            )
        return [check_purge_instruction(p, trusted_keys) for p in found]
    if not path.is_file():
        raise BadInput("no such file or folder", where=str(path))
    return [check_purge_instruction(path, trusted_keys)]
