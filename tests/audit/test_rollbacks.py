"""Rollbacks of the ledger that keep a valid chain: each kind is caught, in the database and in a bundle.

A rollback here is what someone with write access to the state database but without the
bus's signing key can do to hide deliveries: delete the newest entries together with the
checkpoints (and tiles) that covered them, copy an older checkpoint's signed head over a
newer one, renumber checkpoints. Every test below would have passed `audit verify` before
checkpoint numbers were signed and coverage was checked (issue 16).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

from audit import (
    AUDIT_METADATA,
    Checkpoint,
    Ledger,
    VerifyReport,
    checkpoint_message,
    export_bundle,
    read_checkpoints,
    verify_bundle,
)
from audit.ledger.checkpoints import CHECKPOINT_VERSION, signed_version
from audit.ledger.coverage import UNCOVERED_LIMIT
from consent import KeyStore

Named = dict[str, list[str]]
checkpoints_table = AUDIT_METADATA.tables["ledger_checkpoints"]


def _sql(engine: sa.Engine, statement: str, **params: object) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text(statement), params)


def _runs(engine: sa.Engine, ledger: Ledger, runs: int = 3) -> list[Checkpoint]:
    """Each run as the bus makes one: a consent event, three deliveries, then a checkpoint.

    Run r holds entries 4r-3 (the consent event) to 4r; checkpoint r covers 4r entries.
    """
    taken = []
    for run in range(1, runs + 1):
        with engine.begin() as conn:
            ledger.append(conn, "consent.granted", {"consent_id": f"c{run}"})
            for batch in range(3):
                ledger.append(conn, "delivery", {"batch_id": f"s{run}-{batch}", "rows": 10})
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


def _both(engine: sa.Engine, ledger: Ledger, keystore: KeyStore, bundle: Path, now: datetime) -> list[Named]:
    """What the database verifier and the offline bundle verifier (exported `now`) name."""
    with engine.connect() as conn:
        db = _named(ledger.verify(conn, now=now))
        export_bundle(conn, bundle, keystore.public_keys(), keystore.signing_key())
    manifest = bundle / "manifest.json"  # as if exported `now` (the manifest lists no hash of itself)
    manifest.write_text(json.dumps({**json.loads(manifest.read_text()), "exported_at": now.isoformat()}))
    result = verify_bundle(bundle, keystore.public_keys())
    return [db, _named(result.ledger)]


def _last_entry_time(engine: sa.Engine) -> datetime:
    ledger = AUDIT_METADATA.tables["ledger"]
    with engine.connect() as conn:
        return conn.execute(sa.select(ledger.c.at).order_by(ledger.c.seq.desc()).limit(1)).scalar_one()


def _copy_checkpoint(engine: sa.Engine, source: Checkpoint, number: int) -> None:
    with engine.begin() as conn:
        conn.execute(
            checkpoints_table.update()
            .where(checkpoints_table.c.number == number)
            .values(
                tree_size=source.tree_size,
                root=source.root,
                at=source.at,
                key_id=source.key_id,
                signature=source.signature,
            )
        )


def _assert_named(found: list[Named], expected: dict[str, str]) -> None:
    for named in found:
        assert set(named) == set(expected), named
        for thing, phrase in expected.items():
            assert any(phrase in text for text in named[thing]), (thing, named[thing])


# -- 1. the newest entries deleted together with every checkpoint and tile ---------------


def test_entries_deleted_with_all_checkpoints_and_tiles_fail(
    engine: sa.Engine, keystore: KeyStore, tmp_path: Path
) -> None:
    ledger = Ledger.from_keystore(keystore)
    _runs(engine, ledger)
    with engine.connect() as conn:
        assert ledger.verify(conn).ok
    _sql(engine, "DELETE FROM ledger WHERE seq > 8")
    _sql(engine, "DELETE FROM ledger_checkpoints")
    _sql(engine, "DELETE FROM ledger_tiles")
    found = _both(engine, ledger, keystore, tmp_path / "bundle", _last_entry_time(engine))
    _assert_named(found, {"entry 2": "6 delivery entries but no checkpoint"})


def test_a_first_run_that_never_reached_its_checkpoint_fails_until_the_next_one(
    engine: sa.Engine, keystore: KeyStore
) -> None:
    """The honest twin of the rollback above: the message says both, and a checkpoint ends it."""
    ledger = Ledger.from_keystore(keystore)
    with engine.begin() as conn:
        ledger.append(conn, "delivery", {"batch_id": "s1-0", "rows": 1})
    with engine.connect() as conn:
        report = ledger.verify(conn)
    assert not report.ok and "first run has not finished" in report.problems[0][1]
    with engine.begin() as conn:
        ledger.checkpoint(conn)
    with engine.connect() as conn:
        assert ledger.verify(conn).ok


def test_entries_other_than_deliveries_wait_for_a_checkpoint_as_long_as_they_like(
    engine: sa.Engine, keystore: KeyStore
) -> None:
    ledger = Ledger.from_keystore(keystore)
    _runs(engine, ledger, runs=1)
    with engine.begin() as conn:
        ledger.append(conn, "consent.revoked", {"consent_id": "c1"})
    with engine.connect() as conn:
        report = ledger.verify(conn, now=_last_entry_time(engine) + timedelta(days=90))
    assert report.ok, report.problems


# -- 2. the newest checkpoint is older than the entries allow ----------------------------


def test_deliveries_the_newest_checkpoint_never_covered_fail_after_the_bound(
    engine: sa.Engine, keystore: KeyStore, tmp_path: Path
) -> None:
    """Run 3's checkpoint and its last two entries deleted: entries 9 and 10 stay uncovered."""
    ledger = Ledger.from_keystore(keystore)
    _runs(engine, ledger)
    _sql(engine, "DELETE FROM ledger WHERE seq > 10")
    _sql(engine, "DELETE FROM ledger_checkpoints WHERE number = 3")
    _sql(engine, "DELETE FROM ledger_tiles")
    last = _last_entry_time(engine)
    within = last + UNCOVERED_LIMIT - timedelta(minutes=5)
    with engine.connect() as conn:
        assert ledger.verify(conn, now=within).ok  # a run may still be on its way to its checkpoint
    found = _both(engine, ledger, keystore, tmp_path / "bundle", last + UNCOVERED_LIMIT + timedelta(hours=1))
    _assert_named(found, {"entry 10": "newest checkpoint (#2, 8 entries)"})
    assert all("more than the 24 hours" in named["entry 10"][0] for named in found)


