"""The ledger's RFC 6962 tree: roots, inclusion and consistency proofs for every size 1..20,
tampered proofs refused, and the database functions on SQLite, PostgreSQL and MariaDB."""

from __future__ import annotations

import hashlib

import pytest
import sqlalchemy as sa

from audit import (
    Ledger,
    LedgerTree,
    check_entry_proof,
    entry_leaf_hash,
    entry_proof,
    ledger_consistency_proof,
    ledger_inclusion_proof,
    ledger_tree_head,
    merkle_root,
    verify_consistency,
    verify_inclusion,
)
from consent import KeyStore
from govbus.errors import BadInput

SIZES = range(1, 21)


def _leaves(count: int) -> list[bytes]:
    return [entry_leaf_hash(hashlib.sha256(str(i).encode()).hexdigest()) for i in range(count)]


def _flip(node: bytes) -> bytes:
    return bytes([node[0] ^ 1]) + node[1:]


def test_leaf_hash_is_rfc6962() -> None:
    entry_hash = "ab" * 32
    assert entry_leaf_hash(entry_hash) == hashlib.sha256(b"\x00" + bytes.fromhex(entry_hash)).digest()
    assert entry_leaf_hash("not hex") != entry_leaf_hash("not hex either")
    tree = LedgerTree(_leaves(2))
    assert tree.root() == hashlib.sha256(b"\x01" + tree.leaf(0) + tree.leaf(1)).hexdigest()
    assert LedgerTree([]).root() == hashlib.sha256(b"").hexdigest()


def test_roots_and_inclusion_proofs_for_every_size() -> None:
    leaves = _leaves(20)
    tree = LedgerTree(leaves)
    for size in SIZES:
        root = tree.root(size)
        assert root == merkle_root(leaves[:size])  # the foundation's independent recursion
        for index in range(size):
            proof = tree.inclusion_proof(index, size)
            assert verify_inclusion(leaves[index], index, size, proof, root)
            assert not verify_inclusion(_flip(leaves[index]), index, size, proof, root)
            if size > 1:
                assert not verify_inclusion(leaves[index], (index + 1) % size, size, proof, root)
                tampered = [_flip(proof[0]), *proof[1:]]
                assert not verify_inclusion(leaves[index], index, size, tampered, root)
                assert not verify_inclusion(leaves[index], index, size, proof[:-1], root)
            assert not verify_inclusion(leaves[index], size, size, proof, root)  # outside


def test_consistency_proofs_for_every_pair_of_sizes() -> None:
    tree = LedgerTree(_leaves(20))
    other = LedgerTree(_leaves(21)[1:])  # a different history of the same length
    for new in SIZES:
        for old in range(1, new + 1):
            proof = tree.consistency_proof(old, new)
            old_root, new_root = tree.root(old), tree.root(new)
            assert verify_consistency(old, new, old_root, new_root, proof), (old, new)
            assert not verify_consistency(old, new, other.root(old), new_root, proof)
            assert not verify_consistency(old, new, old_root, other.root(new), proof)
            if proof:
                for position in range(len(proof)):
                    tampered = list(proof)
                    tampered[position] = _flip(tampered[position])
                    assert not verify_consistency(old, new, old_root, new_root, tampered)
                assert not verify_consistency(old, new, old_root, new_root, proof[:-1])
            if new < 20:
                assert not verify_consistency(old, new + 1, old_root, tree.root(new + 1), proof)
    assert not verify_consistency(0, 3, tree.root(1), tree.root(3), [])
    assert not verify_consistency(3, 2, tree.root(3), tree.root(2), [])


def test_bad_sizes_are_refused() -> None:
    tree = LedgerTree(_leaves(5))
    with pytest.raises(BadInput):
        tree.root(6)
    with pytest.raises(BadInput):
        tree.inclusion_proof(5, 5)
    with pytest.raises(BadInput):
        tree.consistency_proof(0, 5)
    with pytest.raises(BadInput):
        tree.consistency_proof(4, 3)


def test_database_tree_head_and_proofs(engine: sa.Engine, keystore: KeyStore) -> None:
    ledger = Ledger.from_keystore(keystore)
    sizes = []
    with engine.begin() as conn:
        for number in range(1, 13):
            ledger.append(conn, "delivery", {"rows": number})
            sizes.append(ledger_tree_head(conn))
    with engine.connect() as conn:
        entries = ledger.entries(conn)
        leaves = [entry_leaf_hash(e.entry_hash) for e in entries]
        assert [s for s, _ in sizes] == list(range(1, 13))
        assert all(root == merkle_root(leaves[:size]) for size, root in sizes)
        for size, root in sizes:
            for entry in entries[:size]:
                proof = ledger_inclusion_proof(conn, entry.seq, size)
                assert verify_inclusion(leaves[entry.seq - 1], entry.seq - 1, size, proof, root)
            for old, old_root in sizes[:size]:
                proof = ledger_consistency_proof(conn, old, size)
                assert verify_consistency(old, size, old_root, root, proof)
        with pytest.raises(BadInput):
            ledger_inclusion_proof(conn, 99, 12)


def test_entry_proof_document(engine: sa.Engine, keystore: KeyStore) -> None:
    ledger = Ledger.from_keystore(keystore)
    with engine.begin() as conn:
        for number in range(1, 8):
            ledger.append(conn, "delivery", {"rows": number})
        checkpoint = ledger.checkpoint(conn)
        ledger.append(conn, "delivery", {"rows": 8})  # newer than the checkpoint
    keys = keystore.public_keys()
    with engine.connect() as conn:
        document = entry_proof(conn, 5)
        with pytest.raises(BadInput, match="newer than the latest checkpoint"):
            entry_proof(conn, 8)
    assert document["tree_size"] == 7 and document["root"] == checkpoint.root
    assert document["leaf_index"] == 4 and check_entry_proof(document, keys) == []
    edited = {**document, "entry": {**document["entry"], "payload": '{"rows":50}'}}
    assert "entry 5: content does not match its hash" in check_entry_proof(edited, keys)
    path = list(document["audit_path"])
    path[0] = "00" * 32
    assert check_entry_proof({**document, "audit_path": path}, keys) == [
        "entry 5: audit path does not lead to checkpoint 1's root"
    ]
    moved = {**document, "checkpoint": {**document["checkpoint"], "tree_size": 8}}
    assert any("checkpoint 1: signature is not valid" in p for p in check_entry_proof(moved, keys))
    assert check_entry_proof({"entry": {}}, keys) == ["not a ledger inclusion proof document"]
