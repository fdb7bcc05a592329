"""Ledger entries of a subscription's life: requested, decided (signed), changed state; cursor resets.

A subscription asked for at run time leaves a trail an auditor can follow without the
state database: the request (`subscription.request`, with the SHA-256 of the request
document), each decision on it (`subscription.decision`, the decision document itself
with its embedded Ed25519 signature, see docs/subscribing.md), and every change of state
(`subscription.lifecycle`: activated with its initial load, suspended, resumed, ended,
backfilled). A dataset's cursor moved back by an operator is a `dataset.cursor-reset`.
Names, ids, counts and fingerprints only: no data value.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from audit.entries.reading import PayloadReader

__all__ = [
    "CursorResetEntry",
    "SubscriptionDecisionEntry",
    "SubscriptionLifecycleEntry",
    "SubscriptionRequestEntry",
]


@dataclass(frozen=True)
class SubscriptionRequestEntry:
    """An agency asked for a subscription; `request_sha256` fingerprints the whole request document.

    `basis` is `statute:<id>` or `consent`, as in delivery entries; `sink` is the sink's
    connector kind only (its settings stay in the state database).
    """

    KIND: ClassVar[str] = "subscription.request"

    subscription: str
    recipient: str
    dataset: str
    purpose: str
    basis: str
    fields: tuple[str, ...]
    pseudonymize_subject: bool
    sink: str
    ends_on: str | None
    requested_by: str
    request_sha256: str

    def to_payload(self) -> dict[str, Any]:
        """The payload to append."""
        return {
            "subscription": self.subscription,
            "recipient": self.recipient,
            "dataset": self.dataset,
            "purpose": self.purpose,
            "basis": self.basis,
            "fields": list(self.fields),
            "pseudonymize_subject": self.pseudonymize_subject,
            "sink": self.sink,
            "ends_on": self.ends_on,
            "requested_by": self.requested_by,
            "request_sha256": self.request_sha256,
        }

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any], *, seq: int | None = None) -> SubscriptionRequestEntry:
        """The record of a stored payload; FatalError naming the key if it is not one."""
        read = PayloadReader(payload, cls.KIND, seq)
        pseudo = payload.get("pseudonymize_subject") if isinstance(payload, Mapping) else None
        if not isinstance(pseudo, bool):
            read.text("pseudonymize_subject")  # raises, naming the key
        return cls(
            subscription=read.text("subscription"),
            recipient=read.text("recipient"),
            dataset=read.text("dataset"),
            purpose=read.text("purpose"),
            basis=read.text("basis"),
            fields=read.texts("fields"),
            pseudonymize_subject=bool(pseudo),
            sink=read.text("sink"),
            ends_on=read.optional_text("ends_on"),
            requested_by=read.text("requested_by"),
            request_sha256=read.text("request_sha256"),
        )


@dataclass(frozen=True)
class SubscriptionDecisionEntry:
    """A signed decision on a request: the decision document exactly as signed and handed out.

    `document` holds `format`, `request`, `request_sha256`, `decision` (approve | reject),
    `role` (owner | data-protection), `agency`, `by`, `reason`, `at` and the embedded
    `signature` block; the signature is over the canonical JSON of the document without
    it. The ledger keeps the whole document so that anyone holding the bus's public key
    can check a decision from the ledger alone.
    """

    KIND: ClassVar[str] = "subscription.decision"

    document: Mapping[str, Any]

    @property
    def request(self) -> str:
        """The request (the subscription id) decided on."""
        return str(self.document.get("request", ""))

    @property
    def decision(self) -> str:
        """`approve` or `reject`."""
        return str(self.document.get("decision", ""))

    def to_payload(self) -> dict[str, Any]:
        """The payload to append: the signed document itself."""
        return dict(self.document)

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any], *, seq: int | None = None) -> SubscriptionDecisionEntry:
        """The record of a stored payload; FatalError naming the key if it is not one."""
        read = PayloadReader(payload, cls.KIND, seq)
        for key in ("format", "request", "request_sha256", "decision", "role", "by", "reason", "at"):
            read.text(key)
        read.optional_text("agency")
        return cls(document=dict(payload))


@dataclass(frozen=True)
class SubscriptionLifecycleEntry:
    """A subscription changed state: `from_status` → `to_status` (`from_status` None when first seen).

    `origin` is `catalog` (declared in git) or `request` (approved at run time, then
    `approval_seq` is the ledger seq of the approving decision). `reason` is a short code
    or text (activated, suspended by the owner, end date reached, statute lapsed, backfill).
    An activation or backfill also says what the initial load holds: the snapshot's stage
    seq it was taken at, its rows, and for a backfill `since` (ISO, or None for all).
    """

    KIND: ClassVar[str] = "subscription.lifecycle"

    subscription: str
    dataset: str
    recipient: str
    purpose: str
    basis: str
    origin: str
    from_status: str | None
    to_status: str
    reason: str
    by: str
    approval_seq: int | None = None
    load_snapshot_seq: int | None = None
    load_rows: int | None = None
    load_since: str | None = None

    def to_payload(self) -> dict[str, Any]:
        """The payload to append; the load keys only when a load was pinned."""
        payload: dict[str, Any] = {
            "subscription": self.subscription,
            "dataset": self.dataset,
            "recipient": self.recipient,
            "purpose": self.purpose,
            "basis": self.basis,
            "origin": self.origin,
            "from_status": self.from_status,
            "to_status": self.to_status,
            "reason": self.reason,
            "by": self.by,
            "approval_seq": self.approval_seq,
        }
        if self.load_snapshot_seq is not None:
            payload["load"] = {
                "snapshot_seq": self.load_snapshot_seq,
                "rows": self.load_rows or 0,
                "since": self.load_since,
            }
        return payload

    @classmethod
    def from_payload(
        cls, payload: Mapping[str, Any], *, seq: int | None = None
    ) -> SubscriptionLifecycleEntry:
        """The record of a stored payload; FatalError naming the key if it is not one."""
        read = PayloadReader(payload, cls.KIND, seq)
        approval = payload.get("approval_seq") if isinstance(payload, Mapping) else None
        if approval is not None:
            approval = read.integer("approval_seq")
        load = payload.get("load") if isinstance(payload, Mapping) else None
        snapshot_seq = rows = since = None
        if load is not None:
            inner = PayloadReader(load, cls.KIND, seq)
            snapshot_seq, rows, since = (
                inner.integer("snapshot_seq"),
                inner.integer("rows"),
                inner.optional_text("since"),
            )
        return cls(
            subscription=read.text("subscription"),
            dataset=read.text("dataset"),
            recipient=read.text("recipient"),
            purpose=read.text("purpose"),
            basis=read.text("basis"),
            origin=read.text("origin"),
            from_status=read.optional_text("from_status"),
            to_status=read.text("to_status"),
            reason=read.text("reason"),
            by=read.text("by"),
            approval_seq=approval,
            load_snapshot_seq=snapshot_seq,
            load_rows=rows,
            load_since=since,
        )


@dataclass(frozen=True)
class CursorResetEntry:
    """An operator moved a dataset's cursor: its next stage reads the source again from there.

    `to` is `start` (read everything again) or `value`; the cursor itself is recorded only
    as `cursor_sha256` (a cursor can be a key value). `after_seq` is the dataset's newest
    stage when reset.
    """

    KIND: ClassVar[str] = "dataset.cursor-reset"

    dataset: str
    to: str
    cursor_sha256: str | None
    after_seq: int
    by: str
    reason: str

    def to_payload(self) -> dict[str, Any]:
        """The payload to append."""
        return {
            "dataset": self.dataset,
            "to": self.to,
            "cursor_sha256": self.cursor_sha256,
            "after_seq": self.after_seq,
            "by": self.by,
            "reason": self.reason,
        }

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any], *, seq: int | None = None) -> CursorResetEntry:
        """The record of a stored payload; FatalError naming the key if it is not one."""
        read = PayloadReader(payload, cls.KIND, seq)
        return cls(
            dataset=read.text("dataset"),
            to=read.text("to"),
            cursor_sha256=read.optional_text("cursor_sha256"),
            after_seq=read.integer("after_seq"),
            by=read.text("by"),
            reason=read.text("reason"),
        )
