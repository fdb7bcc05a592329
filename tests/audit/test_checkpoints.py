"""Signed checkpoints on SQLite, PostgreSQL and MariaDB: every kind of tampering is named,
by the database verifier and, after export, by the offline bundle verifier alike."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from audit import (
    AUDIT_METADATA,
    Checkpoint,
    Ledger,
    LedgerTree,
    VerifyReport,
    checkpoint_message,
    export_bundle,
    key_id_of,
    read_checkpoints,
    verify_bundle,
)
from audit.ledger.ledger import compute_entry_hash
from audit.ledger.tree import read_leaves
from consent import KeyStore
from govbus.errors import BadConfiguration, FatalError

Named = dict[str, list[str]]  # "entry 3" / "checkpoint 2" -> problem texts


def _sql(engine: sa.Engine, statement: str, **params: object) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text(statement), params)


def _build(engine: sa.Engine, ledger: Ledger) -> list[Checkpoint]:
    """Eight entries with a checkpoint after the fourth and after the eighth."""
    taken = []
    for block in (range(1, 5), range(5, 9)):
        with engine.begin() as conn:
            for number in block:
                ledger.append(conn, "delivery", {"batch_id": f"b{number}", "rows": number})
            taken.append(ledger.checkpoint(conn))
    return taken


def _named(report: VerifyReport) -> Named:
    found: Named = {}
    for seq, text in report.problems:
        found.setdefault(f"entry {seq}", []).append(text)
    for number, text in report.checkpoint_problems:
        found.setdefault(f"checkpoint {number}", []).append(text)
    assert report.ok is (not found)
    return found


def _modify(engine: sa.Engine, keystore: KeyStore) -> None:
    _sql(engine, "UPDATE ledger SET payload = :p WHERE seq = 3", p='{"batch_id":"b3","rows":0}')


def _modify_and_rehash(engine: sa.Engine, keystore: KeyStore) -> None:
    table = AUDIT_METADATA.tables["ledger"]
    with engine.connect() as conn:
        row = conn.execute(sa.select(table.c.at, table.c.prev_hash).where(table.c.seq == 3)).one()
    payload = '{"batch_id":"b3","rows":0}'
    new_hash = compute_entry_hash(3, row.at, "delivery", payload, row.prev_hash)
    _sql(engine, "UPDATE ledger SET payload = :p, entry_hash = :h WHERE seq = 3", p=payload, h=new_hash)


def _delete(engine: sa.Engine, keystore: KeyStore) -> None:
    _sql(engine, "DELETE FROM ledger WHERE seq = 3")


def _swap(engine: sa.Engine, keystore: KeyStore) -> None:
    _sql(engine, "UPDATE ledger SET seq = -2 WHERE seq = 2")
    _sql(engine, "UPDATE ledger SET seq = 2 WHERE seq = 4")
    _sql(engine, "UPDATE ledger SET seq = 4 WHERE seq = -2")


def _truncate(engine: sa.Engine, keystore: KeyStore) -> None:
    _sql(engine, "DELETE FROM ledger WHERE seq > 6")


def _forge_signature(engine: sa.Engine, keystore: KeyStore) -> None:
    with engine.connect() as conn:
        second = read_checkpoints(conn)[1]
    forged = Ed25519PrivateKey.generate().sign(checkpoint_message(second.tree_size, second.root, second.at))
    _sql(engine, "UPDATE ledger_checkpoints SET signature = :s WHERE number = 2", s=forged.hex())


def _truncate_and_resign(engine: sa.Engine, keystore: KeyStore) -> None:
    """Cut the log to 6 entries and re-sign checkpoint 2 for it with the forger's own key."""
    _truncate(engine, keystore)
    with engine.connect() as conn:
        second = read_checkpoints(conn)[1]
        root = LedgerTree(read_leaves(conn)[1]).root(6)
    forger = Ed25519PrivateKey.generate()
    signature = forger.sign(checkpoint_message(6, root, second.at)).hex()
    _sql(
        engine,
        "UPDATE ledger_checkpoints SET tree_size = 6, root = :r, key_id = :k, signature = :s "
        "WHERE number = 2",
        r=root,
        k=key_id_of(forger.public_key()),
        s=signature,
    )


