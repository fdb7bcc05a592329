"""Signed delivery manifests: OpenSSL-verifiable, tampering detected, rotation, envelopes."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from audit import SigningKey, key_id_of
from consent import KeyStore, decrypt_column, encrypt_column, open_delivery, verify_delivery, write_manifest
from consent.protect.manifests import file_sha256
from govbus.errors import BadInput, FatalError

BATCH = "st-000001-00000-statistics.tax-income"
META = {
    "contract_id": "tax.income",
    "contract_version": "1.0.0",
    "schema_sha256": "ab" * 32,
    "policy_version": "sha256:" + "cd" * 32,
}


def _batch(directory: Path, rows: int = 50) -> str:
    directory.mkdir(parents=True, exist_ok=True)
    name = f"{BATCH}.parquet"
    pq.write_table(pa.table({"tax_year": [2024] * rows, "gross_income": list(range(rows))}), directory / name)
    return name


def _write(directory: Path, keystore: KeyStore, name: str, **extra: object) -> Path:
    return write_manifest(
        directory,
        BATCH,
        signing_key=keystore.signing_key(),
        rows_delivered=50,
        rows_denied=3,
        files=[(name, file_sha256(directory / name)[0])],
        details={"subscription": "statistics.tax-income"},
        **META,
        **extra,
    )  # type: ignore[arg-type]


def test_manifest_content_and_verification(tmp_path: Path, keystore: KeyStore) -> None:
    inbox = tmp_path / "inbox"
    name = _batch(inbox)
    manifest = _write(inbox, keystore, name)
    document = json.loads(manifest.read_bytes())
    assert document["batch_id"] == BATCH and document["key_id"] == keystore.signing_key_id()
    assert document["contract"] == {"id": "tax.income", "version": "1.0.0"}
    assert document["rows"] == {"delivered": 50, "denied": 3}
    assert document["files"] == [
        {"name": name, "sha256": file_sha256(inbox / name)[0], "bytes": (inbox / name).stat().st_size}
    ]
    assert document["policy_version"] == META["policy_version"]
    assert manifest.read_bytes() == json.dumps(document, sort_keys=True, separators=(",", ":")).encode()
    for target in (manifest, inbox):  # a manifest, or the folder holding it
        report = verify_delivery(target, keystore.public_keys())
        assert report.ok and [c.problems for c in report.checks] == [[]]


@pytest.mark.skipif(shutil.which("openssl") is None, reason="no openssl binary")
def test_openssl_verifies_the_detached_signature(tmp_path: Path, keystore: KeyStore) -> None:
    inbox = tmp_path / "inbox"
    manifest = _write(inbox, keystore, _batch(inbox))
    pem = inbox / f"govbus-signing-{keystore.signing_key_id()}.pub.pem"
    command = [
        "openssl",
        "pkeyutl",
        "-verify",
        "-pubin",
        "-inkey",
        str(pem),
        "-rawin",
        "-in",
        str(manifest),
        "-sigfile",
        str(inbox / f"{BATCH}.manifest.sig"),
    ]
    good = subprocess.run(command, capture_output=True, text=True, check=False)
    assert good.returncode == 0 and "Signature Verified Successfully" in good.stdout
    manifest.write_bytes(manifest.read_bytes().replace(b'"delivered":50', b'"delivered":51'))
    bad = subprocess.run(command, capture_output=True, text=True, check=False)
    assert bad.returncode != 0


def _tamper_file(inbox: Path, name: str) -> None:
    data = bytearray((inbox / name).read_bytes())
    data[len(data) // 2] ^= 0x01
    (inbox / name).write_bytes(bytes(data))


@pytest.mark.parametrize(
    ("tamper", "problem"),
    [
        (lambda inbox, name: _tamper_file(inbox, name), "SHA-256 does not match"),
        (lambda inbox, name: (inbox / name).unlink(), "missing"),
        (
            lambda inbox, name: (inbox / f"{BATCH}.manifest.json").write_bytes(
                (inbox / f"{BATCH}.manifest.json").read_bytes().replace(b'"denied":3', b'"denied":0')
            ),
            "signature does not verify",
        ),
        (
            lambda inbox, name: (inbox / f"{BATCH}.manifest.sig").write_bytes(b"\x00" * 64),
            "signature does not verify",
        ),
        (lambda inbox, name: (inbox / f"{BATCH}.manifest.sig").unlink(), "signature file"),
        (
            lambda inbox, name: (inbox / f"{BATCH}.manifest.json").write_text(
                json.dumps(json.loads((inbox / f"{BATCH}.manifest.json").read_text()), indent=1)
            ),
            "canonical form",
        ),
    ],
)
def test_tampering_is_reported(tmp_path: Path, keystore: KeyStore, tamper, problem: str) -> None:
    inbox = tmp_path / "inbox"
    name = _batch(inbox)
    _write(inbox, keystore, name)
    tamper(inbox, name)
    (check,) = verify_delivery(inbox, keystore.public_keys()).checks
    assert not check.ok
    assert any(problem in text for text in check.problems), check.problems


def test_unknown_key_and_rotation(tmp_path: Path, keystore: KeyStore) -> None:
    inbox = tmp_path / "inbox"
    old = _write(inbox, keystore, _batch(inbox))
    stranger = Ed25519PrivateKey.generate().public_key()
    (check,) = verify_delivery(old, {key_id_of(stranger): stranger}).checks
    assert check.problems == ["signed by an unknown key id (not among the trusted keys)"]
    # An attacker re-signs with a key of their own: still unknown to the recipient.
    forger = Ed25519PrivateKey.generate()
    write_manifest(
        inbox,
        BATCH,
        signing_key=SigningKey(forger, key_id_of(forger.public_key())),
        rows_delivered=50,
        rows_denied=0,
        files=[f"{BATCH}.parquet"],
        **META,
    )
    assert not verify_delivery(inbox, keystore.public_keys()).ok
    # Rotation: new deliveries use the new key, old ones still verify.
    _write(inbox, keystore, f"{BATCH}.parquet")
    before = keystore.signing_key_id()
    after = keystore.rotate_signing_key()
    newer = tmp_path / "newer"
    _write(newer, keystore, _batch(newer))
    assert json.loads((newer / f"{BATCH}.manifest.json").read_bytes())["key_id"] == after != before
    assert verify_delivery(inbox, keystore.public_keys()).ok
    assert verify_delivery(newer, keystore.public_keys()).ok


def test_unsafe_or_changed_files_are_refused_at_write(tmp_path: Path, keystore: KeyStore) -> None:
    inbox = tmp_path / "inbox"
    name = _batch(inbox)
    for files in (["../outside.parquet"], [".hidden"], ["missing.parquet"], [(name, "00" * 32)]):
        with pytest.raises(BadInput):
            write_manifest(
                inbox,
                BATCH,
                signing_key=keystore.signing_key(),
                rows_delivered=1,
                rows_denied=0,
                files=files,
                **META,
            )
    with pytest.raises(BadInput, match="batch_id"):
        write_manifest(
            inbox,
            "../x",
            signing_key=keystore.signing_key(),
            rows_delivered=1,
            rows_denied=0,
            files=[name],
            **META,
        )
    assert not list(inbox.glob("*.manifest.*"))


def test_envelope_encryption_for_the_recipient_only(tmp_path: Path, keystore: KeyStore) -> None:
    inbox = tmp_path / "inbox"
    name = _batch(inbox, rows=200_000)
    (inbox / "big.bin").write_bytes(bytes(range(256)) * (10 * 1024 + 7))  # 2.5 MiB: 3 segments
    original = {n: (inbox / n).read_bytes() for n in (name, "big.bin")}
    recipient = X25519PrivateKey.generate()
    field_key = keystore.field_key("statistics", "postal_code")
    write_manifest(
        inbox,
        BATCH,
        signing_key=keystore.signing_key(),
        rows_delivered=200_000,
        rows_denied=0,
        files=[name, "big.bin"],
        **META,
        recipient_keys={"statistics": recipient.public_key()},
        encrypt=True,
        field_keys={"postal_code": ("k1", field_key)},
    )
    assert not (inbox / name).exists() and (inbox / f"{name}.enc").exists()
    assert original[name] not in (inbox / f"{name}.enc").read_bytes()
    assert verify_delivery(inbox, keystore.public_keys()).ok
    opened = open_delivery(
        inbox / f"{BATCH}.manifest.json",
        recipient="statistics",
        private_key=recipient,
        trusted_keys=keystore.public_keys(),
        out_dir=tmp_path / "plain",
    )
    assert {p.name: p.read_bytes() for p in opened.files} == original
    column = pa.array(["1010", "2020"])
    sealed = encrypt_column(column, field_key, field="postal_code")
    (kid, key) = opened.field_keys["postal_code"]
    assert kid == "k1" and decrypt_column(sealed, key, field="postal_code").equals(column)
    with pytest.raises(BadInput, match="not sealed to this recipient"):
        open_delivery(
            inbox / f"{BATCH}.manifest.json",
            recipient="statistics",
            private_key=X25519PrivateKey.generate(),
            trusted_keys=keystore.public_keys(),
            out_dir=tmp_path / "other",
        )
    _tamper_file(inbox, "big.bin.enc")
    with pytest.raises(FatalError, match="does not verify"):
        open_delivery(
            inbox / f"{BATCH}.manifest.json",
            recipient="statistics",
            private_key=recipient,
            trusted_keys=keystore.public_keys(),
            out_dir=tmp_path / "again",
        )


def test_encrypted_segments_cannot_be_cut_or_renamed(tmp_path: Path) -> None:
    from consent.protect.envelopes import SEGMENT, decrypt_file, encrypt_file, new_data_key

    key = new_data_key()
    source = tmp_path / "a.bin"
    source.write_bytes(b"z" * (2 * SEGMENT + 10))
    encrypt_file(source, tmp_path / "a.bin.enc", key)
    decrypt_file(tmp_path / "a.bin.enc", tmp_path / "out", key, plain_name="a.bin")
    assert (tmp_path / "out").read_bytes() == source.read_bytes()
    data = (tmp_path / "a.bin.enc").read_bytes()
    (tmp_path / "cut.enc").write_bytes(data[: 17 + 2 * (SEGMENT + 16)])  # drop the last segment
    for path, plain in ((tmp_path / "cut.enc", "a.bin"), (tmp_path / "a.bin.enc", "b.bin")):
        with pytest.raises(BadInput, match="does not decrypt"):
            decrypt_file(path, tmp_path / "never", key, plain_name=plain)
    assert not (tmp_path / "never").exists()
