"""Verifying a SQL delivery from the rows the recipient's table holds now.

The SQL sink keeps each batch's signed manifest in `govbus_delivery_manifests` with the
batch's record leaf hashes sorted ascending (see `connectors.sql.manifest_table`). A
recipient checks (`verify_table_rows`, `govbus verify-delivery --sql URL --table T`):

1. each stored manifest: canonical JSON of format `govbus-delivery-manifest/1`, signed by
   a trusted key, for the batch id it is stored under; the stored leaves' RFC 6962 root
   equals the signed `delivery.records_sorted_root`, and their number the signed row count;
2. every row the table holds, re-hashed with the spec's record leaf encoding
   (`audit.record_leaf_hashes`) in the signed field order and the delivered types, is one
   of the leaves of a verified batch. A row changed by hand (or inserted) matches none:
   it is reported, by count only, never by value.

What this cannot show: a row the recipient deleted (its leaf is simply not held, like a
row a later batch replaced by an upsert: both show as "no longer held"), or a row set
back to an older delivered version of itself (its old leaf is a genuine one). The
ledger's delivery entries (`manifest_sha256`, row counts) are the bus's side of that story.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import pyarrow as pa
from cryptography.exceptions import InvalidSignature

from audit import PublicKeys, canonical_json, merkle_root, record_leaf_hashes
from consent.protect.manifests import MANIFEST_FORMAT

_LEAF = 32


class StoredManifestRow(Protocol):
    """What a manifest row holds (`connectors.StoredManifest` is one)."""

    @property
    def batch_id(self) -> str:
        """The batch id it is stored under."""

    @property
    def rows(self) -> int:
        """The row count stored beside it."""

    @property
    def sorted_root(self) -> str:
        """The stored root of the sorted leaves."""

    @property
    def data(self) -> bytes:
        """The exact manifest bytes."""

    @property
    def signature(self) -> bytes:
        """The raw Ed25519 signature."""

    @property
    def arrow_schema(self) -> bytes:
        """The delivered schema (Arrow IPC)."""

    @property
    def leaves(self) -> bytes:
        """The batch's sorted leaf hashes, concatenated."""


@dataclass
class BatchCheck:
    """One stored manifest's verdict and how many of its rows the table still holds."""

    batch_id: str
    ok: bool
    key_id: str | None = None
    rows: int = 0
    held: int = 0
    problems: list[str] = field(default_factory=list)


@dataclass
class TableReport:
    """The verdict on a table: every stored manifest, and the rows matched to them."""

    location: str
    batches: list[BatchCheck]
    rows_held: int = 0
    rows_unmatched: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when there was a manifest, each verified, and every held row matched one."""
        return (
            bool(self.batches)
            and all(batch.ok for batch in self.batches)
            and not self.rows_unmatched
            and not self.problems
        )


def _check_stored(stored: StoredManifestRow, trusted_keys: PublicKeys) -> tuple[BatchCheck, Any]:
    """Signature, canonical form, batch id, root and count of one stored manifest."""
    check = BatchCheck(batch_id=stored.batch_id, ok=False, rows=stored.rows)
    try:
        document = json.loads(stored.data.decode("utf-8"))
        if not isinstance(document, dict):
            raise ValueError
    except (UnicodeDecodeError, ValueError):
        check.problems.append("manifest is not a JSON object")
        return check, None
    if document.get("manifest") != MANIFEST_FORMAT:
        check.problems.append("not a GovBus delivery manifest")
    if canonical_json(document).encode("utf-8") != stored.data:
        check.problems.append("manifest is not in canonical form (edited?)")
    key_id = document.get("key_id")
    if not isinstance(key_id, str) or key_id not in trusted_keys:
        check.problems.append("signed by an unknown key id (not among the trusted keys)")
    else:
        try:
            trusted_keys[key_id].verify(stored.signature, stored.data)
            check.key_id = key_id
        except InvalidSignature:
            check.problems.append("signature does not verify (content changed or signed by another key)")
    delivery = document.get("delivery") if isinstance(document.get("delivery"), dict) else {}
    rows = document.get("rows") if isinstance(document.get("rows"), dict) else {}
    if document.get("batch_id") != stored.batch_id:
        check.problems.append("the manifest is of another batch than the row it is stored in")
    if delivery.get("records_sorted_root") != stored.sorted_root:
        check.problems.append("the stored root differs from the signed records_sorted_root")
    leaves = stored.leaves
    count = len(leaves) // _LEAF
    if len(leaves) % _LEAF or count != rows.get("delivered") or count != stored.rows:
        check.problems.append("the stored leaf hashes do not number the signed rows")
    elif merkle_root([leaves[i : i + _LEAF] for i in range(0, len(leaves), _LEAF)]) != stored.sorted_root:
        check.problems.append("the stored leaf hashes do not give the signed root (altered)")
    try:
        schema = pa.ipc.read_schema(pa.py_buffer(stored.arrow_schema))
        if schema.names != delivery.get("fields"):
            check.problems.append("the stored schema's fields differ from the signed fields")
    except (pa.ArrowInvalid, OSError):
        check.problems.append("the stored Arrow schema cannot be read")
        schema = None
    check.ok = not check.problems
    return check, schema


def verify_table_rows(
    location: str,
    stored: Sequence[StoredManifestRow],
    trusted_keys: PublicKeys,
    read_rows: Callable[[pa.Schema], Iterable[pa.Table]],
) -> TableReport:
    """Check a table's stored manifests, then match every row it holds (see module doc).

    `read_rows(schema)` yields the table's rows as `schema`'s fields and types
    (`connectors.read_rows`). Rows are matched against the verified batches sharing their
    delivered schema; a table that changed schema over time is read once per schema and a
    row matches if it matches under any of them.
    """
    report = TableReport(location, [])
    known: dict[bytes, tuple[pa.Schema, list[np.ndarray], list[BatchCheck]]] = {}
    for row in stored:
        check, schema = _check_stored(row, trusted_keys)
        report.batches.append(check)
        if check.ok and schema is not None:
            entry = known.setdefault(row.arrow_schema, (schema, [], []))
            entry[1].append(np.frombuffer(row.leaves, dtype=f"S{_LEAF}"))
            entry[2].append(check)
    if not report.batches:
        report.problems.append("no delivery manifest is stored for this table")
        return report
    matched_any: np.ndarray | None = None
    for schema, leaf_sets, checks in known.values():
        everything = np.concatenate(leaf_sets) if leaf_sets else np.array([], dtype=f"S{_LEAF}")
        matched_parts, held_parts = [], []
        for data in read_rows(schema):
            if not data.num_rows:
                continue
            hashes = np.frombuffer(b"".join(record_leaf_hashes(data)), dtype=f"S{_LEAF}")
            matched_parts.append(np.isin(hashes, everything))
            held_parts.append(hashes)
        matched = np.concatenate(matched_parts) if matched_parts else np.zeros(0, dtype=bool)
        held = np.concatenate(held_parts) if held_parts else np.array([], dtype=f"S{_LEAF}")
        matched_any = matched if matched_any is None else matched_any | matched
        for leaves, check in zip(leaf_sets, checks, strict=True):
            check.held = int(np.isin(leaves, held).sum())
    if matched_any is None:
        report.problems.append("no stored manifest verified: the rows cannot be matched to a batch")
        return report
    report.rows_held = len(matched_any)
    report.rows_unmatched = int((~matched_any).sum())
    return report