SCENARIOS: dict[str, tuple[Callable[[sa.Engine, KeyStore], None], dict[str, str]]] = {
    # scenario: (tampering, {named thing: a phrase its problem must contain})
    "modified entry": (_modify, {"entry 3": "content does not match its hash"}),
    "modified entry, hash recomputed": (
        _modify_and_rehash,
        {
            "entry 3": "signature is not valid",
            "entry 4": "prev_hash does not match",
            "checkpoint 1": "root does not match the ledger's first 4 entries",
            "checkpoint 2": "root does not match the ledger's first 8 entries",
        },
    ),
    "deleted entry": (
        _delete,
        {
            "entry 3": "entry 3 is missing",
            "checkpoint 1": "root does not match",
            "checkpoint 2": "covers 8 entries but the ledger holds only 7",
        },
    ),
    "swapped entries": (
        _swap,
        {
            "entry 2": "prev_hash does not match",
            "entry 3": "prev_hash does not match",
            "entry 4": "content does not match its hash",
            "entry 5": "prev_hash does not match",
            "checkpoint 1": "root does not match the ledger's first 4 entries",
            "checkpoint 2": "root does not match",
        },
    ),
    "truncated log": (_truncate, {"checkpoint 2": "covers 8 entries but the ledger holds only 6"}),
    "forged checkpoint signature": (
        _forge_signature,
        {"checkpoint 2": "signature is not valid for its tree head"},
    ),
    "checkpoint re-signed with another key": (_truncate_and_resign, {"checkpoint 2": "unknown key id"}),
}


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_tampering_is_named_in_db_and_bundle(
    scenario: str, engine: sa.Engine, keystore: KeyStore, tmp_path: Path
) -> None:
    ledger = Ledger.from_keystore(keystore)
    _build(engine, ledger)
    with engine.connect() as conn:
        assert ledger.verify(conn).ok
    tamper, expected = SCENARIOS[scenario]
    tamper(engine, keystore)
    with engine.connect() as conn:
        db_named = _named(ledger.verify(conn))
        export_bundle(conn, tmp_path / "bundle", keystore.public_keys(), keystore.signing_key())
    result = verify_bundle(tmp_path / "bundle", keystore.public_keys())
    assert result.file_problems == [] and result.keys_source == "trusted"
    bundle_named = _named(result.ledger)
    for named in (db_named, bundle_named):
        assert set(named) == set(expected), named
        for thing, phrase in expected.items():
            assert any(phrase in text for text in named[thing]), (thing, named[thing])


def test_intact_ledger_with_rotated_keys_verifies(engine: sa.Engine, keystore: KeyStore) -> None:
    ledger = Ledger.from_keystore(keystore)
    first, second = _build(engine, ledger)
    keystore.rotate_signing_key()
    rotated = Ledger.from_keystore(keystore)
    with engine.begin() as conn:
        rotated.append(conn, "delivery", {"rows": 9})
        third = rotated.checkpoint(conn)
    with engine.connect() as conn:
        report = rotated.verify(conn)
        stored = read_checkpoints(conn)
    assert report.ok and report.checkpoints == 3 and report.entries == 9
    assert [c.number for c in stored] == [1, 2, 3] and stored[2] == third
    assert (first.tree_size, second.tree_size, third.tree_size) == (4, 8, 9)
    assert third.key_id != first.key_id and report.latest_checkpoint == third
    assert report.tree_root == third.root


def test_deleted_and_shrunk_checkpoints_are_named(engine: sa.Engine, keystore: KeyStore) -> None:
    ledger = Ledger.from_keystore(keystore)
    _build(engine, ledger)
    with engine.begin() as conn:
        ledger.checkpoint(conn)  # checkpoint 3, size 8
    _sql(engine, "DELETE FROM ledger_checkpoints WHERE number = 2")
    with engine.connect() as conn:
        assert _named(ledger.verify(conn)) == {"checkpoint 2": ["checkpoint 2 is missing (deleted?)"]}
    _sql(engine, "UPDATE ledger_checkpoints SET tree_size = 2 WHERE number = 3")
    with engine.connect() as conn:
        named = _named(ledger.verify(conn))
    assert any("tree is smaller than at checkpoint 1" in t for t in named["checkpoint 3"])
    assert any("signature is not valid" in t for t in named["checkpoint 3"])


def test_checkpoint_needs_a_key_and_a_broken_report_raises(engine: sa.Engine, keystore: KeyStore) -> None:
    ledger = Ledger.from_keystore(keystore)
    _build(engine, ledger)
    with engine.begin() as conn, pytest.raises(BadConfiguration):
        Ledger(None, None, keystore.public_keys()).checkpoint(conn)
    _truncate(engine, keystore)
    with engine.connect() as conn:
        report = ledger.verify(conn)
    assert report.problems == [] and not report.ok
    with pytest.raises(FatalError, match="checkpoint 2"):
        report.raise_if_broken()


def test_empty_ledger_checkpoint(engine: sa.Engine, keystore: KeyStore) -> None:
    ledger = Ledger.from_keystore(keystore)
    with engine.begin() as conn:
        empty = ledger.checkpoint(conn)
        ledger.append(conn, "delivery", {"rows": 1})
        one = ledger.checkpoint(conn)
    with engine.connect() as conn:
        report = ledger.verify(conn)
    assert (empty.tree_size, one.tree_size) == (0, 1) and report.ok and report.checkpoints == 2
