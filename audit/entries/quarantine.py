"""Ledger entries of operators' work on quarantined rows: viewing unmasked, discarding, replaying."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from audit.entries.reading import PayloadReader

__all__ = ["QuarantineDiscardEntry", "QuarantineReplayEntry", "QuarantineViewEntry"]


@dataclass(frozen=True)
class QuarantineViewEntry:
    """A reveal of masked quarantined values, logged before anything is shown.

    `fields` are the masked fields the reveal uncovers; `quarantine_ids` the rows, in the
    order they were asked for.
    """

    KIND: ClassVar[str] = "quarantine-view"

    viewer: str
    reason: str
    datasets: tuple[str, ...]
    quarantine_ids: tuple[int, ...]
    fields: tuple[str, ...]

    def to_payload(self) -> dict[str, Any]:
        """The payload to append (lists, as the entries have always had)."""
        return {
            "viewer": self.viewer,
            "reason": self.reason,
            "datasets": list(self.datasets),
            "quarantine_ids": list(self.quarantine_ids),
            "fields": list(self.fields),
        }

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any], *, seq: int | None = None) -> QuarantineViewEntry:
        """The record of a stored `quarantine-view` payload; FatalError naming the key if not one."""
        read = PayloadReader(payload, cls.KIND, seq)
        return cls(
            viewer=read.text("viewer"),
            reason=read.text("reason"),
            datasets=read.texts("datasets"),
            quarantine_ids=read.integers("quarantine_ids"),
            fields=read.texts("fields"),
        )


@dataclass(frozen=True)
class QuarantineDiscardEntry:
    """Open quarantined rows discarded by an operator (`by`), for `reason`."""

    KIND: ClassVar[str] = "quarantine-discard"

    by: str
    reason: str
    datasets: tuple[str, ...]
    quarantine_ids: tuple[int, ...]

    def to_payload(self) -> dict[str, Any]:
        """The payload to append (lists, as the entries have always had)."""
        return {
            "by": self.by,
            "reason": self.reason,
            "datasets": list(self.datasets),
            "quarantine_ids": list(self.quarantine_ids),
        }

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any], *, seq: int | None = None) -> QuarantineDiscardEntry:
        """The record of a stored `quarantine-discard` payload; FatalError naming the key if not one."""
        read = PayloadReader(payload, cls.KIND, seq)
        return cls(
            by=read.text("by"),
            reason=read.text("reason"),
            datasets=read.texts("datasets"),
            quarantine_ids=read.integers("quarantine_ids"),
        )


@dataclass(frozen=True)
class QuarantineReplayEntry:
    """A replay of quarantined rows of one dataset, by quarantine id (no value).

    `stage_id` is the stage the replayed rows went into, None when none did;
    `still_quarantined` are the rows that failed again.
    """

    KIND: ClassVar[str] = "quarantine-replay"

    dataset: str
    by: str
    stage_id: str | None
    contract_version: str
    schema_sha256: str
    replayed: tuple[int, ...]
    still_quarantined: tuple[int, ...]
    superseded: tuple[int, ...]
    unreadable: tuple[int, ...]

    def to_payload(self) -> dict[str, Any]:
        """The payload to append (lists, as the entries have always had)."""
        return {
            "dataset": self.dataset,
            "by": self.by,
            "stage_id": self.stage_id,
            "contract_version": self.contract_version,
            "schema_sha256": self.schema_sha256,
            "replayed": list(self.replayed),
            "still_quarantined": list(self.still_quarantined),
            "superseded": list(self.superseded),
            "unreadable": list(self.unreadable),
        }

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any], *, seq: int | None = None) -> QuarantineReplayEntry:
        """The record of a stored `quarantine-replay` payload; FatalError naming the key if not one."""
        read = PayloadReader(payload, cls.KIND, seq)
        return cls(
            dataset=read.text("dataset"),
            by=read.text("by"),
            stage_id=read.optional_text("stage_id"),
            contract_version=read.text("contract_version"),
            schema_sha256=read.text("schema_sha256"),
            replayed=read.integers("replayed"),
            still_quarantined=read.integers("still_quarantined"),
            superseded=read.integers("superseded"),
            unreadable=read.integers("unreadable"),
        )
