"""Audit bundles: a round trip, and tampering with the exported files named offline."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from audit import (
    AUDIT_METADATA,
    BundleReport,
    Ledger,
    LedgerTree,
    checkpoint_message,
    entry_leaf_hash,
    export_bundle,
    key_id_of,
    load_trusted_keys,
    public_key_pem,
    verify_bundle,
)
from consent import CONSENT_METADATA, KeyStore
from govbus.errors import BadInput
from govbus.instants import parse_instant


@pytest.fixture
def bundle(tmp_path: Path, keystore: KeyStore) -> Path:
    """A bundle of eight entries, checkpoints after the fourth and the eighth, two keys."""
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'state.db'}")
    CONSENT_METADATA.create_all(engine)
    AUDIT_METADATA.create_all(engine)
    for block in (range(1, 5), range(5, 9)):
        ledger = Ledger.from_keystore(keystore)
        with engine.begin() as conn:
            for number in block:
                ledger.append(conn, "delivery", {"batch_id": f"b{number}", "rows": number})
            ledger.checkpoint(conn)
        keystore.rotate_signing_key()
    with engine.connect() as conn:
        export_bundle(conn, tmp_path / "bundle", keystore.public_keys(), keystore.signing_key())
    engine.dispose()
    return tmp_path / "bundle"


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _write(path: Path, documents: list[dict]) -> None:
    path.write_text("".join(json.dumps(d) + "\n" for d in documents))


def _named(result: BundleReport) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for seq, text in result.ledger.problems:
        found.setdefault(f"entry {seq}", []).append(text)
    for number, text in result.ledger.checkpoint_problems:
        found.setdefault(f"checkpoint {number}", []).append(text)
    return found


def test_round_trip(bundle: Path, keystore: KeyStore) -> None:
    manifest = json.loads((bundle / "manifest.json").read_text())
    entries = _lines(bundle / "entries.jsonl")
    checkpoints = _lines(bundle / "checkpoints.jsonl")
    keys = keystore.public_keys()
    assert manifest["entries"] == 8 and manifest["checkpoints"] == 2 and len(keys) == 3
    assert sorted(p.stem for p in (bundle / "keys").glob("*.pem")) == sorted(keys) == manifest["key_ids"]
    assert all((bundle / "keys" / f"{k}.pem").read_text() == public_key_pem(v) for k, v in keys.items())
    assert [e["seq"] for e in entries] == list(range(1, 9))
    assert json.loads(entries[2]["payload"]) == {"batch_id": "b3", "rows": 3}
    leaves = [entry_leaf_hash(e["entry_hash"]) for e in entries]
    assert manifest["root"] == checkpoints[1]["root"] == LedgerTree(leaves).root()
    assert checkpoints[1]["consistency"]["from"] == 1 and "consistency" not in checkpoints[0]
    for result in (verify_bundle(bundle), verify_bundle(bundle, load_trusted_keys([bundle / "keys"]))):
        assert result.ok and result.file_problems == [] and _named(result) == {}
        assert result.ledger.entries == 8 and result.ledger.checkpoints == 2
    assert verify_bundle(bundle).keys_source == "bundle"
    with pytest.raises(BadInput, match="not empty"):
        export_bundle(None, bundle, keys)  # type: ignore[arg-type]  # refused before any read
    with pytest.raises(BadInput, match="not an audit bundle"):
        verify_bundle(bundle / "manifest.json")


def test_edited_deleted_swapped_and_cut_lines_are_named(bundle: Path, keystore: KeyStore) -> None:
    keys = keystore.public_keys()
    path = bundle / "entries.jsonl"
    original = _lines(path)

    edited = [dict(e) for e in original]
    edited[2]["payload"] = '{"batch_id":"b3","rows":0}'
    _write(path, edited)
    result = verify_bundle(bundle, keys)
    assert _named(result) == {"entry 3": ["content does not match its hash (kind, time or payload edited)"]}
    assert "entries.jsonl: SHA-256 differs from the manifest (file changed)" in result.file_problems

    _write(path, original[:2] + original[3:])
    named = _named(verify_bundle(bundle, keys))
    assert named["entry 3"] == ["entry 3 is missing (deleted?)"]
    assert set(named) == {"entry 3", "checkpoint 1", "checkpoint 2"}

    _write(path, [original[0], original[3], original[2], original[1], *original[4:]])
    assert {"entry 2", "entry 4", "checkpoint 1", "checkpoint 2"} <= set(_named(verify_bundle(bundle, keys)))

    _write(path, original[:6])
    result = verify_bundle(bundle, keys)
    assert _named(result) == {
        "checkpoint 2": ["covers 8 entries but the ledger holds only 6 (entries removed from the end?)"]
    }
    assert not result.ok

    path.write_text(json.dumps(original[0]) + "\n{not json\n" + json.dumps({"seq": "2"}) + "\n")
    result = verify_bundle(bundle, keys)
    assert "entries.jsonl line 2: not JSON" in result.file_problems
    assert "entries.jsonl line 3: not a ledger entry" in result.file_problems


def test_forged_and_resigned_checkpoints_are_named(bundle: Path, keystore: KeyStore) -> None:
    keys = keystore.public_keys()
    path = bundle / "checkpoints.jsonl"
    original = _lines(path)
    first, second = original
    message = checkpoint_message(first["tree_size"], first["root"], parse_instant(first["at"], where="at"))
    forger = Ed25519PrivateKey.generate()

    _write(path, [{**first, "signature": forger.sign(message).hex()}, second])
    assert _named(verify_bundle(bundle, keys)) == {
        "checkpoint 1": ["signature is not valid for its tree head (forged, edited or re-signed)"]
    }

    # Re-signed with the forger's key, whose PEM the forger also slips into the bundle.
    resigned = {**first, "key_id": key_id_of(forger.public_key()), "signature": forger.sign(message).hex()}
    _write(path, [resigned, second])
    assert _named(verify_bundle(bundle, keys)) == {
        "checkpoint 1": ["signed by an unknown key id (not among the trusted keys)"]
    }
    assert _named(verify_bundle(bundle)) == _named(verify_bundle(bundle, keys))  # not shipped yet
    (bundle / "keys" / f"{resigned['key_id']}.pem").write_text(public_key_pem(forger.public_key()))
    assert "checkpoint 1" in _named(verify_bundle(bundle, keys))  # pinned keys still catch it

    proof = list(second["consistency"]["proof"])
    proof[0] = "00" * 32
    _write(path, [first, {**second, "consistency": {"from": 1, "proof": proof}}])
    assert _named(verify_bundle(bundle, keys)) == {
        "checkpoint 2": ["consistency proof from checkpoint 1 does not verify"]
    }
    _write(path, [second])
    assert _named(verify_bundle(bundle, keys))["checkpoint 1"] == ["checkpoint 1 is missing (deleted?)"]


def test_missing_manifest_and_changed_key_file(bundle: Path) -> None:
    pem = next((bundle / "keys").glob("*.pem"))
    pem.write_text("not a key")
    result = verify_bundle(bundle)
    assert any(p.startswith("keys: ") for p in result.file_problems) and not result.ok
    assert f"keys/{pem.name}: SHA-256 differs from the manifest (file changed)" in result.file_problems
    (bundle / "manifest.json").unlink()
    assert "manifest.json: missing or not JSON" in verify_bundle(bundle).file_problems