def test_a_bundle_is_judged_as_of_its_export(engine: sa.Engine, keystore: KeyStore, tmp_path: Path) -> None:
    ledger = Ledger.from_keystore(keystore)
    _runs(engine, ledger, runs=1)
    with engine.begin() as conn:
        ledger.append(conn, "delivery", {"batch_id": "s2-0", "rows": 1})  # its run is still going
    with engine.connect() as conn:
        export_bundle(conn, tmp_path / "bundle", keystore.public_keys(), keystore.signing_key())
    assert verify_bundle(tmp_path / "bundle", keystore.public_keys()).ok  # verified a year later: still ok


# -- 3. checkpoint heads repeat ----------------------------------------------------------


def test_checkpoint_2_overwritten_with_checkpoint_1s_signed_head_fails(
    engine: sa.Engine, keystore: KeyStore, tmp_path: Path
) -> None:
    ledger = Ledger.from_keystore(keystore)
    first, _, _ = _runs(engine, ledger)
    _copy_checkpoint(engine, first, 2)
    found = _both(engine, ledger, keystore, tmp_path / "bundle", _last_entry_time(engine))
    _assert_named(found, {"checkpoint 2": "repeats the signed head of checkpoint 1"})
    assert all(any("signature is not valid" in t for t in named["checkpoint 2"]) for named in found)


