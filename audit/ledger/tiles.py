"""Stored tiles of the ledger's Merkle tree: tree heads and proofs without re-reading every entry.

What a caller must know:

* A tile is the RFC 6962 hash of a complete, aligned subtree (as Certificate
  Transparency's tiles): row (height, tile_index) of `ledger_tiles` holds the root over
  the entries with seq in [tile_index·2^height + 1, (tile_index+1)·2^height]. The bus
  stores heights 8, 16, 24, ... (`TILE_HEIGHT` multiples: 256, 65,536, ... entries). Any
  complete subtree is then the hash of at most 256 rows one level down (tiles, or entries
  below height 8), so a tree head, an inclusion or a consistency proof at any size reads
  about 256 rows per level (two or three levels up to 16M entries), not every entry.
* Leaf i is the entry with seq i + 1 (its position in an intact ledger). A gap in the
  entries a reader needs is a FatalError: the ledger was tampered with.
* Tiles cover complete ranges only, which an append-only ledger never changes, so a tile
  written once stays right. `fill_tiles` writes the missing ones in the caller's
  transaction; `write_checkpoint` calls it (holding the ledger lock) at the end of every
  run. A filler racing another writes identical rows and skips those that exist (ON
  CONFLICT DO NOTHING / INSERT IGNORE), so a duplicate never fails a run.
* Readers (`StoredTree`) never write. A tile not stored yet (a deployment upgraded with
  entries and no tiles, or one completed since the last checkpoint) is computed in memory
  from the level below, so answers are always right; an upgraded database costs what it
  did before tiles until its first checkpoint (the end of the next run) stores them.
  Readers do not store them because the portal reads on connections nobody commits, and
  on SQLite a write would hold the database's write lock for the reader's transaction.
* Verifiers never trust tiles: `Ledger.verify` rebuilds the tree from the entries and
  `tile_problems` names every stored tile that disagrees with it (a wrong tile would make
  the bus hand out proofs that fail). Deleting a wrong tile's row is safe: the next
  checkpoint writes it again from the entries.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from audit.ledger.tree import LedgerTree, MerkleHashes, entry_leaf_hash
from audit.tables import ledger as ledger_table
from audit.tables import ledger_tiles
from govbus.errors import BadInput, FatalError

TILE_HEIGHT = 8  # a tile spans 2^8 = 256 entries, or 256 tiles of the level below
_READ_ROWS = 1 << 16  # rows read per query while computing tiles that are not stored
_INSERT_ROWS = 1000
_VERIFY_HINT = "run `govbus audit verify`"


def _subtree_hash(hashes: list[bytes]) -> bytes:
    """Root of a complete subtree from its 2^k hashes at one height (k >= 0)."""
    sha256 = hashlib.sha256
    level = hashes
    while len(level) > 1:
        level = [sha256(b"\x01" + level[i] + level[i + 1]).digest() for i in range(0, len(level), 2)]
    return level[0]


def ledger_size(conn: sa.Connection) -> int:
    """The newest entry's seq (0 for an empty ledger): the tree size of an intact ledger."""
    return int(conn.execute(sa.select(sa.func.max(ledger_table.c.seq))).scalar() or 0)


def entry_index(conn: sa.Connection, seq: int) -> int:
    """Leaf index of entry `seq` (seq - 1); BadInput if no entry has this seq."""
    found = conn.execute(sa.select(ledger_table.c.seq).where(ledger_table.c.seq == seq)).first()
    if found is None:
        raise BadInput(
            "no ledger entry has this seq", where="seq", hint="list entries with `govbus audit verify`"
        )
    return int(seq) - 1


