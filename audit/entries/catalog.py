"""The ledger entry that records what the bus ran with when its catalog changed."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from audit.entries.reading import PayloadReader

__all__ = ["CatalogChange", "CatalogChangedEntry"]


@dataclass(frozen=True)
class CatalogChange:
    """One catalog item that differs from the last recorded catalog.

    `change` is `added`, `removed` or `changed`; a side's fingerprint is None where the
    item is absent. `fields_added` / `fields_removed` are None for items without fields
    (agencies, purposes, datasets, schemas) and present — possibly empty — for
    subscriptions and statutes: the payload has those keys only then.
    """

    item: str
    change: str
    old_sha256: str | None
    new_sha256: str | None
    fields_added: tuple[str, ...] | None = None
    fields_removed: tuple[str, ...] | None = None

    def to_payload(self) -> dict[str, Any]:
        """This change as the entry's `changes` list holds it."""
        payload: dict[str, Any] = {
            "item": self.item,
            "change": self.change,
            "old_sha256": self.old_sha256,
            "new_sha256": self.new_sha256,
        }
        if self.fields_added is not None or self.fields_removed is not None:
            payload["fields_added"] = list(self.fields_added or ())
            payload["fields_removed"] = list(self.fields_removed or ())
        return payload

    @classmethod
    def _read(cls, read: PayloadReader) -> CatalogChange:
        with_fields = read.has("fields_added") or read.has("fields_removed")
        return cls(
            item=read.text("item"),
            change=read.text("change"),
            old_sha256=read.optional_text("old_sha256"),
            new_sha256=read.optional_text("new_sha256"),
            fields_added=read.texts("fields_added") if with_fields else None,
            fields_removed=read.texts("fields_removed") if with_fields else None,
        )


@dataclass(frozen=True)
class CatalogChangedEntry:
    """The catalog the bus ran with differs from the one the ledger last recorded.

    `items` maps each catalog item (`agency:ID`, `dataset:ID`, `subscription:ID`, ...) to
    the SHA-256 of its canonical JSON and `fields` the fields of subscriptions and
    statutes: the next comparison starts from them. `previous_sha256` is None in the
    first such entry. Names and fingerprints only: no data.
    """

    KIND: ClassVar[str] = "catalog.changed"

    format: str
    catalog_sha256: str
    previous_sha256: str | None
    changes: tuple[CatalogChange, ...]
    items: Mapping[str, str] = field(hash=False)
    fields: Mapping[str, tuple[str, ...]] = field(hash=False)

    def to_payload(self) -> dict[str, Any]:
        """The payload to append (lists and objects, as the entries have always had)."""
        return {
            "format": self.format,
            "catalog_sha256": self.catalog_sha256,
            "previous_sha256": self.previous_sha256,
            "changes": [change.to_payload() for change in self.changes],
            "items": dict(self.items),
            "fields": {item: list(names) for item, names in self.fields.items()},
        }

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any], *, seq: int | None = None) -> CatalogChangedEntry:
        """The record of a stored `catalog.changed` payload; FatalError naming the key if not one."""
        read = PayloadReader(payload, cls.KIND, seq)
        return cls(
            format=read.text("format"),
            catalog_sha256=read.text("catalog_sha256"),
            previous_sha256=read.optional_text("previous_sha256"),
            changes=tuple(
                CatalogChange._read(read.within("changes", i)) for i in range(len(read.objects("changes")))
            ),
            items=read.text_map("items"),
            fields=read.texts_map("fields"),
        )
