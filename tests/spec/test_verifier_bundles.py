"""The standalone verifier (run as a subprocess) on bundles and proofs the bus really exports."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from audit import AUDIT_METADATA, Ledger, export_bundle
from audit.proofs import consistency_document, entry_proof
from consent import CONSENT_METADATA, KeyStore

VERIFIER = Path(__file__).resolve().parents[2] / "tools" / "govbus_verify.py"


@pytest.fixture
def engine(tmp_path: Path, keystore: KeyStore) -> sa.Engine:
    """Eight entries, checkpoints after the fourth and the eighth, signed by two keys."""
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
    yield engine
    engine.dispose()


@pytest.fixture
def keys_dir(tmp_path: Path, keystore: KeyStore) -> Path:
    from audit import public_key_pem

    folder = tmp_path / "trusted"
    folder.mkdir()
    for key_id, public in keystore.public_keys().items():
        (folder / f"{key_id}.pem").write_text(public_key_pem(public))
    return folder


@pytest.fixture
def bundle(tmp_path: Path, engine: sa.Engine, keystore: KeyStore) -> Path:
    with engine.connect() as conn:
        export_bundle(conn, tmp_path / "bundle", keystore.public_keys(), keystore.signing_key())
    return tmp_path / "bundle"


def _verify(*args: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(VERIFIER), *map(str, args)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _rewrite(bundle: Path, entries: list[dict], checkpoints: list[dict]) -> None:
    """What a forger with write access does: rewrite files and a manifest that matches them."""
    for name, documents in (("entries.jsonl", entries), ("checkpoints.jsonl", checkpoints)):
        (bundle / name).write_text("".join(json.dumps(d) + "\n" for d in documents))
    manifest = json.loads((bundle / "manifest.json").read_text())
    manifest["entries"] = len(entries)
    manifest["checkpoints"] = len(checkpoints)
    manifest["root"] = checkpoints[-1]["root"]
    manifest["tree_size"] = checkpoints[-1]["tree_size"]
    for name in manifest["files"]:
        manifest["files"][name] = hashlib.sha256((bundle / name).read_bytes()).hexdigest()
    (bundle / "manifest.json").write_text(json.dumps(manifest))


def test_intact_bundle_verifies_against_trusted_keys(bundle: Path, keys_dir: Path) -> None:
    result = _verify("bundle", bundle, "--trusted-keys", keys_dir)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == "verified"


def test_without_trusted_keys_the_verdict_is_never_plain(bundle: Path) -> None:
    assert _verify("bundle", bundle).returncode == 2
    result = _verify("bundle", bundle, "--trust-bundled-keys")
    assert result.returncode == 3
    assert "NOT TRUSTED" in result.stdout


def test_foreign_keys_fail(bundle: Path, tmp_path: Path) -> None:
    other = KeyStore(tmp_path / "other")
    other.signing_key()
    folder = tmp_path / "foreign"
    folder.mkdir()
    from audit import public_key_pem

    for key_id, public in other.public_keys().items():
        (folder / f"{key_id}.pem").write_text(public_key_pem(public))
    result = _verify("bundle", bundle, "--trusted-keys", folder)
    assert result.returncode == 1
    assert "signature does not verify with a trusted key" in result.stdout


@pytest.mark.parametrize("kind", ["edit", "delete", "reorder", "truncate"])
def test_tampering_is_caught(bundle: Path, keys_dir: Path, kind: str) -> None:
    entries, checkpoints = _lines(bundle / "entries.jsonl"), _lines(bundle / "checkpoints.jsonl")
    if kind == "edit":
        entries[2]["payload"] = entries[2]["payload"].replace('"rows":3', '"rows":30')
    elif kind == "delete":
        del entries[5]
    elif kind == "reorder":
        entries[1], entries[2] = entries[2], entries[1]
    else:
        entries = entries[:6]
    _rewrite(bundle, entries, checkpoints)
    result = _verify("bundle", bundle, "--trusted-keys", keys_dir)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "FAIL" in result.stdout


def test_rollback_to_an_older_checkpoint_is_caught_with_a_pin(
    bundle: Path, keys_dir: Path, tmp_path: Path
) -> None:
    entries, checkpoints = _lines(bundle / "entries.jsonl"), _lines(bundle / "checkpoints.jsonl")
    pin = tmp_path / "pin.json"
    held = {k: v for k, v in checkpoints[1].items() if k != "consistency"}
    pin.write_text(json.dumps(held))
    # Intact bundle extends the pin.
    assert _verify("bundle", bundle, "--trusted-keys", keys_dir, "--pin", pin).returncode == 0
    _rewrite(bundle, entries[:4], checkpoints[:1])
    result = _verify("bundle", bundle, "--trusted-keys", keys_dir)
    assert result.returncode == 1 and "manifest.sig: does not verify" in result.stdout
    result = _verify("bundle", bundle, "--trusted-keys", keys_dir, "--pin", pin)
    assert result.returncode == 1
    assert "older than the pinned checkpoint 2" in result.stdout


def test_an_older_genuine_export_fails_only_against_a_pin(
    engine: sa.Engine, keystore: KeyStore, keys_dir: Path, tmp_path: Path
) -> None:
    with engine.connect() as conn:
        export_bundle(conn, tmp_path / "new", keystore.public_keys(), keystore.signing_key())
    pin = tmp_path / "pin.json"
    pin.write_text((tmp_path / "new" / "checkpoints.jsonl").read_text().splitlines()[-1])
    with engine.begin() as conn:  # the state as of checkpoint 1: what an older export held
        conn.execute(sa.text("DELETE FROM ledger_checkpoints WHERE number = 2"))
        conn.execute(sa.text("DELETE FROM ledger_tiles"))
        conn.execute(sa.text("DELETE FROM ledger WHERE seq > 4"))
    with engine.connect() as conn:
        export_bundle(conn, tmp_path / "old", keystore.public_keys(), keystore.signing_key())
    assert _verify("bundle", tmp_path / "old", "--trusted-keys", keys_dir).returncode == 0
    result = _verify("bundle", tmp_path / "old", "--trusted-keys", keys_dir, "--pin", pin)
    assert result.returncode == 1 and "older than the pinned checkpoint 2" in result.stdout


def test_inclusion_proof_against_an_older_checkpoint(
    engine: sa.Engine, keys_dir: Path, tmp_path: Path
) -> None:
    with engine.connect() as conn:
        latest, older = entry_proof(conn, 3), entry_proof(conn, 3, checkpoint=1)
    assert (latest["checkpoint"]["number"], older["checkpoint"]["number"]) == (2, 1)
    for document in (latest, older):
        path = tmp_path / f"proof-{document['checkpoint']['number']}.json"
        path.write_text(json.dumps(document))
        result = _verify("proof", path, "--trusted-keys", keys_dir)
        assert result.returncode == 0, result.stdout + result.stderr
    older["audit_path"] = older["audit_path"][::-1]
    path.write_text(json.dumps(older))
    assert _verify("proof", path, "--trusted-keys", keys_dir).returncode == 1


def test_consistency_proof_between_chosen_checkpoints(
    engine: sa.Engine, keys_dir: Path, tmp_path: Path
) -> None:
    with engine.connect() as conn:
        document = consistency_document(conn, 1, 2)
    path = tmp_path / "consistency.json"
    path.write_text(json.dumps(document))
    result = _verify("consistency", path, "--trusted-keys", keys_dir)
    assert result.returncode == 0, result.stdout + result.stderr
    document["new"]["root"] = document["old"]["root"]
    path.write_text(json.dumps(document))
    assert _verify("consistency", path, "--trusted-keys", keys_dir).returncode == 1


def test_deliveries_without_any_checkpoint_fail(
    engine: sa.Engine, keystore: KeyStore, keys_dir: Path, tmp_path: Path
) -> None:
    """Entries and checkpoints deleted together leave a valid chain; uncovered deliveries give it away."""
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM ledger_checkpoints"))
        conn.execute(sa.text("DELETE FROM ledger_tiles"))
    with engine.connect() as conn:
        export_bundle(conn, tmp_path / "cut", keystore.public_keys(), keystore.signing_key())
    result = _verify("bundle", tmp_path / "cut", "--trusted-keys", keys_dir)
    assert result.returncode == 1 and "delivery entries but no checkpoint" in result.stdout
