"""A bundle cut back to an older checkpoint, everything rewritten, fails only against a pinned checkpoint."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import sqlalchemy as sa

from audit import AUDIT_METADATA, Checkpoint, Ledger, export_bundle, verify_bundle
from consent import CONSENT_METADATA, KeyStore


def _ledger(tmp_path: Path) -> sa.Engine:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'state.db'}")
    CONSENT_METADATA.create_all(engine)
    AUDIT_METADATA.create_all(engine)
    return engine


def _grow(engine: sa.Engine, keystore: KeyStore, numbers: range) -> None:
    ledger = Ledger.from_keystore(keystore)
    with engine.begin() as conn:
        for number in numbers:
            ledger.append(conn, "catalog", {"n": number})
        ledger.checkpoint(conn)


def _export(engine: sa.Engine, keystore: KeyStore, path: Path) -> Path:
    with engine.connect() as conn:
        export_bundle(conn, path, keystore.public_keys(), keystore.signing_key())
    return path


def _newest(bundle: Path) -> Checkpoint:
    return Checkpoint.from_json(json.loads((bundle / "checkpoints.jsonl").read_text().splitlines()[-1]))


def test_pin_catches_an_older_genuine_export(tmp_path: Path, keystore: KeyStore) -> None:
    """The realistic rollback: an earlier export, every file and the manifest signature genuine."""
    engine = _ledger(tmp_path)
    _grow(engine, keystore, range(1, 4))
    old = _export(engine, keystore, tmp_path / "old")
    _grow(engine, keystore, range(4, 7))
    new = _export(engine, keystore, tmp_path / "new")
    engine.dispose()
    keys = keystore.public_keys()
    held = _newest(new)
    assert verify_bundle(new, keys, held).ok
    assert verify_bundle(new, keys, _newest(old)).ok  # a newer bundle extends an older pin
    assert verify_bundle(old, keys).ok  # consistent and signed in itself
    report = verify_bundle(old, keys, held)
    assert not report.ok
    assert any("older than the pinned checkpoint" in text for _, text in report.ledger.checkpoint_problems)


def test_a_cut_back_bundle_with_a_rewritten_manifest_fails_its_signature(
    tmp_path: Path, keystore: KeyStore
) -> None:
    engine = _ledger(tmp_path)
    _grow(engine, keystore, range(1, 4))
    _grow(engine, keystore, range(4, 7))
    bundle = _export(engine, keystore, tmp_path / "bundle")
    engine.dispose()
    held = _newest(bundle)
    _cut_back(bundle, 3, 1)
    report = verify_bundle(bundle, keystore.public_keys())
    assert not report.ok
    assert any(text.startswith("manifest.sig") for text in report.file_problems)
    (bundle / "manifest.sig").unlink()
    assert "manifest.sig: missing" in " ".join(verify_bundle(bundle, keystore.public_keys()).file_problems)
    pinned = verify_bundle(bundle, keystore.public_keys(), held)
    assert any("older than the pinned" in text for _, text in pinned.ledger.checkpoint_problems)


def _cut_back(bundle: Path, entries: int, checkpoints: int) -> None:
    """Keep the first entries and checkpoints; rewrite the manifest so its digests match."""
    for name, keep in (("entries.jsonl", entries), ("checkpoints.jsonl", checkpoints)):
        lines = (bundle / name).read_text().splitlines(keepends=True)[:keep]
        (bundle / name).write_text("".join(lines))
    manifest = json.loads((bundle / "manifest.json").read_text())
    last = json.loads((bundle / "checkpoints.jsonl").read_text().splitlines()[-1])
    manifest.update(entries=entries, checkpoints=checkpoints, root=last["root"], tree_size=entries)
    manifest["files"] = {n: hashlib.sha256((bundle / n).read_bytes()).hexdigest() for n in manifest["files"]}
    (bundle / "manifest.json").write_text(json.dumps(manifest))


def test_pin_with_a_forged_checkpoint_is_refused(tmp_path: Path, keystore: KeyStore) -> None:
    engine = _ledger(tmp_path)
    _grow(engine, keystore, range(1, 4))
    bundle = _export(engine, keystore, tmp_path / "bundle")
    engine.dispose()
    data = json.loads((bundle / "checkpoints.jsonl").read_text().splitlines()[0])
    data["root"] = "0" * 64
    report = verify_bundle(bundle, keystore.public_keys(), Checkpoint.from_json(data))
    assert not report.ok
    assert any("pinned checkpoint" in text for _, text in report.ledger.checkpoint_problems)
