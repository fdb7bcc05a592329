"""Ledger on SQLite and PostgreSQL: append, verify, and detection of every kind of tampering."""

from __future__ import annotations

import threading
from itertools import pairwise
from pathlib import Path

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from audit import AUDIT_METADATA, GENESIS_HASH, Ledger
from audit.ledger.ledger import compute_entry_hash
from consent import CONSENT_METADATA, KeyStore
from govbus.errors import BadConfiguration, BadInput, FatalError, TransientError

# Not `delivery`: these tests are about the chain alone, and a ledger of deliveries with no
# checkpoint is a rollback of its own (tests/audit/test_rollbacks.py).
KIND = "test.entry"


def _fill(engine: sa.Engine, ledger: Ledger, count: int = 5) -> None:
    with engine.begin() as conn:
        for number in range(1, count + 1):
            ledger.append(
                conn,
                KIND,
                {"batch_id": f"stage-{number}-0-benefits", "rows": number, "basis": "SBA-ACT-12"},
            )


def _problems(engine: sa.Engine, ledger: Ledger) -> dict[int, list[str]]:
    with engine.connect() as conn:
        report = ledger.verify(conn)
    assert report.ok is (not report.problems)
    found: dict[int, list[str]] = {}
    for seq, text in report.problems:
        found.setdefault(seq, []).append(text)
    return found


def _sql(engine: sa.Engine, statement: str, **params: object) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text(statement), params)


def test_append_five_and_verify(engine: sa.Engine, keystore: KeyStore) -> None:
    ledger = Ledger.from_keystore(keystore)
    _fill(engine, ledger)
    with engine.connect() as conn:
        report = ledger.verify(conn)
        entries = ledger.entries(conn)
        head = ledger.head(conn)
    assert report.ok and report.entries == 5 and report.problems == []
    assert [e.seq for e in entries] == [1, 2, 3, 4, 5]
    assert entries[0].prev_hash == GENESIS_HASH
    assert all(b.prev_hash == a.entry_hash for a, b in pairwise(entries))
    assert all(b.at >= a.at for a, b in pairwise(entries))
    assert head is not None and head.seq == 5 and report.head_hash == head.entry_hash
    assert entries[2].payload == {"basis": "SBA-ACT-12", "batch_id": "stage-3-0-benefits", "rows": 3}


def test_edited_payload_kind_or_time_names_the_seq(engine: sa.Engine, keystore: KeyStore) -> None:
    ledger = Ledger.from_keystore(keystore)
    _fill(engine, ledger)
    assert _problems(engine, ledger) == {}
    _sql(
        engine,
        "UPDATE ledger SET payload = :p WHERE seq = 3",
        p='{"basis":"SBA-ACT-12","batch_id":"stage-3-0-benefits","rows":300}',
    )
    _sql(engine, "UPDATE ledger SET kind = 'denial' WHERE seq = 4")
    with engine.connect() as conn:
        at_one = conn.execute(sa.text("SELECT at FROM ledger WHERE seq = 2")).scalar_one()
    _sql(engine, "UPDATE ledger SET at = :at WHERE seq = 5", at=at_one)
    problems = _problems(engine, ledger)
    assert set(problems) == {3, 4, 5}
    assert all(any("does not match its hash" in t for t in problems[seq]) for seq in (3, 4, 5))


def test_deleted_entry_is_detected(engine: sa.Engine, keystore: KeyStore) -> None:
    ledger = Ledger.from_keystore(keystore)
    _fill(engine, ledger)
    _sql(engine, "DELETE FROM ledger WHERE seq = 3")
    problems = _problems(engine, ledger)
    assert list(problems) == [3]
    assert "missing" in problems[3][0]


def test_swapped_entries_are_detected(engine: sa.Engine, keystore: KeyStore) -> None:
    ledger = Ledger.from_keystore(keystore)
    _fill(engine, ledger)
    _sql(engine, "UPDATE ledger SET seq = -2 WHERE seq = 2")
    _sql(engine, "UPDATE ledger SET seq = 2 WHERE seq = 4")
    _sql(engine, "UPDATE ledger SET seq = 4 WHERE seq = -2")
    problems = _problems(engine, ledger)
    assert {2, 4} <= set(problems)
    assert any("prev_hash" in t for t in problems[2])
    assert any("does not match its hash" in t for t in problems[4])