class StoredTree(MerkleHashes):
    """The ledger's tree over its first `size` entries (all by default), from stored tiles.

    Roots and proofs are `MerkleHashes`' (the code `LedgerTree` runs), so they equal a
    `LedgerTree` over the same entries whenever the tiles are right. It caches what it
    reads: build one per request or transaction, it does not see later appends.
    `tile_height` other than `TILE_HEIGHT` is for tests (small tiles, many levels).
    """

    def __init__(
        self, conn: sa.Connection, size: int | None = None, *, tile_height: int = TILE_HEIGHT
    ) -> None:
        if isinstance(tile_height, bool) or not isinstance(tile_height, int) or not 1 <= tile_height <= 16:
            raise BadInput("tile height must be an integer in 1..16", where="tile_height")
        head = ledger_size(conn)
        size = head if size is None else size
        if isinstance(size, bool) or not isinstance(size, int) or not 0 <= size <= head:
            raise BadInput(
                f"tree size is outside 0..{head}",
                where="tree size",
                hint="ask for a size the ledger has reached",
            )
        self._conn, self._size, self._bits = conn, size, tile_height
        self._blocks: dict[tuple[int, int], list[bytes]] = {}
        self._subtrees: dict[tuple[int, int], bytes] = {}
        # Tiles this tree computed because they were not stored: (height, index) -> hash.
        self.computed: dict[tuple[int, int], bytes] = {}

    @property
    def size(self) -> int:
        """How many leaves (entries) the tree holds."""
        return self._size

    @property
    def tile_height(self) -> int:
        """log2 of a tile's span: stored tiles sit at multiples of this height."""
        return self._bits

    def subtree(self, height: int, index: int) -> bytes:
        """Hash of leaves [index·2^height, (index+1)·2^height): at most one block read."""
        key = (height, index)
        found = self._subtrees.get(key)
        if found is None:
            if height < 0 or index < 0 or (index + 1) << height > self._size:
                raise IndexError("no such complete subtree")
            level, rest = divmod(height, self._bits)
            first = index << rest  # its first hash at height level·tile_height
            block = first >> self._bits
            offset = first - (block << self._bits)
            found = _subtree_hash(self._block(level, block)[offset : offset + (1 << rest)])
            self._subtrees[key] = found
        return found

    def count(self, level: int) -> int:
        """How many complete subtrees of height level·tile_height the tree holds."""
        return self._size >> (level * self._bits)

    def _block(self, level: int, block: int) -> list[bytes]:
        """The up to 2^tile_height hashes of one aligned block at height level·tile_height."""
        key = (level, block)
        found = self._blocks.get(key)
        if found is None:
            lo = block << self._bits
            found = self.hashes(level, lo, min(lo + (1 << self._bits), self.count(level)))
            self._blocks[key] = found
        return found

    def hashes(self, level: int, lo: int, hi: int) -> list[bytes]:
        """Hashes [lo, hi) at height level·tile_height: entries' leaves at level 0, else tiles.

        A tile that is not stored is computed from the level below (recorded in `computed`),
        reading at most `_READ_ROWS` rows per query.
        """
        if lo >= hi:
            return []
        if level == 0:
            return self._leaves(lo, hi)
        height = level * self._bits
        found = self._stored(height, lo, hi)
        missing = [i for i in range(lo, hi) if i not in found]
        per_query = max(1, _READ_ROWS >> self._bits)
        for run_lo, run_hi in _runs(missing):
            for part_lo in range(run_lo, run_hi, per_query):
                part_hi = min(part_lo + per_query, run_hi)
                below = self.hashes(level - 1, part_lo << self._bits, part_hi << self._bits)
                span = 1 << self._bits
                for index in range(part_lo, part_hi):
                    start = (index - part_lo) * span
                    value = _subtree_hash(below[start : start + span])
                    found[index] = self.computed[(height, index)] = value
        return [found[i] for i in range(lo, hi)]

    def _stored(self, height: int, lo: int, hi: int) -> dict[int, bytes]:
        """Stored (or already computed) tiles of one height with index in [lo, hi)."""
        table = ledger_tiles.c
        rows = self._conn.execute(
            sa.select(table.tile_index, table.root).where(
                table.height == height, table.tile_index >= lo, table.tile_index < hi
            )
        )
        found: dict[int, bytes] = {}
        for index, root in rows:
            try:
                value = bytes.fromhex(root)
            except (TypeError, ValueError):
                value = b""
            if len(value) != 32:
                raise FatalError(
                    f"ledger tile (height {height}, index {index}) is malformed",
                    where="ledger_tiles",
                    hint=f"{_VERIFY_HINT}; delete the tile row: the next "
                    "checkpoint writes it again from the entries",
                )
            found[index] = value
        if self.computed:
            for index in range(lo, hi):
                value = self.computed.get((height, index))
                if value is not None:
                    found.setdefault(index, value)
        return found

    def _leaves(self, lo: int, hi: int) -> list[bytes]:
        """Leaf hashes of the entries with seq in (lo, hi]; FatalError if one is missing."""
        seq = ledger_table.c.seq
        rows = self._conn.execute(
            sa.select(seq, ledger_table.c.entry_hash).where(seq > lo, seq <= hi).order_by(seq)
        ).all()
        if len(rows) != hi - lo:  # seq is the primary key: fewer rows means a gap
            raise FatalError(
                f"ledger entries {lo + 1} to {hi} are not all there (deleted?)",
                where="ledger",
                hint=_VERIFY_HINT,
            )
        return [entry_leaf_hash(entry_hash) for _, entry_hash in rows]


def _runs(indices: list[int]) -> Iterator[tuple[int, int]]:
    """Consecutive runs [lo, hi) of sorted indices."""
    start = previous = None
    for index in indices:
        if start is None or previous is None or index != previous + 1:
            if start is not None and previous is not None:
                yield start, previous + 1
            start = index
        previous = index
    if start is not None and previous is not None:
        yield start, previous + 1


