"""Stored Merkle tiles of the ledger: heads and proofs from tiles equal `LedgerTree`'s at every
size tried (small tiles over many levels, and the real 256-entry tiles), tiles fill
incrementally and concurrently, an upgraded database without tiles still answers, and
`Ledger.verify` names a tampered tile. SQLite, PostgreSQL and MariaDB (`engine` fixture)."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from audit import (
    AUDIT_METADATA,
    Ledger,
    LedgerTree,
    check_entry_proof,
    checkpoint_message,
    entry_leaf_hash,
    entry_proof,
    ledger_consistency_proof,
    ledger_inclusion_proof,
    ledger_tree_head,
    public_key_pem,
    verify_consistency,
    verify_inclusion,
)
from audit.ledger.tiles import TILE_HEIGHT, StoredTree, fill_tiles, read_tiles
from audit.ledger.tree import read_leaves
from audit.proofs import entry_proofs
from consent import KeyStore
from exchange.cli.audit import audit_app
from exchange.state import migrate as schema_migrations
from govbus.errors import BadInput, FatalError
from tests.conftest import engine_at_revision

LEDGER = AUDIT_METADATA.tables["ledger"]
TILES = AUDIT_METADATA.tables["ledger_tiles"]
SMALL = 2  # tiles of 2^2 = 4 entries: 255/256/257 and 65535/65536/65537 cross many levels


def _synthetic(engine: sa.Engine, first: int, last: int) -> None:
    """Entries first..last with distinct hashes (unsigned: the tree only reads entry_hash)."""
    at = datetime(2026, 1, 1, tzinfo=UTC)
    rows = [
        {
            "seq": seq,
            "at": at,
            "kind": "test",
            "payload": "{}",
            "prev_hash": "0" * 64,
            "entry_hash": hashlib.sha256(f"entry {seq}".encode()).hexdigest(),
            "key_id": "k",
            "signature": "s",
        }
        for seq in range(first, last + 1)
    ]
    with engine.begin() as conn:
        for start in range(0, len(rows), 5000):
            conn.execute(LEDGER.insert(), rows[start : start + 5000])


def _leaves(count: int) -> list[bytes]:
    return [
        entry_leaf_hash(hashlib.sha256(f"entry {seq}".encode()).hexdigest()) for seq in range(1, count + 1)
    ]


def _expected_tiles(tree: LedgerTree, size: int, tile_height: int) -> dict[tuple[int, int], str]:
    found = {}
    height = tile_height
    while size >> height:
        for index in range(size >> height):
            found[(height, index)] = tree.subtree(height, index).hex()
        height += tile_height
    return found


def _stored(engine: sa.Engine) -> dict[tuple[int, int], str]:
    with engine.connect() as conn:
        return {(height, index): root for height, index, root in read_tiles(conn)}


def _same_as_memory(
    stored: StoredTree, memory: LedgerTree, size: int, indices: list[int], olds: list[int]
) -> None:
    assert stored.root(size) == memory.root(size), size
    for index in sorted({i for i in indices if i < size}):
        assert stored.leaf(index) == memory.leaf(index)
        proof = stored.inclusion_proof(index, size)
        assert proof == memory.inclusion_proof(index, size), (size, index)
        assert verify_inclusion(memory.leaf(index), index, size, proof, memory.root(size))
    for old in sorted({o for o in olds if 1 <= o <= size}):
        proof = stored.consistency_proof(old, size)
        assert proof == memory.consistency_proof(old, size), (old, size)
        assert verify_consistency(old, size, memory.root(old), memory.root(size), proof)


def test_small_tiles_equal_the_memory_tree_at_every_size_up_to_300(engine: sa.Engine) -> None:
    _synthetic(engine, 1, 300)
    memory = LedgerTree(_leaves(300))
    with engine.connect() as conn:
        for size in range(0, 301):  # before any fill: every tile is computed from the entries
            assert StoredTree(conn, size, tile_height=SMALL).root() == memory.root(size)
    before: set[tuple[int, int]] = set()
    with engine.begin() as conn:
        for size in [*range(0, 70), 127, 128, 129, 254, 255, 256, 257, 258, 300]:
            expected = set(_expected_tiles(memory, size, SMALL))
            written = fill_tiles(conn, size, tile_height=SMALL).computed
            assert set(written) == expected - before, size  # incremental: only the new tiles
            before = expected
            stored = StoredTree(conn, size, tile_height=SMALL)
            assert stored.computed == {}  # with tiles filled nothing is computed
            indices = list(range(size)) if size <= 70 else [0, 1, 3, 4, 63, 64, 127, 128, 254, size - 1]
            olds = list(range(1, size + 1)) if size <= 70 else [1, 2, 3, 4, 5, 64, 65, 128, 255, size]
            _same_as_memory(stored, memory, size, indices, olds)
    assert _stored(engine) == _expected_tiles(memory, 300, SMALL)
    holes = [(2, 5), (2, 6), (2, 40), (4, 3), (6, 0)]
    with engine.begin() as conn:
        for height, index in holes:
            conn.execute(TILES.delete().where(TILES.c.height == height, TILES.c.tile_index == index))
        assert set(fill_tiles(conn, tile_height=SMALL).computed) == set(holes)  # rows deleted by hand
    assert _stored(engine) == _expected_tiles(memory, 300, SMALL)


def test_small_tiles_around_65536_entries(engine: sa.Engine) -> None:
    _synthetic(engine, 1, 65537)
    memory = LedgerTree(_leaves(65537))
    picks = [0, 1, 2, 3, 4, 255, 256, 4095, 4096, 32767, 32768, 65534]
    olds = [1, 3, 4, 5, 255, 256, 257, 4097, 32768, 65535]
    with engine.begin() as conn:
        fill_tiles(conn, 65535, tile_height=SMALL)
        assert _expected_tiles(memory, 65535, SMALL) == {(h, i): r for h, i, r in read_tiles(conn)}
        for size in (65535, 65536, 65537):
            fill_tiles(conn, size, tile_height=SMALL)  # 65536 completes a tile at every height
            stored = StoredTree(conn, size, tile_height=SMALL)
            _same_as_memory(stored, memory, size, [*picks, size - 1], olds)
    tiles = _stored(engine)
    assert tiles == _expected_tiles(memory, 65537, SMALL)
    assert tiles[(16, 0)] == memory.root(65536)  # one tile is the whole first 65,536 entries


def test_real_tiles_on_a_few_thousand_entries_read_a_few_hundred_leaves(
    engine: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    _synthetic(engine, 1, 5000)
    memory = LedgerTree(_leaves(5000))
    read: list[int] = []
    original = StoredTree._leaves

    def counting(self: StoredTree, lo: int, hi: int) -> list[bytes]:
        read.append(hi - lo)
        return original(self, lo, hi)

    monkeypatch.setattr(StoredTree, "_leaves", counting)
    with engine.begin() as conn:
        fill_tiles(conn)
        assert sum(read) == 4864  # 19 complete tiles of 256: each entry hashed once
    assert _stored(engine) == _expected_tiles(memory, 5000, TILE_HEIGHT)
    with engine.connect() as conn:
        for size in (255, 256, 257, 511, 512, 513, 4096, 4097, 5000):
            read.clear()
            stored = StoredTree(conn, size)
            _same_as_memory(stored, memory, size, [0, 255, 256, size // 2, size - 1], [1, 255, 256, size])
            assert sum(read) <= 4 * 256  # a few leaf blocks, never the whole ledger
        read.clear()
        assert ledger_tree_head(conn) == (5000, memory.root())
        assert sum(read) == 5000 - 19 * 256  # only the 136 entries past the last tile
        proof = ledger_inclusion_proof(conn, 1234, 4321)
        assert proof == memory.inclusion_proof(1233, 4321)
        assert ledger_consistency_proof(conn, 300, 5000) == memory.consistency_proof(300, 5000)
        with pytest.raises(BadInput, match="no ledger entry"):
            ledger_inclusion_proof(conn, 5001, 5000)
        with pytest.raises(BadInput, match="tree size"):
            ledger_consistency_proof(conn, 1, 5001)


def _signed(engine: sa.Engine, ledger: Ledger, count: int) -> None:
    with engine.begin() as conn:
        for number in range(count):
            ledger.append(conn, "delivery", {"rows": number})


def _memory_document_parts(engine: sa.Engine, seq: int, size: int) -> tuple[str, list[str], str]:
    """What the proof held before tiles: root, path and leaf from a tree over every entry."""
    with engine.connect() as conn:
        tree = LedgerTree(read_leaves(conn)[1][:size])
    return tree.root(), [n.hex() for n in tree.inclusion_proof(seq - 1, size)], tree.leaf(seq - 1).hex()


def test_checkpoints_fill_tiles_incrementally_and_proofs_verify(
    engine: sa.Engine, keystore: KeyStore, tmp_path: Path
) -> None:
    ledger = Ledger.from_keystore(keystore)
    keys = keystore.public_keys()
    _signed(engine, ledger, 600)
    with engine.begin() as conn:
        first = ledger.checkpoint(conn)
    assert set(_stored(engine)) == {(8, 0), (8, 1)}
    _signed(engine, ledger, 200)
    with engine.begin() as conn:
        second = ledger.checkpoint(conn)
    tiles = _stored(engine)
    assert set(tiles) == {(8, 0), (8, 1), (8, 2)}
    with engine.connect() as conn:
        memory = LedgerTree(read_leaves(conn)[1])
        assert tiles == _expected_tiles(memory, 800, TILE_HEIGHT)
        assert (first.root, second.root) == (memory.root(600), memory.root(800))
        assert ledger.verify(conn).ok
        documents = entry_proofs(conn, [1, 256, 257, 600, 799, 800])
        single = entry_proof(conn, 513)
    for seq, document in [*documents.items(), (513, single)]:
        assert check_entry_proof(document, keys) == []
        root, path, leaf = _memory_document_parts(engine, seq, 800)
        assert (document["root"], document["audit_path"], document["leaf_hash"]) == (root, path, leaf)
    keys_dir = tmp_path / "trusted"
    keys_dir.mkdir()
    for key_id, public in keys.items():
        (keys_dir / f"{key_id}.pem").write_text(public_key_pem(public))
    (tmp_path / "proof.json").write_text(json.dumps(documents[600]))
    result = CliRunner().invoke(
        audit_app, ["check-proof", str(tmp_path / "proof.json"), "--trusted-keys", str(keys_dir)]
    )
    assert result.exit_code == 0 and "entry 600 is in the ledger" in result.output, result.output


def test_a_tampered_tile_is_named_by_verify_and_repaired_by_the_next_checkpoint(
    engine: sa.Engine, keystore: KeyStore
) -> None:
    ledger = Ledger.from_keystore(keystore)
    _signed(engine, ledger, 600)
    with engine.begin() as conn:
        ledger.checkpoint(conn)
        good = conn.execute(
            sa.select(TILES.c.root).where(TILES.c.height == 8, TILES.c.tile_index == 1)
        ).scalar_one()
        conn.execute(TILES.update().where(TILES.c.tile_index == 1).values(root="ab" * 32))
        conn.execute(TILES.insert().values(height=8, tile_index=5, root="cd" * 32))
    with engine.connect() as conn:
        report = ledger.verify(conn)
        bad_proof = entry_proof(conn, 10)  # its path holds the bad tile: it must fail to check
    assert not report.ok and report.checkpoint_problems == []
    assert report.problems == [
        (
            257,
            "ledger tile (height 8, index 1: entries 257 to 512) does not match the entries "
            "(the tile, or an entry it covers, was changed)",
        ),
        (
            1281,
            "ledger tile (height 8, index 5: entries 1281 to 1536) covers entries the ledger "
            "does not hold (entries removed from the end?)",
        ),
    ]
    with pytest.raises(FatalError, match=r"seq 257: ledger tile \(height 8, index 1"):
        report.raise_if_broken()
    assert any("audit path does not lead" in p for p in check_entry_proof(bad_proof, keystore.public_keys()))
    with engine.begin() as conn:
        conn.execute(TILES.delete().where(TILES.c.tile_index.in_([1, 5])))
        ledger.checkpoint(conn)  # fills the hole again from the entries
        conn.execute(TILES.update().where(TILES.c.tile_index == 0).values(root="not hex"))
    assert _stored(engine)[(8, 1)] == good
    with engine.connect() as conn:
        assert [seq for seq, _ in ledger.verify(conn).problems] == [1]
        with pytest.raises(FatalError, match=r"ledger tile \(height 8, index 0\) is malformed"):
            entry_proof(conn, 10)


def test_a_missing_entry_stops_the_tree_instead_of_shifting_it(engine: sa.Engine) -> None:
    _synthetic(engine, 1, 300)
    with engine.begin() as conn:
        conn.execute(LEDGER.delete().where(LEDGER.c.seq == 290))
    with engine.connect() as conn, pytest.raises(FatalError, match="entries 257 to 300 are not all there"):
        ledger_tree_head(conn)


def test_concurrent_fillers_do_not_fail(engine: sa.Engine) -> None:
    """Two transactions fill the same tiles; the second waits for the first and skips its rows."""
    if engine.dialect.name == "sqlite":
        pytest.skip("SQLite has one writer at a time: the bus's ledger lock serializes checkpoints")
    _synthetic(engine, 1, 1100)
    errors: list[BaseException] = []
    with engine.connect() as first:
        first.begin()
        fill_tiles(first)

        def second() -> None:
            try:
                with engine.begin() as conn:
                    fill_tiles(conn)
            except BaseException as exc:  # reported by the assertion below
                errors.append(exc)

        thread = threading.Thread(target=second)
        thread.start()
        thread.join(timeout=1)  # it computes the same tiles, then waits on the first's rows
        waited = thread.is_alive()
        first.commit()
        thread.join(timeout=60)
    assert waited and errors == [] and not thread.is_alive()
    assert _stored(engine) == _expected_tiles(LedgerTree(_leaves(1100)), 1100, TILE_HEIGHT)


@pytest.fixture(params=["sqlite", "postgresql"])
def migrated(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[sa.Engine]:
    """A state database at revision 0004, before the tiles (SQLite or a PostgreSQL schema)."""
    with engine_at_revision(request.param, "0004", tmp_path, "govbus_tiles") as eng:
        yield eng


def test_an_upgraded_database_without_tiles_answers_then_fills(
    migrated: sa.Engine, keystore: KeyStore
) -> None:
    ledger = Ledger.from_keystore(keystore)
    _signed(migrated, ledger, 700)
    signing = keystore.signing_key()
    with migrated.begin() as conn:  # the checkpoint a bus without tiles signed
        root = LedgerTree(read_leaves(conn)[1]).root()
        at = datetime.now(UTC)
        conn.execute(
            AUDIT_METADATA.tables["ledger_checkpoints"]
            .insert()
            .values(
                number=1,
                tree_size=700,
                root=root,
                at=at,
                key_id=signing.key_id,
                signature=signing.key.sign(checkpoint_message(700, root, at)).hex(),
            )
        )
    with migrated.connect() as conn:
        assert "ledger_tiles" not in sa.inspect(conn).get_table_names()
    assert schema_migrations.upgrade(migrated) == schema_migrations.head()
    assert _stored(migrated) == {}
    with migrated.connect() as conn:
        assert ledger_tree_head(conn) == (700, root)
        documents = entry_proofs(conn, [5, 400, 700])
        assert ledger.verify(conn).ok
    assert all(check_entry_proof(d, keystore.public_keys()) == [] for d in documents.values())
    assert _stored(migrated) == {}  # readers never write
    with migrated.begin() as conn:
        checkpoint = ledger.checkpoint(conn)
    assert checkpoint.root == root and set(_stored(migrated)) == {(8, 0), (8, 1)}
    with migrated.connect() as conn:
        again = entry_proofs(conn, [5, 400, 700])
    assert {seq: {k: v for k, v in d.items() if k != "checkpoint"} for seq, d in again.items()} == {
        seq: {k: v for k, v in d.items() if k != "checkpoint"} for seq, d in documents.items()
    }
    with migrated.connect() as conn:
        assert ledger.verify(conn).ok
