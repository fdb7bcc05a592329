"""Signed-note checkpoints, witnesses and cosignatures: a witness refuses a forked or rolled-back
log; forged or missing cosignatures are reported by the bundle verifier and the standalone one."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from audit import (
    AUDIT_METADATA,
    Ledger,
    NoteKey,
    Witness,
    WitnessPolicy,
    check_checkpoints,
    export_bundle,
    load_trusted_keys,
    note_problem,
    read_checkpoints,
    record_cosignatures,
    verify_bundle,
)
from audit.ledger.tree import LedgerTree, read_leaves
from audit.tables import ledger_checkpoints, ledger_cosignatures
from audit.witness.witness import read_cosigned_file, write_cosigned_file
from consent import CONSENT_METADATA, KeyStore
from govbus.errors import BadInput

VERIFIER = Path(__file__).resolve().parents[2] / "tools" / "govbus_verify.py"
ORIGIN = "tax.gov.example/govbus-ledger"


def _engine(path: Path) -> sa.Engine:
    engine = sa.create_engine(f"sqlite:///{path}")
    CONSENT_METADATA.create_all(engine)
    AUDIT_METADATA.create_all(engine)
    return engine


def _grow(engine: sa.Engine, ledger: Ledger, tag: str, count: int) -> None:
    with engine.begin() as conn:
        for number in range(count):
            ledger.append(conn, "delivery", {"batch_id": f"{tag}{number}", "rows": number})
        ledger.checkpoint(conn)


def _export(engine: sa.Engine, keystore: KeyStore, path: Path, policy: WitnessPolicy | None = None) -> Path:
    with engine.connect() as conn:
        export_bundle(conn, path, keystore.public_keys(), keystore.signing_key(), policy)
    return path


def _standalone(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(VERIFIER), *args], capture_output=True, text=True, check=False, timeout=120
    )


@pytest.fixture
def keys_dir(tmp_path: Path, keystore: KeyStore) -> Path:
    folder = tmp_path / "trusted"
    folder.mkdir()
    from audit import public_key_pem

    for key_id, public in keystore.public_keys().items():
        (folder / f"{key_id}.pem").write_text(public_key_pem(public))
    return folder


@pytest.fixture
def grown(tmp_path: Path, keystore: KeyStore) -> tuple[sa.Engine, Ledger]:
    """A state database whose ledger holds 3 entries under one checkpoint, and that ledger."""
    engine = _engine(tmp_path / "state.db")
    ledger = Ledger.from_keystore(keystore)
    _grow(engine, ledger, "a", 3)
    return engine, ledger


def test_checkpoints_carry_a_signed_note_and_an_edited_one_is_named(
    tmp_path: Path, keystore: KeyStore
) -> None:
    engine = _engine(tmp_path / "state.db")
    ledger = Ledger.from_keystore(keystore)
    ledger.origin = ORIGIN
    _grow(engine, ledger, "a", 3)
    with engine.connect() as conn:
        [checkpoint] = read_checkpoints(conn)
    assert checkpoint.note is not None and checkpoint.note.startswith(f"{ORIGIN}\n3\n")
    assert "\ncheckpoint 1\ntime " in checkpoint.note
    assert note_problem(checkpoint, keystore.public_keys()) is None
    # A note signature taken from nowhere (a forger without the key) is named.
    with engine.begin() as conn:
        conn.execute(
            ledger_checkpoints.update().values(note_signature=base64.b64encode(b"\x00" * 68).decode())
        )
        tree = LedgerTree(read_leaves(conn)[1])
        problems = check_checkpoints(read_checkpoints(conn), tree, keystore.public_keys())
    assert [
        (1, "its signed note carries no valid signature by a trusted key under its origin (forged?)")
    ] == problems


def test_a_forged_note_in_a_bundle_is_named_by_both_verifiers(
    tmp_path: Path, keystore: KeyStore, grown: tuple[sa.Engine, Ledger], keys_dir: Path
) -> None:
    engine, _ = grown
    with engine.begin() as conn:  # the note's signature line from another key, the rest untouched
        other = base64.b64encode(b"\x01\x02\x03\x04" + bytes(64)).decode()
        conn.execute(ledger_checkpoints.update().values(note_signature=other))
    bundle = _export(engine, keystore, tmp_path / "bundle")  # the bus signs the manifest: files agree
    problems = verify_bundle(bundle, load_trusted_keys([keys_dir])).ledger.checkpoint_problems
    assert any(number == 1 and "signed note" in text for number, text in problems)
    result = _standalone("bundle", str(bundle), "--trusted-keys", str(keys_dir))
    assert result.returncode == 1
    assert "checkpoint 1: signed note has no valid signature by a trusted key" in result.stdout


def test_checkpoints_from_before_notes_verify_and_need_no_cosignature(
    tmp_path: Path, keystore: KeyStore, grown: tuple[sa.Engine, Ledger], keys_dir: Path
) -> None:
    engine, _ = grown
    with engine.begin() as conn:  # as migration 0009 leaves a checkpoint taken before it
        conn.execute(ledger_checkpoints.update().values(origin=None, note_signature=None))
        [checkpoint] = read_checkpoints(conn)
        tree = LedgerTree(read_leaves(conn)[1])
        assert checkpoint.note is None
        assert check_checkpoints([checkpoint], tree, keystore.public_keys()) == []
    witness = NoteKey("a.example/w", 4, keystore.public_keys()[checkpoint.key_id])
    policy = WitnessPolicy("", (witness,), required=1)
    bundle = _export(engine, keystore, tmp_path / "bundle", policy)
    assert verify_bundle(bundle, load_trusted_keys([keys_dir])).ok
    result = _standalone("bundle", str(bundle), "--trusted-keys", str(keys_dir))
    assert result.returncode == 0, result.stdout + result.stderr


def test_witness_cosigns_then_refuses_a_rolled_back_and_a_forked_log(
    tmp_path: Path, keystore: KeyStore, grown: tuple[sa.Engine, Ledger], keys_dir: Path
) -> None:
    engine, ledger = grown
    old = _export(engine, keystore, tmp_path / "old")
    _grow(engine, ledger, "b", 2)
    new = _export(engine, keystore, tmp_path / "new")
    trusted = load_trusted_keys([keys_dir])
    witness = Witness.init(tmp_path / "witness" / "key.pem", "audit-office.example/witness")
    assert (tmp_path / "witness" / "key.pem").stat().st_mode & 0o777 == 0o600

    first = witness.cosign_bundle(old, trusted)
    assert [c.number for c in first] == [1]
    second = Witness.load(tmp_path / "witness" / "key.pem").cosign_bundle(new, trusted)
    assert [c.number for c in second] == [2]  # only what it had not cosigned
    assert witness.key.vkey() == Witness.load(tmp_path / "witness" / "key.pem").key.vkey()

    with pytest.raises(BadInput, match="rolled back, refused"):
        Witness.load(tmp_path / "witness" / "key.pem").cosign_bundle(old, trusted)

    # A fork: the same bus key signs a different history of the same size and beyond.
    forked_engine = _engine(tmp_path / "forked.db")
    _grow(forked_engine, ledger, "x", 5)
    _grow(forked_engine, ledger, "y", 1)
    forked = _export(forked_engine, keystore, tmp_path / "forked")
    with pytest.raises(BadInput, match="not consistent with checkpoint 2"):
        Witness.load(tmp_path / "witness" / "key.pem").cosign_bundle(forked, trusted)
    held = Witness.load(tmp_path / "witness" / "key.pem").held("govbus.local/govbus-ledger")
    assert held is not None and held["number"] == 2 and held["size"] == 5  # refusals changed nothing


def test_recorded_cosignatures_travel_in_bundles_and_both_verifiers_count_them(
    tmp_path: Path, keystore: KeyStore, grown: tuple[sa.Engine, Ledger], keys_dir: Path
) -> None:
    engine, ledger = grown
    trusted = load_trusted_keys([keys_dir])
    witness = Witness.init(tmp_path / "w.pem", "audit-office.example/witness")
    cosigned_file = tmp_path / "cosigned.jsonl"
    write_cosigned_file(
        cosigned_file, witness.cosign_bundle(_export(engine, keystore, tmp_path / "b1"), trusted)
    )
    policy = WitnessPolicy("govbus.local/govbus-ledger", (witness.key,), required=1)
    with engine.begin() as conn:
        [checkpoint] = read_checkpoints(conn)
        [item] = read_cosigned_file(cosigned_file)
        assert record_cosignatures(conn, checkpoint, item.cosignatures, policy.witnesses) == [
            witness.key.name
        ]
        assert record_cosignatures(conn, checkpoint, item.cosignatures, policy.witnesses) == []  # idempotent
        stranger = NoteKey("someone.example/w", 4, witness.key.public)
        with pytest.raises(BadInput, match="no valid cosignature"):
            record_cosignatures(conn, checkpoint, item.cosignatures, (stranger,))

    good = _export(engine, keystore, tmp_path / "good", policy)
    assert verify_bundle(good, trusted).ok
    result = _standalone("bundle", str(good), "--trusted-keys", str(keys_dir))
    assert result.returncode == 0, result.stdout + result.stderr

    # Two required, one given: the checkpoint is reported short by both verifiers.
    report = verify_bundle(good, trusted, witnesses=WitnessPolicy("", (witness.key,), required=2))
    assert (1, "has 1 of the 2 witness cosignature(s) required") in report.ledger.checkpoint_problems
    result = _standalone(
        "bundle", str(good), "--trusted-keys", str(keys_dir),
        "--witness-keys", witness.key.vkey(), "--require-cosignatures", "2",
    )  # fmt: skip
    assert result.returncode == 1 and "has 1 of the 2 witness cosignature(s) required" in result.stdout

    # A new checkpoint nobody cosigned yet: short under the manifest's own policy.
    _grow(engine, ledger, "b", 1)
    short = _export(engine, keystore, tmp_path / "short", policy)
    assert (2, "has 0 of the 1 witness cosignature(s) required") in verify_bundle(
        short, trusted
    ).ledger.checkpoint_problems
    result = _standalone("bundle", str(short), "--trusted-keys", str(keys_dir))
    assert result.returncode == 1 and "checkpoint 2: has 0 of the 1" in result.stdout


def test_a_forged_cosignature_is_caught_by_both_verifiers(
    tmp_path: Path, keystore: KeyStore, grown: tuple[sa.Engine, Ledger], keys_dir: Path
) -> None:
    engine, _ = grown
    trusted = load_trusted_keys([keys_dir])
    witness = Witness.init(tmp_path / "w.pem", "audit-office.example/witness")
    [item] = witness.cosign_bundle(_export(engine, keystore, tmp_path / "b1"), trusted)
    value = bytearray(item.cosignatures[-1].value)
    value[-1] ^= 1  # the witness's key hash and time, a signature it never made
    with engine.begin() as conn:
        conn.execute(
            ledger_cosignatures.insert().values(
                checkpoint_number=1,
                witness=witness.name,
                key_hash=witness.key.hash.hex(),
                cosigned_at=int.from_bytes(value[4:12], "big"),
                signature=base64.b64encode(bytes(value)).decode(),
                recorded_at=read_checkpoints(conn)[0].at,
            )
        )
    policy = WitnessPolicy("", (witness.key,), required=1)
    bundle = _export(engine, keystore, tmp_path / "forged", policy)
    problems = verify_bundle(bundle, trusted).ledger.checkpoint_problems
    assert (1, f"cosignature of witness {witness.name} does not verify (forged?)") in problems
    assert (1, "has 0 of the 1 witness cosignature(s) required") in problems
    result = _standalone("bundle", str(bundle), "--trusted-keys", str(keys_dir))
    assert result.returncode == 1
    assert f"checkpoint 1: cosignature of witness {witness.name} does not verify (forged?)" in result.stdout
    # The standalone `cosignature` check of a witness's file, forged and genuine.
    lines = json.loads(json.dumps({"number": 1, "note": item.note}))
    genuine = tmp_path / "genuine.jsonl"
    genuine.write_text(json.dumps(lines) + "\n")
    ok = _standalone(
        "cosignature", str(genuine), "--trusted-keys", str(keys_dir), "--witness-keys", witness.key.vkey()
    )
    assert ok.returncode == 0, ok.stdout + ok.stderr
    forged_line = item.cosignatures[-1].line
    forged = item.note.replace(
        forged_line, forged_line[:-6] + ("A" if forged_line[-6] != "A" else "B") + forged_line[-5:]
    )
    (tmp_path / "forged.note").write_text(forged)
    bad = _standalone(
        "cosignature",
        str(tmp_path / "forged.note"),
        "--trusted-keys",
        str(keys_dir),
        "--witness-keys",
        witness.key.vkey(),
    )
    assert bad.returncode == 1 and "does not verify (forged?)" in bad.stdout


def test_a_witness_cosigns_from_a_consistency_proof_alone(
    tmp_path: Path, keystore: KeyStore, keys_dir: Path
) -> None:
    from audit import consistency_document

    engine = _engine(tmp_path / "state.db")
    ledger = Ledger.from_keystore(keystore)
    for tag, count in (("a", 3), ("b", 2), ("c", 1)):
        _grow(engine, ledger, tag, count)
    with engine.connect() as conn:
        one_two, two_three, one_three = (
            consistency_document(conn, a, b) for a, b in ((1, 2), (2, 3), (1, 3))
        )
    trusted = load_trusted_keys([keys_dir])
    witness = Witness.init(tmp_path / "w.pem", "audit-office.example/witness")
    assert [c.number for c in witness.cosign_consistency(one_two, trusted)] == [2]  # first use
    with pytest.raises(BadInput, match="not from checkpoint 2 this witness cosigned"):
        witness.cosign_consistency(one_three, trusted)
    bent = json.loads(json.dumps(two_three))
    bent["proof"] = list(reversed(bent["proof"])) if len(bent["proof"]) > 1 else ["00" * 32]
    with pytest.raises(BadInput, match="does not verify"):
        witness.cosign_consistency(bent, trusted)
    [third] = witness.cosign_consistency(two_three, trusted)
    assert third.number == 3 and third.cosignatures[-1].name == witness.name
    assert witness.cosign_consistency(two_three, trusted) == []  # held already
    with pytest.raises(BadInput, match="rolled back, refused"):
        witness.cosign_consistency(one_two, trusted)
    # A fork: another history signed by the same key, numbered alike.
    forked = _engine(tmp_path / "forked.db")
    for tag, count in (("x", 3), ("y", 2), ("z", 1), ("w", 1)):
        _grow(forked, ledger, tag, count)
    with forked.connect() as conn:
        fork = consistency_document(conn, 3, 4)
    with pytest.raises(BadInput, match="a fork"):
        witness.cosign_consistency(fork, trusted)


def test_an_unreadable_stored_note_signature_is_named_not_a_crash(tmp_path: Path, keystore: KeyStore) -> None:
    engine = _engine(tmp_path / "state.db")
    _grow(engine, Ledger.from_keystore(keystore), "a", 2)
    with engine.begin() as conn:
        conn.execute(ledger_checkpoints.update().values(note_signature="not base64!"))
        tree = LedgerTree(read_leaves(conn)[1])
        problems = check_checkpoints(read_checkpoints(conn), tree, keystore.public_keys())
    assert problems and problems[0][0] == 1 and problems[0][1].startswith("note: ")
