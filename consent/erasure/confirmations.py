"""Signed purge confirmations: the recipient signs that it applied a purge instruction.

Why: a typed "confirmed" (a ticket number) is the operator's word; a confirmation signed
with the recipient's own key, over the SHA-256 of the exact instruction the bus signed,
is the recipient's, and anyone can re-check it from the ledger entry that records it.

The document (format `govbus.purge-confirmation/1`, embedded signature as the bus's
subscription decisions: `audit.sign_document`, canonical JSON without `signature`):

    {"format", "purge_id", "recipient", "instruction_sha256", "confirmed_at",
     "rows_deleted" (int or null), "signature": {"alg": "Ed25519", "keyId", "value"}}

It names no subject: the instruction does, and only its hash is repeated here.

What a caller must know: `confirm_instruction` is what the recipient runs (it checks the
bus's signature on the instruction first: a recipient must not confirm a forged purge);
`check_confirmation` is the bus's side, against the recipient's key from the catalog and
the purge it issued; every problem is named, never a data value.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from audit import PublicKeys, SigningKey, key_id_of, sign_document, verify_document
from consent.erasure.instructions import check_purge_instruction
from consent.erasure.register import Purge
from govbus.errors import BadInput
from govbus.instants import iso_utc

CONFIRMATION_FORMAT = "govbus.purge-confirmation/1"
_FIELDS = {"format", "purge_id", "recipient", "instruction_sha256", "confirmed_at", "rows_deleted"}


def confirmation_document(
    instruction: bytes,
    signing_key: SigningKey,
    *,
    confirmed_at: datetime,
    rows_deleted: int | None = None,
) -> dict[str, Any]:
    """The signed confirmation of the instruction whose exact bytes are `instruction`."""
    document = json.loads(instruction)
    if rows_deleted is not None and (isinstance(rows_deleted, bool) or rows_deleted < 0):
        raise BadInput("must be a whole number of rows, 0 or more", where="--rows-deleted")
    return sign_document(
        {
            "format": CONFIRMATION_FORMAT,
            "purge_id": document["purge_id"],
            "recipient": document["recipient"],
            "instruction_sha256": hashlib.sha256(instruction).hexdigest(),
            "confirmed_at": iso_utc(confirmed_at),
            "rows_deleted": rows_deleted,
        },
        signing_key,
    )


def confirm_instruction(
    path: Path,
    bus_keys: PublicKeys,
    signing_key: SigningKey,
    *,
    confirmed_at: datetime,
    rows_deleted: int | None = None,
) -> dict[str, Any]:
    """What a recipient runs: check the instruction is the bus's, then sign its confirmation."""
    check = check_purge_instruction(Path(path), bus_keys)
    if not check.ok:
        raise BadInput(
            f"the purge instruction is not authentic: {'; '.join(check.problems)}",
            where=str(path),
            hint="confirm only an instruction that verifies with the bus's published key",
        )
    return confirmation_document(
        Path(path).read_bytes(), signing_key, confirmed_at=confirmed_at, rows_deleted=rows_deleted
    )


@dataclass
class ConfirmationCheck:
    """The bus's verdict on a confirmation: the signing key id, and every problem."""

    key_id: str | None
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when signature, purge, recipient and instruction all match."""
        return not self.problems


def check_confirmation(
    document: Mapping[str, Any], purge: Purge, recipient_key: Ed25519PublicKey
) -> ConfirmationCheck:
    """Check a confirmation against the purge the bus issued and the recipient's catalog key."""
    if not isinstance(document, Mapping):
        return ConfirmationCheck(None, ["not a JSON object"])
    key_id = key_id_of(recipient_key)
    verdict = verify_document(document, {key_id: recipient_key})
    problems = [f"signature: {text}" for text in verdict.problems]
    if document.get("format") != CONFIRMATION_FORMAT:
        problems.append(f"not a {CONFIRMATION_FORMAT} document")
    if set(document) - {"signature"} != _FIELDS:
        problems.append("fields differ from a purge confirmation's")
    if document.get("purge_id") != purge.purge_id:
        problems.append("confirms another purge")
    if document.get("recipient") != purge.recipient:
        problems.append("names another recipient than the purge's")
    if not purge.instruction_sha256 or document.get("instruction_sha256") != purge.instruction_sha256:
        problems.append("instruction_sha256 is not the instruction the bus sent (another or edited one)")
    rows = document.get("rows_deleted")
    if rows is not None and (isinstance(rows, bool) or not isinstance(rows, int) or rows < 0):
        problems.append("rows_deleted is not a whole number")
    return ConfirmationCheck(key_id if verdict.ok else None, problems)
