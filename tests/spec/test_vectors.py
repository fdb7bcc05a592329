"""The committed spec vectors are what the code produces, byte for byte; the standalone verifier agrees."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.spec.vectors import VECTORS_DIR, build

VERIFIER = Path(__file__).resolve().parents[2] / "tools" / "govbus_verify.py"


@pytest.mark.parametrize("name", sorted(build()))
def test_committed_vectors_match_the_code(name: str) -> None:
    expected = build()[name]
    committed = (VECTORS_DIR / name).read_bytes()
    assert committed == expected, f"regenerate with `python -m tests.spec.vectors` ({name} drifted)"


def test_no_stray_vector_files() -> None:
    assert sorted(p.name for p in VECTORS_DIR.iterdir()) == sorted(build())


def _verify(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(VERIFIER), *args], capture_output=True, text=True, check=False, timeout=120
    )


def test_standalone_verifier_accepts_the_vectors() -> None:
    result = _verify("vectors", str(VECTORS_DIR))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "verified" in result.stdout


@pytest.mark.parametrize(
    ("file", "edit"),
    [
        (
            "ledger.json",
            lambda d: d["entries"][1].update(payload=d["entries"][1]["payload"].replace("2", "3")),
        ),
        ("ledger.json", lambda d: d["checkpoints"][0].update(at="2026-01-02T03:05:05.678902+00:00")),
        ("ledger.json", lambda d: d["consistency_proofs"][0]["proof"].reverse()),
        ("ledger.json", lambda d: d["inclusion_proofs"][4].update(leaf_index=3)),
        ("pseudonyms.json", lambda d: d["hkdf"].update(salt_utf8="govbus/keystore/v2")),
        ("records.json", lambda d: d["rows"][0].update(amount=11)),
        ("signed_documents.json", lambda d: d["decision"]["document"].update(decision="reject")),
        ("signed_documents.json", lambda d: d["decision"]["request"].update(fields=["income"])),
        ("signed_documents.json", lambda d: d["delivery_manifest"]["files"].update({"b-0001.csv": "x"})),
        (
            "signed_documents.json",
            lambda d: d["delivery_manifest"].update(
                manifest_json=d["delivery_manifest"]["manifest_json"].replace(
                    '"delivered":2', '"delivered":3'
                )
            ),
        ),
        ("notes.json", lambda d: d["notes"][0].update(note=d["notes"][0]["note"].replace("\n3\n", "\n4\n"))),
        (
            "notes.json",
            lambda d: d["notes"][1].update(
                cosigned_note=d["notes"][1]["cosigned_note"].replace("time 2026", "time 2027")
            ),
        ),
        ("purges.json", lambda d: d["confirmation"].update(rows_deleted=4)),
        (
            "purges.json",
            lambda d: d.update(instruction_json=d["instruction_json"].replace("p-0001", "p-0002")),
        ),
    ],
)
def test_standalone_verifier_rejects_altered_vectors(tmp_path: Path, file: str, edit) -> None:
    for source in VECTORS_DIR.iterdir():
        (tmp_path / source.name).write_bytes(source.read_bytes())
    document = json.loads((tmp_path / file).read_text())
    edit(document)
    (tmp_path / file).write_text(json.dumps(document))
    result = _verify("vectors", str(tmp_path))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "FAIL" in result.stdout


def test_verifier_imports_no_govbus_module() -> None:
    text = VERIFIER.read_text()
    for package in ("audit", "consent", "exchange", "govbus", "connectors", "contracts"):
        assert f"from {package}" not in text and f"import {package}" not in text


def _c2sp_verify(note: str, vkey: str) -> bool:
    """An independent reading of c2sp.org/signed-note (Ed25519, type 0x01), from the spec's rules only."""
    import base64
    import hashlib

    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    name, key_hash, key = vkey.split("+", 2)
    raw = base64.b64decode(key)
    assert raw[0] == 1 and hashlib.sha256(name.encode() + b"\n" + raw).digest()[:4].hex() == key_hash
    text, _, signatures = note.rpartition("\n\n")
    for line in signatures.splitlines():
        dash, signer, value = line.split(" ")
        blob = base64.b64decode(value)
        if dash == "\u2014" and signer == name and blob[:4].hex() == key_hash:
            try:
                Ed25519PublicKey.from_public_bytes(raw[1:]).verify(blob[4:], (text + "\n").encode())
                return True
            except InvalidSignature:
                return False
    return False


def test_an_independent_c2sp_reader_accepts_the_checkpoint_notes() -> None:
    notes = json.loads((VECTORS_DIR / "notes.json").read_text())
    for item in notes["notes"]:
        assert _c2sp_verify(item["note"], notes["bus_key"]["vkey"])
        assert _c2sp_verify(item["cosigned_note"], notes["bus_key"]["vkey"])  # extra lines are ignored
        assert item["note"].startswith(f"{notes['origin']}\n")
        forged = item["note"].replace("\ncheckpoint ", "\ncheckpoint 9")
        assert not _c2sp_verify(forged, notes["bus_key"]["vkey"])
