"""The RFC 6962 Merkle tree over the whole ledger: tree heads, inclusion and consistency proofs.

What a caller must know:

* Leaf i (0-based) is the ledger entry at position i in `seq` order (entry `seq` is leaf
  `seq - 1` in an intact ledger, which is how the database's tree reads it). Leaf data =
  the entry's 32 raw `entry_hash` bytes, so leaf hash = SHA-256(0x00 || entry_hash) and
  node = SHA-256(0x01 || left || right).
  The entry_hash already binds seq, time, kind, payload and the previous hash (see
  `audit.ledger.ledger`); a verifier recomputes it from the entry before trusting a leaf.
* `LedgerTree` hashes every leaf and every complete subtree once (about 2n SHA-256 for n
  entries); roots at any size and proofs are then O(log n) lookups, so checking many
  checkpoints of a 100k-entry ledger costs one pass, not one pass per checkpoint.
* The database functions (`tree_head`, `inclusion_proof`, `consistency_proof`) read the
  stored tiles of `audit.ledger.tiles` instead: O(256 × levels) hashes at any size.
  Verifiers never do: they rebuild a `LedgerTree` from the entries.
* Verifiers (`verify_consistency`, `audit.merkle.verify_inclusion`) are pure functions
  of hashes: an auditor needs no database.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Sequence

import sqlalchemy as sa

from audit.tables import ledger as ledger_table
from govbus.errors import BadInput

EMPTY_ROOT = hashlib.sha256(b"").hexdigest()


def entry_leaf_hash(entry_hash_hex: str) -> bytes:
    """RFC 6962 leaf hash of a ledger entry: SHA-256(0x00 || entry_hash bytes).

    A malformed stored hash (not 64 hex digits) still gets a leaf (of its text), so a
    tampered row changes the tree instead of stopping the verifier.
    """
    try:
        data = bytes.fromhex(entry_hash_hex)
    except (TypeError, ValueError):
        data = str(entry_hash_hex).encode("utf-8", "replace")
    if len(data) != 32:
        data = b"malformed:" + str(entry_hash_hex).encode("utf-8", "replace")
    return hashlib.sha256(b"\x00" + data).digest()


def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two strictly below n (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


class MerkleHashes(ABC):
    """RFC 6962 roots and proofs over a source of complete-subtree hashes.

    A subclass gives its leaf count (`size`) and `subtree(height, index)`: the hash of
    leaves [index·2^height, (index+1)·2^height), only ever asked for subtrees inside
    `size`. `LedgerTree` keeps every such hash in memory; `audit.ledger.tiles.StoredTree`
    reads them from stored tiles. Both run the same proof code, so their answers are equal.
    """

    @property
    @abstractmethod
    def size(self) -> int:
        """How many leaves the tree holds."""

    @abstractmethod
    def subtree(self, height: int, index: int) -> bytes:
        """Hash of the complete subtree of 2^height leaves starting at leaf index·2^height."""

    def leaf(self, index: int) -> bytes:
        """The leaf hash at `index`."""
        return self.subtree(0, index)

    def _check_size(self, size: int, where: str) -> None:
        if not isinstance(size, int) or not 0 <= size <= self.size:
            raise BadInput(
                f"tree size is outside 0..{self.size}",
                where=where,
                hint="ask for a size the ledger has reached",
            )

    def _range(self, lo: int, hi: int) -> bytes:
        """MTH of leaves [lo, hi); lo is aligned as RFC 6962's recursion leaves it."""
        width = hi - lo
        if width & (width - 1) == 0 and lo % width == 0:
            return self.subtree(width.bit_length() - 1, lo // width)
        k = _split(width)
        return _node(self._range(lo, lo + k), self._range(lo + k, hi))

    def root(self, size: int | None = None) -> str:
        """Root (hex) of the first `size` leaves (all by default); empty tree: SHA-256(b"")."""
        size = self.size if size is None else size
        self._check_size(size, "tree size")
        return self._range(0, size).hex() if size else EMPTY_ROOT

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        """RFC 6962 §2.1.1 audit path of leaf `index` in the tree of the first `size` leaves."""
        self._check_size(size, "tree size")
        if not isinstance(index, int) or not 0 <= index < size:
            raise BadInput(
                "leaf is not inside a tree of this size",
                where="leaf index",
                hint="the entry must be older than the tree head",
            )
        path: list[bytes] = []
        lo, hi = 0, size
        while hi - lo > 1:
            k = _split(hi - lo)
            if index < lo + k:
                path.append(self._range(lo + k, hi))
                hi = lo + k
            else:
                path.append(self._range(lo, lo + k))
                lo += k
        return path[::-1]

    def consistency_proof(self, old_size: int, new_size: int) -> list[bytes]:
        """RFC 6962 §2.1.2 proof that the first `old_size` leaves are a prefix of `new_size`."""
        self._check_size(new_size, "new tree size")
        if not isinstance(old_size, int) or not 1 <= old_size <= new_size:
            raise BadInput("old tree size must be 1..new size", where="old tree size")
        proof: list[bytes] = []
        lo, hi, m, complete = 0, new_size, old_size, True
        while m != hi:
            k = _split(hi - lo)
            if m - lo <= k:
                proof.append(self._range(lo + k, hi))
                hi = lo + k
            else:
                proof.append(self._range(lo, lo + k))
                lo, complete = lo + k, False
        if not complete:
            proof.append(self._range(lo, hi))
        return proof[::-1]


class LedgerTree(MerkleHashes):
    """A Merkle tree over leaf hashes in memory, with every complete subtree hashed once.

    What verifiers use: it trusts nothing but the leaves it is given.
    """

    def __init__(self, leaf_hashes: Sequence[bytes]) -> None:
        levels: list[list[bytes]] = [list(leaf_hashes)]
        sha256 = hashlib.sha256
        while len(levels[-1]) > 1:
            below = levels[-1]
            levels.append(
                [sha256(b"\x01" + below[i] + below[i + 1]).digest() for i in range(0, len(below) - 1, 2)]
            )
        self._levels = levels

    @property
    def size(self) -> int:
        """How many leaves the tree holds."""
        return len(self._levels[0])

    def subtree(self, height: int, index: int) -> bytes:
        """Hash of the complete subtree of 2^height leaves at `index` (IndexError outside)."""
        if height < 0 or index < 0 or height >= len(self._levels):
            raise IndexError("no such complete subtree")
        return self._levels[height][index]


def verify_consistency(
    old_size: int, new_size: int, old_root_hex: str, new_root_hex: str, proof: Sequence[bytes]
) -> bool:
    """True if `proof` shows the tree (old_size, old_root) is a prefix of (new_size, new_root).

    The algorithm of RFC 9162 §2.1.4.2. Equal sizes need an empty proof and equal roots.
    """
    if not 1 <= old_size <= new_size:
        return False
    try:
        old_root, new_root = bytes.fromhex(old_root_hex), bytes.fromhex(new_root_hex)
    except (TypeError, ValueError):
        return False
    if old_size == new_size:
        return not proof and old_root == new_root
    path = list(proof)
    if old_size & (old_size - 1) == 0:
        path.insert(0, old_root)
    if not path:
        return False
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = _node(c, fr), _node(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = _node(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == old_root and sr == new_root


def read_leaves(conn: sa.Connection, up_to_seq: int | None = None) -> tuple[list[int], list[bytes]]:
    """The seqs and leaf hashes of the stored entries, in seq order (two columns, one query)."""
    query = sa.select(ledger_table.c.seq, ledger_table.c.entry_hash).order_by(ledger_table.c.seq)
    if up_to_seq is not None:
        query = query.where(ledger_table.c.seq <= up_to_seq)
    seqs: list[int] = []
    leaves: list[bytes] = []
    for seq, entry_hash in conn.execute(query):
        seqs.append(seq)
        leaves.append(entry_leaf_hash(entry_hash))
    return seqs, leaves
