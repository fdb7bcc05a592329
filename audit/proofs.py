"""Inclusion proofs of ledger entries and consistency proofs between checkpoints, as JSON documents.

The document holds the entry as stored (payload as its exact canonical JSON text), its
leaf index and hash, the RFC 6962 audit path and the checkpoint (size, root, time, key
id, signature). `check_entry_proof` verifies it with nothing but the bus's public keys:
entry hash recomputed from the content, the entry's signature, the path up to the root,
and the checkpoint's signature over that root. An inclusion proof may name an older
checkpoint (`checkpoint=N`): an auditor who holds checkpoint N checks against the root
it already trusts. `consistency_document` proves (RFC 6962 §2.1.2) that checkpoint M's
tree extends checkpoint N's, so an auditor can move its pin forward without the entries.

The bus builds the path from the ledger's stored tiles (`audit.ledger.tiles`): a few
hundred hashes per level, however long the ledger. The checker trusts no tile: a path
built from a wrong one does not lead to the signed root.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from audit.ledger.chain import compute_entry_hash, signature_problem
from audit.ledger.checkpoints import (
    Checkpoint,
    checkpoint_numbered,
    checkpoint_signature_problem,
    latest_checkpoint,
)
from audit.ledger.tiles import StoredTree, ledger_size
from audit.ledger.tree import MerkleHashes, entry_leaf_hash, verify_consistency
from audit.merkle import verify_inclusion
from audit.tables import ledger as ledger_table
from govbus.errors import BadInput
from govbus.instants import iso_utc

PROOF_FORMAT = "govbus-ledger-inclusion/1"
CONSISTENCY_FORMAT = "govbus-ledger-consistency/1"
LEAF_RULE = "leaf = SHA-256(0x00 || entry_hash bytes); node = SHA-256(0x01 || left || right)"


@dataclass(frozen=True)
class EntryRecord:
    """A ledger entry read from a document, shaped like a `ledger` row (payload as text)."""

    seq: int
    at: datetime
    kind: str
    payload: str
    prev_hash: str
    entry_hash: str
    key_id: str
    signature: str


def entry_from_json(data: Mapping[str, Any]) -> EntryRecord:
    """Inverse of `entry_json`; KeyError/TypeError/ValueError on a malformed document."""
    seq = data["seq"]
    texts = [data[name] for name in ("kind", "payload", "prev_hash", "entry_hash", "key_id", "signature")]
    if not isinstance(seq, int) or isinstance(seq, bool) or not all(isinstance(t, str) for t in texts):
        raise TypeError("seq must be an integer and the other fields text")
    return EntryRecord(seq, datetime.fromisoformat(str(data["at"])), *texts)


def entry_json(row: Any) -> dict[str, Any]:
    """A stored entry as JSON: `payload` stays the exact text its hash covers."""
    return {
        "seq": row.seq,
        "at": iso_utc(row.at),
        "kind": row.kind,
        "payload": row.payload,
        "prev_hash": row.prev_hash,
        "entry_hash": row.entry_hash,
        "key_id": row.key_id,
        "signature": row.signature,
    }


def _checkpoint(conn: sa.Connection, number: int | None) -> Checkpoint:
    """Checkpoint `number` (None: the latest); BadInput when there is no such checkpoint."""
    checkpoint = latest_checkpoint(conn) if number is None else checkpoint_numbered(conn, number)
    if checkpoint is None:
        raise BadInput(
            "the ledger has no checkpoint yet"
            if number is None
            else "the ledger has no checkpoint with this number",
            where="ledger_checkpoints" if number is None else f"checkpoint {number}",
            hint="take one with `govbus audit checkpoint` (every run ends with one)",
        )
    return checkpoint


def entry_proof(conn: sa.Connection, seq: int, *, checkpoint: int | None = None) -> dict[str, Any]:
    """The inclusion proof document of entry `seq` against checkpoint `checkpoint` (default: latest)."""
    number = checkpoint
    checkpoint_row = _checkpoint(conn, number)
    row = conn.execute(sa.select(ledger_table).where(ledger_table.c.seq == seq)).first()
    if row is None:
        raise BadInput(
            "no ledger entry has this seq", where="seq", hint="list entries with `govbus audit verify`"
        )
    index = row.seq - 1
    if index >= checkpoint_row.tree_size:
        raise BadInput(
            "the entry is newer than the latest checkpoint"
            if number is None
            else f"the entry is newer than checkpoint {number}",
            where="seq",
            hint="take a checkpoint with `govbus audit checkpoint` or name a newer one, then ask again",
        )
    return _document(row, index, _checkpoint_tree(conn, checkpoint_row), checkpoint_row)


def consistency_document(conn: sa.Connection, old: int, new: int) -> dict[str, Any]:
    """RFC 6962 consistency proof that checkpoint `new`'s tree extends checkpoint `old`'s."""
    if not 1 <= old <= new:
        raise BadInput(
            "the first checkpoint must not be newer than the second", where=f"--from {old} --to {new}"
        )
    first, second = _checkpoint(conn, old), _checkpoint(conn, new)
    if first.tree_size < 1 or first.tree_size > second.tree_size:
        raise BadInput(
            "no consistency proof exists between these checkpoints",
            where=f"checkpoints {old} and {new}",
            hint="run `govbus audit verify`: a later checkpoint covers fewer entries",
        )
    tree = _checkpoint_tree(conn, second)
    return {
        "format": CONSISTENCY_FORMAT,
        "leaf_rule": LEAF_RULE,
        "old": first.to_json(),
        "new": second.to_json(),
        "proof": [node.hex() for node in tree.consistency_proof(first.tree_size, second.tree_size)],
    }


def check_consistency_document(
    document: Mapping[str, Any], public_keys: Mapping[str, Ed25519PublicKey]
) -> list[str]:
    """What is wrong with a consistency document (empty list: `new` extends `old`)."""
    try:
        first, second = Checkpoint.from_json(document["old"]), Checkpoint.from_json(document["new"])
        proof = [bytes.fromhex(h) for h in document["proof"]]
    except (KeyError, TypeError, ValueError, AttributeError):
        return ["not a ledger consistency proof document"]
    problems = [
        f"checkpoint {c.number}: {bad}"
        for c in (first, second)
        if (bad := checkpoint_signature_problem(c, public_keys))
    ]
    if not verify_consistency(first.tree_size, second.tree_size, first.root, second.root, proof):
        problems.append(f"checkpoint {second.number} does not extend checkpoint {first.number}")
    return problems


def entry_proofs(conn: sa.Connection, seqs: Iterable[int]) -> dict[int, dict[str, Any]]:
    """Proof documents of several entries against the latest checkpoint, sharing one tree.

    Entries newer than the checkpoint (all of them while there is none) are left out of
    the answer; a seq with no entry is BadInput, as in `entry_proof`. The hashes come
    from the stored tiles: about 256 per level for each entry, not the whole ledger.
    """
    wanted = sorted(set(seqs))
    checkpoint = latest_checkpoint(conn)
    if checkpoint is None or not wanted:
        return {}
    tree = _checkpoint_tree(conn, checkpoint)
    rows = conn.execute(sa.select(ledger_table).where(ledger_table.c.seq.in_(wanted))).all()
    if len(rows) != len(wanted):
        raise BadInput(
            "no ledger entry has this seq", where="seq", hint="list entries with `govbus audit verify`"
        )
    documents: dict[int, dict[str, Any]] = {}
    for row in rows:
        if row.seq - 1 < checkpoint.tree_size:
            documents[row.seq] = _document(row, row.seq - 1, tree, checkpoint)
    return documents


def _checkpoint_tree(conn: sa.Connection, checkpoint: Checkpoint) -> StoredTree:
    """The ledger's tree at the checkpoint's size, over the stored tiles."""
    if checkpoint.tree_size > ledger_size(conn):
        raise BadInput(
            "the latest checkpoint covers more entries than the ledger holds",
            where="ledger",
            hint="run `govbus audit verify`: entries were removed",
        )
    return StoredTree(conn, checkpoint.tree_size)


def _document(row: Any, index: int, tree: MerkleHashes, checkpoint: Checkpoint) -> dict[str, Any]:
    return {
        "format": PROOF_FORMAT,
        "leaf_rule": LEAF_RULE,
        "entry": entry_json(row),
        "leaf_index": index,
        "leaf_hash": tree.leaf(index).hex(),
        "tree_size": checkpoint.tree_size,
        "root": tree.root(),
        "audit_path": [node.hex() for node in tree.inclusion_proof(index, tree.size)],
        "checkpoint": checkpoint.to_json(),
    }


def check_entry_proof(document: Mapping[str, Any], public_keys: Mapping[str, Ed25519PublicKey]) -> list[str]:
    """What is wrong with a proof document (empty list: it proves the entry is in the log)."""
    try:
        row = entry_from_json(document["entry"])
        checkpoint = Checkpoint.from_json(document["checkpoint"])
        index, path = int(document["leaf_index"]), [bytes.fromhex(h) for h in document["audit_path"]]
    except (KeyError, TypeError, ValueError, AttributeError):
        return ["not a ledger inclusion proof document"]
    problems: list[str] = []
    if compute_entry_hash(row.seq, row.at, row.kind, row.payload, row.prev_hash) != row.entry_hash:
        problems.append(f"entry {row.seq}: content does not match its hash")
    bad = signature_problem(public_keys, row)
    if bad:
        problems.append(f"entry {row.seq}: {bad}")
    if index != row.seq - 1:
        problems.append(f"entry {row.seq}: leaf index is not seq - 1")
    if not verify_inclusion(
        entry_leaf_hash(row.entry_hash), index, checkpoint.tree_size, path, checkpoint.root
    ):
        problems.append(f"entry {row.seq}: audit path does not lead to checkpoint {checkpoint.number}'s root")
    bad = checkpoint_signature_problem(checkpoint, public_keys)
    if bad:
        problems.append(f"checkpoint {checkpoint.number}: {bad}")
    return problems


def dumps(document: Mapping[str, Any]) -> str:
    """Pretty JSON of a proof document (stable key order)."""
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False)
