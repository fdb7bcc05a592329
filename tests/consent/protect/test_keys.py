"""KeyStore: file modes, the env master key, derivation and signing keys."""

from __future__ import annotations

import base64
import hashlib
import os
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from audit import key_id_of
from consent import KeyStore
from govbus.errors import BadConfiguration

ENV = "GOVBUS_TEST_CONSENT_MASTER_KEY"


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_master_key_file_is_created_private_and_reused(keystore: KeyStore, tmp_path: Path) -> None:
    first = keystore.audit_key()
    directory = tmp_path / "keys"
    assert _mode(directory) == 0o700
    assert _mode(directory / "master.key") == 0o600
    again = KeyStore(directory, master_key_env=ENV).audit_key()
    assert again == first and len(first) == 32


def test_signing_key_files_and_key_id(keystore: KeyStore, tmp_path: Path) -> None:
    key, key_id = keystore.signing_key()
    assert key_id == keystore.signing_key_id()
    pem = tmp_path / "keys" / f"signing-{key_id}.pem"
    assert _mode(pem) == 0o600
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    assert key_id == hashlib.sha256(raw).hexdigest()[:16]
    public = serialization.load_pem_public_key(keystore.public_key_pem(key_id).encode())
    assert isinstance(public, Ed25519PublicKey)
    assert key_id_of(public) == key_id
    assert set(keystore.public_keys()) == {key_id}


def test_rotation_keeps_old_public_keys(keystore: KeyStore) -> None:
    old = keystore.signing_key_id()
    new = keystore.rotate_signing_key()
    assert new != old
    assert keystore.signing_key_id() == new
    assert set(keystore.public_keys()) == {old, new}


def test_env_master_key_hex_and_base64_agree_and_no_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    master = os.urandom(32)
    monkeypatch.setenv(ENV, master.hex())
    from_hex = KeyStore(tmp_path / "a", master_key_env=ENV).pseudonym_key("benefits", "P")
    monkeypatch.setenv(ENV, base64.b64encode(master).decode())
    from_b64 = KeyStore(tmp_path / "b", master_key_env=ENV).pseudonym_key("benefits", "P")
    assert from_hex == from_b64
    assert not (tmp_path / "a" / "master.key").exists()
    monkeypatch.setenv(ENV, os.urandom(32).hex())
    assert KeyStore(tmp_path / "c", master_key_env=ENV).pseudonym_key("benefits", "P") != from_hex


def test_short_env_master_key_is_refused_without_echo(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "ab" * 16  # 16 bytes: too short
    monkeypatch.setenv(ENV, secret)
    with pytest.raises(BadConfiguration) as caught:
        KeyStore(tmp_path, master_key_env=ENV).audit_key()
    assert ENV in str(caught.value)
    assert secret not in str(caught.value)


def test_group_readable_master_key_is_refused(keystore: KeyStore, tmp_path: Path) -> None:
    keystore.audit_key()
    os.chmod(tmp_path / "keys" / "master.key", 0o644)
    with pytest.raises(BadConfiguration, match="readable by group or others"):
        KeyStore(tmp_path / "keys", master_key_env=ENV).audit_key()


def test_derive_separates_recipients_purposes_and_contexts(keystore: KeyStore) -> None:
    keys = {
        keystore.pseudonym_key("benefits", "BENEFIT_ELIGIBILITY"),
        keystore.pseudonym_key("statistics", "BENEFIT_ELIGIBILITY"),
        keystore.pseudonym_key("benefits", "OFFICIAL_STATISTICS"),
        keystore.pseudonym_key("benefits", "BENEFIT_ELIGIBILITY", key_id="k2"),
        keystore.audit_key(),
        keystore.linkage_key("benefits"),
    }
    assert len(keys) == 6
    assert keystore.derive("x", "ab", "c") != keystore.derive("x", "a", "bc")
    assert keystore.derive("x", "a") == keystore.derive("x", "a")


def test_repr_never_shows_keys(keystore: KeyStore) -> None:
    master = keystore.directory / "master.key"
    keystore.audit_key()
    text = repr(keystore) + str(keystore) + repr(keystore.signing_key())
    assert master.read_text().strip() not in text
    assert keystore.audit_key().hex() not in text


def test_renamed_signing_key_file_is_refused(keystore: KeyStore, tmp_path: Path) -> None:
    key_id = keystore.signing_key_id()
    directory = tmp_path / "keys"
    fake = "0" * 16
    (directory / f"signing-{key_id}.pem").rename(directory / f"signing-{fake}.pem")
    (directory / "signing.current").write_text(fake + "\n")
    with pytest.raises(BadConfiguration, match="does not hold the Ed25519 key"):
        KeyStore(directory, master_key_env=ENV).signing_key()
