"""The ledger entry of one delivered batch: what left, to whom, on which basis, with which Merkle root."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from audit.entries.reading import PayloadReader

__all__ = ["DeliveryEntry"]


@dataclass(frozen=True)
class DeliveryEntry:
    """One delivered batch as its `delivery` ledger entry records it.

    Appended by the deliver step for every batch (also one whose rows were all denied,
    with `rows_delivered == 0`), in the transaction that records the batch's checkpoint
    and its access-index rows; its seq is what the access index and the purge register
    point at.

    `denials` counts denied rows by reason; `fields` are the delivered column names
    (with `subject_pseudonym` when the subscription pseudonymizes); `files` are the
    (name, sha256) of the delivered files (the `.enc` ones when encrypted), empty for
    database sinks; `merkle_root` is over the records as they left the bus (reversible
    fields as ciphertext). `reversible_fields` and `encrypted_files` are written only
    when the subscription uses them, so plain deliveries keep their older exact form;
    `load` (`initial`) marks a batch of a subscriber's initial load or backfill.
    """

    KIND: ClassVar[str] = "delivery"

    dataset: str
    contract_version: str
    schema_sha256: str
    subscription: str
    recipient: str
    purpose: str
    basis: str
    policy_version: str
    consents_used: int
    batch_id: str
    rows_delivered: int
    rows_denied: int
    denials: Mapping[str, int] = field(hash=False)
    fields: tuple[str, ...]
    pseudonym_key_id: str | None
    merkle_root: str
    files: tuple[tuple[str, str], ...]
    manifest_sha256: str | None
    reversible_fields: tuple[str, ...] = ()
    encrypted_files: bool = False
    load: str | None = None  # `initial`: part of a subscriber's initial load (or backfill)

    def to_payload(self) -> dict[str, Any]:
        """The payload to append: exactly the keys and JSON types deliveries have always had."""
        payload: dict[str, Any] = {
            "dataset": self.dataset,
            "contract_version": self.contract_version,
            "schema_sha256": self.schema_sha256,
            "subscription": self.subscription,
            "recipient": self.recipient,
            "purpose": self.purpose,
            "basis": self.basis,
            "policy_version": self.policy_version,
            "consents_used": self.consents_used,
            "batch_id": self.batch_id,
            "rows_delivered": self.rows_delivered,
            "rows_denied": self.rows_denied,
            "denials": dict(self.denials),
            "fields": list(self.fields),
            "pseudonym_key_id": self.pseudonym_key_id,
            "merkle_root": self.merkle_root,
            "files": [[name, digest] for name, digest in self.files],
            "manifest_sha256": self.manifest_sha256,
        }
        # Named only when used, so entries of plain deliveries keep their exact form.
        if self.reversible_fields:
            payload["reversible_fields"] = list(self.reversible_fields)
        if self.encrypted_files:
            payload["encrypted_files"] = True
        if self.load is not None:
            payload["load"] = self.load
        return payload

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any], *, seq: int | None = None) -> DeliveryEntry:
        """The record of a stored `delivery` payload; FatalError naming the key if it is not one.

        Pass the entry's `seq` so that the error says which entry to look at.
        """
        read = PayloadReader(payload, cls.KIND, seq)
        return cls(
            dataset=read.text("dataset"),
            contract_version=read.text("contract_version"),
            schema_sha256=read.text("schema_sha256"),
            subscription=read.text("subscription"),
            recipient=read.text("recipient"),
            purpose=read.text("purpose"),
            basis=read.text("basis"),
            policy_version=read.text("policy_version"),
            consents_used=read.integer("consents_used"),
            batch_id=read.text("batch_id"),
            rows_delivered=read.integer("rows_delivered"),
            rows_denied=read.integer("rows_denied"),
            denials=read.counts("denials"),
            fields=read.texts("fields"),
            pseudonym_key_id=read.optional_text("pseudonym_key_id"),
            merkle_root=read.text("merkle_root"),
            files=read.pairs("files"),
            manifest_sha256=read.optional_text("manifest_sha256"),
            reversible_fields=read.texts_if_present("reversible_fields"),
            encrypted_files=read.true_if_present("encrypted_files"),
            load=read.optional_text("load") if read.has("load") else None,
        )