def test_forged_signature_is_detected(engine: sa.Engine, keystore: KeyStore) -> None:
    ledger = Ledger.from_keystore(keystore)
    _fill(engine, ledger)
    with engine.connect() as conn:
        original = ledger.entries(conn)[1]
    payload = '{"basis":"SBA-ACT-12","batch_id":"stage-2-0-benefits","rows":0}'
    # The forger knows the hash scheme but not the bus's private key.
    forged_hash = compute_entry_hash(2, original.at, original.kind, payload, original.prev_hash)
    forged = Ed25519PrivateKey.generate().sign(bytes.fromhex(forged_hash)).hex()
    _sql(
        engine,
        "UPDATE ledger SET payload = :p, entry_hash = :h, signature = :s WHERE seq = 2",
        p=payload,
        h=forged_hash,
        s=forged,
    )
    problems = _problems(engine, ledger)
    assert problems[2] == ["signature is not valid for its entry hash"]  # hash itself matches
    assert any("prev_hash" in t for t in problems[3])


def test_unknown_key_id_is_reported(engine: sa.Engine, keystore: KeyStore) -> None:
    _fill(engine, Ledger.from_keystore(keystore), count=2)
    stranger = Ledger(None, None, {})
    problems = _problems(engine, stranger)
    assert problems == {1: ["signed by an unknown key id"], 2: ["signed by an unknown key id"]}
    with engine.begin() as conn, pytest.raises(BadConfiguration):
        stranger.append(conn, KIND, {})


def test_truncation_is_caught_with_a_known_head(engine: sa.Engine, keystore: KeyStore) -> None:
    ledger = Ledger.from_keystore(keystore)
    _fill(engine, ledger)
    with engine.connect() as conn:
        head = ledger.head(conn)
    assert head is not None
    _sql(engine, "DELETE FROM ledger WHERE seq = 5")
    with engine.connect() as conn:
        assert ledger.verify(conn).ok  # a shorter chain is still a chain...
        report = ledger.verify(conn, expected_head=(head.seq, head.entry_hash))
    assert not report.ok and report.problems[0][0] == 5  # ...but not the one published
    with pytest.raises(FatalError, match="seq 5"):
        report.raise_if_broken()


def test_rotated_keys_still_verify_old_entries(engine: sa.Engine, keystore: KeyStore) -> None:
    _fill(engine, Ledger.from_keystore(keystore), count=2)
    keystore.rotate_signing_key()
    ledger = Ledger.from_keystore(keystore)
    _fill(engine, ledger, count=1)
    with engine.connect() as conn:
        report = ledger.verify(conn)
        assert len({e.key_id for e in ledger.entries(conn)}) == 2
    assert report.ok and report.entries == 3


def test_rolled_back_append_leaves_no_gap(engine: sa.Engine, keystore: KeyStore) -> None:
    ledger = Ledger.from_keystore(keystore)
    with engine.connect() as conn:
        with conn.begin() as transaction:
            ledger.append(conn, KIND, {"rows": 1})
            transaction.rollback()
        with conn.begin():
            entry = ledger.append(conn, KIND, {"rows": 2})
        assert entry.seq == 1 and ledger.verify(conn).ok


def test_bad_kind_and_payload_are_refused(engine: sa.Engine, keystore: KeyStore) -> None:
    ledger = Ledger.from_keystore(keystore)
    with engine.begin() as conn:
        with pytest.raises(BadInput):
            ledger.append(conn, "Bad Kind!", {})
        with pytest.raises(BadInput, match="plain JSON"):
            ledger.append(conn, KIND, {"at": object()})
        with pytest.raises(BadInput, match="plain JSON"):
            ledger.append(conn, KIND, {"x": float("nan")})
    with pytest.raises(BadConfiguration):
        Ledger(keystore.signing_key().key, "0" * 16, {})


def test_concurrent_writers_never_fork_the_chain(engine: sa.Engine, keystore: KeyStore) -> None:
    ledger = Ledger.from_keystore(keystore)
    retries: list[int] = []
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def writer(name: str) -> None:
        try:
            start.wait()
            for number in range(10):
                while True:
                    try:
                        with engine.begin() as conn:
                            ledger.append(conn, KIND, {"writer": name, "n": number})
                        break
                    except (TransientError, sa.exc.OperationalError):
                        retries.append(1)  # SQLite: the loser of a race retries
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    with engine.connect() as conn:
        report = ledger.verify(conn)
    assert report.ok and report.entries == 20
    if engine.dialect.name == "postgresql":
        assert retries == []  # the advisory lock serializes writers: nobody had to retry


def test_undecodable_row_is_fatal_not_a_crash(tmp_path: Path, keystore: KeyStore) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'garbled.db'}")
    CONSENT_METADATA.create_all(engine)
    AUDIT_METADATA.create_all(engine)
    ledger = Ledger.from_keystore(keystore)
    _fill(engine, ledger, count=3)
    _sql(engine, "UPDATE ledger SET at = 'not a time' WHERE seq = 2")
    with engine.connect() as conn, pytest.raises(FatalError, match="after seq 0"):
        ledger.verify(conn)
    engine.dispose()
