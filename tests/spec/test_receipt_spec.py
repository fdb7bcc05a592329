"""Consent receipts per spec §12: the standalone verifier's own RFC 8785 agrees with the `rfc8785`
package, an outside JOSE library verifies the vector, and every tampering is refused."""

from __future__ import annotations

import importlib.util
import json
import random
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import rfc8785
from jwcrypto import jwk, jws

from tests.spec.vectors import VECTORS_DIR

VERIFIER = Path(__file__).resolve().parents[2] / "tools" / "govbus_verify.py"


def _verifier() -> ModuleType:
    spec = importlib.util.spec_from_file_location("govbus_verify_under_test", VERIFIER)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _vector() -> dict[str, Any]:
    return json.loads((VECTORS_DIR / "receipts.json").read_text(encoding="utf-8"))


def _random_json(rng: random.Random, depth: int = 0) -> Any:
    kind = rng.randrange(8 if depth < 4 else 5)
    if kind == 0:
        return rng.choice([None, True, False])
    if kind == 1:
        return rng.randint(-(2**53), 2**53)
    if kind == 2:
        return rng.choice([0.1, -1e-7, 1e21, 123.456, 5e-324, 1.7976931348623157e308, rng.uniform(-1e9, 1e9)])
    if kind in (3, 4):
        alphabet = 'aZ09 "\\/\b\f\n\r\t\x00\x1f\x7fé€\u2028😀𝄞'
        return "".join(rng.choice(alphabet) for _ in range(rng.randrange(6)))
    if kind in (5, 6):
        keys = ["a", "B", "é", "€", "😀", "\ufb01", "𝄞", "10", "1", "", "aa"]
        return {
            rng.choice(keys) + str(rng.randrange(3)): _random_json(rng, depth + 1)
            for _ in range(rng.randrange(5))
        }
    return [_random_json(rng, depth + 1) for _ in range(rng.randrange(4))]


def test_the_verifiers_own_canonical_json_is_rfc_8785() -> None:
    """Differential: 3,000 random documents (unicode keys outside the BMP, control characters,
    numbers at the edges of ECMAScript's formatting) give the same bytes as the `rfc8785` package."""
    jcs = _verifier().jcs
    rng = random.Random(8785)
    for _ in range(3000):
        document = _random_json(rng)
        assert jcs(document).encode("utf-8") == rfc8785.dumps(document), document


def test_an_outside_jose_library_verifies_the_vector_receipt() -> None:
    vector = _vector()
    key = jwk.JWK.from_pem(vector["receipt"]["publicKey"].encode())
    token = jws.JWS()
    token.deserialize(vector["compact_jws"])
    token.verify(key)  # raises on a bad signature
    assert token.payload == vector["canonical_json"].encode("utf-8")
    assert json.loads(token.payload) == {k: v for k, v in vector["receipt"].items() if k != "signature"}


def _receipt_files(tmp_path: Path, receipt: dict[str, Any]) -> tuple[Path, Path]:
    path, key = tmp_path / "receipt.json", tmp_path / "bus.pem"
    path.write_text(json.dumps(receipt, ensure_ascii=False, indent=1), encoding="utf-8")
    key.write_text(_vector()["receipt"]["publicKey"], encoding="utf-8")
    return path, key


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(VERIFIER), *args], capture_output=True, text=True, check=False, timeout=120
    )


def test_the_standalone_verifier_checks_a_receipt(tmp_path: Path) -> None:
    path, key = _receipt_files(tmp_path, _vector()["receipt"])
    result = _run("receipt", str(path), "--trusted-keys", str(key))
    assert result.returncode == 0 and "verified" in result.stdout, result.stdout + result.stderr


def _other_key_pem() -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    return (
        Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


@pytest.mark.parametrize(
    "edit",
    [
        lambda r: r["consentRecord"].update(status="withdrawn"),
        lambda r: r["services"][0]["purposes"][0].update(piiCategory=["gross_income", "national_id"]),
        lambda r: r.update(consentTimestamp=r["consentTimestamp"] + 1),
        lambda r: r.update(publicKey=_other_key_pem()),
        lambda r: r["signature"].update(jws=r["signature"]["jws"][:-4] + "AAAA"),
        lambda r: r["signature"].update(canonicalization="sorted-compact"),
        lambda r: r.update(version="KI-CR-v1.0.0"),
    ],
)
def test_a_tampered_receipt_is_refused(tmp_path: Path, edit) -> None:
    receipt = _vector()["receipt"]
    edit(receipt)
    path, key = _receipt_files(tmp_path, receipt)
    result = _run("receipt", str(path), "--trusted-keys", str(key))
    assert result.returncode == 1 and "FAIL" in result.stdout, result.stdout + result.stderr


def test_a_receipt_signed_by_an_untrusted_key_is_refused(tmp_path: Path) -> None:
    path, _ = _receipt_files(tmp_path, _vector()["receipt"])
    other = tmp_path / "other.pem"
    other.write_text(_other_key_pem(), encoding="utf-8")
    result = _run("receipt", str(path), "--trusted-keys", str(other))
    assert result.returncode == 1 and "does not verify" in result.stdout


def test_an_altered_receipt_vector_fails_the_vectors_check(tmp_path: Path) -> None:
    for source in VECTORS_DIR.iterdir():
        (tmp_path / source.name).write_bytes(source.read_bytes())
    vector = _vector()
    vector["canonical_json"] = vector["canonical_json"].replace("housing", "benefits", 1)
    (tmp_path / "receipts.json").write_text(json.dumps(vector), encoding="utf-8")
    result = _run("vectors", str(tmp_path))
    assert result.returncode == 1 and "RFC 8785 form differs" in result.stdout