# -- 4. the checkpoint number is signed (version 2), and version 1 still verifies --------


def test_the_number_is_signed_so_renumbered_checkpoints_fail(engine: sa.Engine, keystore: KeyStore) -> None:
    ledger = Ledger.from_keystore(keystore)
    taken = _runs(engine, ledger)
    keys = keystore.public_keys()
    assert [signed_version(c, keys) for c in taken] == [(CHECKPOINT_VERSION, None)] * 3
    message = checkpoint_message(taken[0].tree_size, taken[0].root, taken[0].at, 1)
    assert message.decode().endswith("\ncheckpoint 1\n")
    # Swap the numbers of checkpoints 2 and 3 (times and sizes then still look fine to a reader).
    _sql(engine, "UPDATE ledger_checkpoints SET number = -1 WHERE number = 2")
    _sql(engine, "UPDATE ledger_checkpoints SET number = 2 WHERE number = 3")
    _sql(engine, "UPDATE ledger_checkpoints SET number = 3 WHERE number = -1")
    with engine.connect() as conn:
        named = _named(ledger.verify(conn))
    for number in ("checkpoint 2", "checkpoint 3"):
        assert any("signature is not valid" in t for t in named[number]), named


def _legacy(engine: sa.Engine, keystore: KeyStore) -> None:
    """Re-sign every stored checkpoint as the bus did before version 2 (no number line)."""
    key = keystore.signing_key().key
    with engine.connect() as conn:
        stored = read_checkpoints(conn)
    with engine.begin() as conn:
        for c in stored:
            signature = key.sign(checkpoint_message(c.tree_size, c.root, c.at)).hex()
            conn.execute(
                checkpoints_table.update()
                .where(checkpoints_table.c.number == c.number)
                .values(signature=signature)
            )


def test_version_1_checkpoints_still_verify_and_a_copied_head_is_caught(
    engine: sa.Engine, keystore: KeyStore, tmp_path: Path
) -> None:
    ledger = Ledger.from_keystore(keystore)
    _runs(engine, ledger)
    _legacy(engine, keystore)
    with engine.connect() as conn:
        stored = read_checkpoints(conn)
        assert ledger.verify(conn).ok  # old ledgers keep verifying
    assert [signed_version(c, keystore.public_keys())[0] for c in stored] == [1, 1, 1]
    # Version 1 does not sign the number: the copy's signature holds, its repeated head does not.
    _copy_checkpoint(engine, stored[0], 2)
    found = _both(engine, ledger, keystore, tmp_path / "bundle", _last_entry_time(engine))
    for named in found:
        assert any("repeats the signed head of checkpoint 1" in t for t in named["checkpoint 2"]), named


def test_a_version_1_checkpoint_after_a_version_2_one_fails(engine: sa.Engine, keystore: KeyStore) -> None:
    ledger = Ledger.from_keystore(keystore)
    _runs(engine, ledger, runs=2)
    _legacy(engine, keystore)  # checkpoints 1 and 2 from before the upgrade
    with engine.begin() as conn:
        ledger.append(conn, "delivery", {"batch_id": "s3-0", "rows": 1})
        third = ledger.checkpoint(conn)  # signed with its number now
    with engine.connect() as conn:
        assert ledger.verify(conn).ok
        second = read_checkpoints(conn)[1]
    assert signed_version(third, keystore.public_keys())[0] == CHECKPOINT_VERSION
    # An old head (its number unsigned) re-stored as checkpoint 4, after the version 2 one.
    with engine.begin() as conn:
        conn.execute(
            checkpoints_table.insert().values(
                number=4,
                tree_size=second.tree_size,
                root=second.root,
                at=second.at,
                key_id=second.key_id,
                signature=second.signature,
            )
        )
    with engine.connect() as conn:
        named = _named(ledger.verify(conn))
    assert any("is signed without its number (version 1)" in t for t in named["checkpoint 4"]), named