def fill_tiles(conn: sa.Connection, size: int | None = None, *, tile_height: int = TILE_HEIGHT) -> StoredTree:
    """Store every complete tile of the ledger's first `size` entries (all) not stored yet.

    Idempotent and incremental: it reads what is stored per height and computes only the
    missing tiles (after a run, the few its new entries completed). Writes in the
    caller's transaction; existing rows are skipped, never an error. Returns the tree it
    used, whose cache already holds what a root at `size` needs.
    """
    tree = StoredTree(conn, size, tile_height=tile_height)
    level = 1
    while (count := tree.count(level)) > 0:
        for lo, hi in _absent(conn, level * tree.tile_height, count):
            tree.hashes(level, lo, hi)
        level += 1
    _insert(conn, tree.computed)
    return tree


def _absent(conn: sa.Connection, height: int, count: int) -> list[tuple[int, int]]:
    """Runs of tile indices in [0, count) with no stored row at `height`."""
    table = ledger_tiles.c
    stored, top = conn.execute(
        sa.select(sa.func.count(), sa.func.max(table.tile_index)).where(table.height == height)
    ).one()
    if not stored:
        return [(0, count)]
    if top == stored - 1:  # rows 0..top, no hole: only the newest are missing
        return [(stored, count)] if stored < count else []
    present = {
        index
        for (index,) in conn.execute(
            sa.select(table.tile_index).where(
                table.height == height, table.tile_index >= 0, table.tile_index < count
            )
        )
    }
    return list(_runs([i for i in range(count) if i not in present]))


def _insert(conn: sa.Connection, tiles: Mapping[tuple[int, int], bytes]) -> None:
    """Insert tiles, skipping any row another writer stored meanwhile."""
    if not tiles:
        return
    rows = [
        {"height": height, "tile_index": index, "root": value.hex()}
        for (height, index), value in sorted(tiles.items())
    ]
    dialect = conn.dialect.name
    statement: Any
    if dialect == "postgresql":
        statement = postgresql.insert(ledger_tiles).on_conflict_do_nothing()
    elif dialect == "sqlite":
        statement = sqlite.insert(ledger_tiles).on_conflict_do_nothing()
    elif dialect in ("mysql", "mariadb"):
        statement = ledger_tiles.insert().prefix_with("IGNORE")
    else:  # another database: the ledger lock the caller holds keeps writers apart
        statement = ledger_tiles.insert()
    for start in range(0, len(rows), _INSERT_ROWS):
        conn.execute(statement, rows[start : start + _INSERT_ROWS])


def read_tiles(conn: sa.Connection) -> list[tuple[int, int, str]]:
    """Every stored tile as (height, tile_index, root text), in order (not verified)."""
    table = ledger_tiles.c
    query = sa.select(table.height, table.tile_index, table.root).order_by(table.height, table.tile_index)
    return [(height, index, root) for height, index, root in conn.execute(query)]


def tile_problems(tiles: Iterable[tuple[int, int, str]], tree: LedgerTree) -> list[tuple[int, str]]:
    """Stored tiles that disagree with the tree rebuilt from the entries.

    Each problem is named by the first seq the tile covers, like the chain's problems.
    """
    problems: list[tuple[int, str]] = []
    for height, index, root in tiles:
        if not 0 <= height < 64 or index < 0:
            problems.append((1, f"ledger tile (height {height}, index {index}) is not a valid tile position"))
            continue
        first, last = (index << height) + 1, (index + 1) << height
        name = f"ledger tile (height {height}, index {index}: entries {first} to {last})"
        if last > tree.size:
            problems.append(
                (first, f"{name} covers entries the ledger does not hold (entries removed from the end?)")
            )
        elif tree.subtree(height, index).hex() != root:
            problems.append(
                (first, f"{name} does not match the entries (the tile, or an entry it covers, was changed)")
            )
    return problems


# -- the ledger's tree head and proofs, read from the stored tiles ---------------------


def tree_head(conn: sa.Connection) -> tuple[int, str]:
    """(size, root hex) of the Merkle tree over every stored ledger entry.

    Read from the stored tiles (`audit.ledger.tiles`): O(256 × levels) hashes, not n.
    """
    tree = _stored_tree(conn)
    return tree.size, tree.root()


def inclusion_proof(conn: sa.Connection, seq: int, size: int) -> list[bytes]:
    """Audit path of entry `seq` in the tree of the ledger's first `size` entries (from tiles)."""
    index = entry_index(conn, seq)
    return _stored_tree(conn).inclusion_proof(index, size)


def consistency_proof(conn: sa.Connection, old_size: int, new_size: int) -> list[bytes]:
    """Proof that the ledger's first `old_size` entries are a prefix of its first `new_size`
    (from tiles)."""
    return _stored_tree(conn).consistency_proof(old_size, new_size)


def _stored_tree(conn: sa.Connection) -> MerkleHashes:
    """The ledger's tree over its stored tiles (`audit.ledger.tiles.StoredTree`)."""
    return StoredTree(conn)
