"""Catalog changes in the ledger: auditors see when a subscription, its fields or a law changed.

The catalog is reviewed in git, but what the bus actually ran with is what an auditor
must be able to prove. So every stage step (the start of every run, under `govbus run`
and under Airflow alike) compares the catalog it loaded with the one the ledger last
recorded, and if anything differs appends one `catalog.changed` entry before any data
moves. `govbus audit catalog` does the same on demand (say, right after a deploy).

The catalog is cut into items, each with the SHA-256 of its canonical JSON:
`agency:ID`, `purpose:CODE`, `statute:ID`, `dataset:ID` (the contract: owner, fields and
their classes, rules, SLA, source settings as declared — `${VARS}`, never secrets),
`schema:DATASET/vN` (the Avro parsing-canonical-form fingerprint) and `subscription:ID`
(recipient, purpose, basis, fields, pseudonymization, sink, schedule). Where and how an
item is written (file, line, comments, key order) does not count; what it says does.

The entry's payload: `catalog_sha256` and `previous_sha256` (the whole catalog's), the
`changes` (each item `added`, `removed` or `changed` with its old and new fingerprints;
for subscriptions and statutes also the fields added and removed), and the full `items`
and `fields` maps that the next comparison starts from. Names and fingerprints only: no
data. The very first entry records the whole catalog, every item `added`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

import audit

if TYPE_CHECKING:
    from exchange.catalog.loader import Catalog
    from exchange.ctx import StepContext

CATALOG_CHANGED = audit.CatalogChangedEntry.KIND
FORMAT = "govbus-catalog/1"
# Where an item is declared is not what it says (file, line) and the contract's own path.
_NOT_CONTENT = {"file", "line", "lines", "path", "origin", "approval_seq"}
# Declared only when set: left out when None or empty, so older catalogs keep their fingerprints.
_ONLY_WHEN_SET = {"ends_on", "delivery_targets"}


def _plain(value: Any) -> Any:
    """JSON-able form of catalog objects: dataclasses by field, sorted maps, ISO times."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: _plain(getattr(value, f.name))
            for f in dataclasses.fields(value)
            if f.compare
            and f.name not in _NOT_CONTENT
            and not (f.name in _ONLY_WHEN_SET and getattr(value, f.name) in (None, ()))
        }
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, Path):
        return value.as_posix()
    return value


def _sha256(value: Any) -> str:
    return hashlib.sha256(audit.canonical_json({"v": _plain(value)}).encode("utf-8")).hexdigest()


def catalog_items(catalog: Catalog) -> tuple[dict[str, str], dict[str, list[str]]]:
    """(item id → SHA-256 of what it declares, item id → its field list for subscriptions and statutes)."""
    items: dict[str, str] = {}
    fields: dict[str, list[str]] = {}
    for agency_id, agency in catalog.agencies.items():
        items[f"agency:{agency_id}"] = _sha256(agency)
    for code, purpose in catalog.purposes.items():
        items[f"purpose:{code}"] = _sha256(purpose)
    for statute_id, statute in catalog.statutes.items():
        items[f"statute:{statute_id}"] = _sha256(statute)
        fields[f"statute:{statute_id}"] = list(statute.fields)
    for dataset_id, dataset in catalog.datasets.items():
        items[f"dataset:{dataset_id}"] = _sha256(dataset.contract)
        for version in dataset.versions:
            items[f"schema:{dataset_id}/{version.label}"] = version.fingerprint_sha256
    for sub_id, sub in catalog.subscriptions.items():
        items[f"subscription:{sub_id}"] = _sha256(sub)
        fields[f"subscription:{sub_id}"] = list(sub.fields)
    return dict(sorted(items.items())), dict(sorted(fields.items()))


def catalog_sha256(items: Mapping[str, str]) -> str:
    """The whole catalog's fingerprint: SHA-256 of the canonical JSON of its item map."""
    return hashlib.sha256(audit.canonical_json(dict(items)).encode("utf-8")).hexdigest()


def last_recorded(conn: sa.Connection) -> audit.CatalogChangedEntry | None:
    """The newest `catalog.changed` entry, or None if the ledger has none."""
    ledger = audit.AUDIT_METADATA.tables["ledger"]
    row = conn.execute(
        sa.select(ledger.c.seq, ledger.c.payload)
        .where(ledger.c.kind == CATALOG_CHANGED)
        .order_by(ledger.c.seq.desc())
        .limit(1)
    ).first()
    return (
        None if row is None else audit.CatalogChangedEntry.from_payload(json.loads(row.payload), seq=row.seq)
    )


def catalog_changes(
    old_items: Mapping[str, str],
    new_items: Mapping[str, str],
    old_fields: Mapping[str, Sequence[str]],
    new_fields: Mapping[str, Sequence[str]],
) -> list[audit.CatalogChange]:
    """What differs, item by item in id order (empty: nothing changed)."""
    changes: list[audit.CatalogChange] = []
    for item in sorted(set(old_items) | set(new_items)):
        old, new = old_items.get(item), new_items.get(item)
        if old == new:
            continue
        added = removed = None
        if item in old_fields or item in new_fields:
            before, after = old_fields.get(item, ()), new_fields.get(item, ())
            added = tuple(f for f in after if f not in before)
            removed = tuple(f for f in before if f not in after)
        changes.append(
            audit.CatalogChange(
                item=item,
                change="added" if old is None else "removed" if new is None else "changed",
                old_sha256=old,
                new_sha256=new,
                fields_added=added,
                fields_removed=removed,
            )
        )
    return changes


def _pending(
    conn: sa.Connection, items: dict[str, str], fields: dict[str, list[str]]
) -> audit.CatalogChangedEntry | None:
    """The entry to append, or None if the ledger already records this catalog."""
    last = last_recorded(conn)
    changes = catalog_changes(last.items if last else {}, items, last.fields if last else {}, fields)
    if last is not None and not changes:
        return None
    return audit.CatalogChangedEntry(
        format=FORMAT,
        catalog_sha256=catalog_sha256(items),
        previous_sha256=last.catalog_sha256 if last else None,
        changes=tuple(changes),
        items=items,
        fields={item: tuple(names) for item, names in fields.items()},
    )


def record_catalog_change(ctx: StepContext) -> audit.LedgerEntry | None:
    """Append one `catalog.changed` entry if the bus's catalog differs from the last recorded.

    Returns the entry, or None when nothing changed. Safe when several workers start at
    once: the common case (no change) only reads; a change is re-checked under the
    ledger lock, so it is recorded exactly once.
    """
    items, fields = catalog_items(ctx.catalog)
    with ctx.engine.connect() as conn:
        if _pending(conn, items, fields) is None:
            return None
    with ctx.locked("ledger"), ctx.engine.begin() as conn:
        pending = _pending(conn, items, fields)
        return None if pending is None else ctx.ledger.append_entry(conn, pending)
