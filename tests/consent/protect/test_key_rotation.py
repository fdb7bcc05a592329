"""Key ids and rotation: pseudonyms are stable across runs and signing-key rotations, and
change only when their own key is rotated (an explicit act that breaks linkage)."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from consent import KeyStore, pseudonymize
from govbus.errors import BadConfiguration

ENV = "GOVBUS_TEST_CONSENT_MASTER_KEY"
IDS = pa.array([f"{i:011d}" for i in range(50)])
SCOPE = ("statistics", "OFFICIAL_STATISTICS")


def _pseudonyms(keystore: KeyStore, recipient: str = SCOPE[0], key_id: str | None = None) -> list:
    return pseudonymize(IDS, keystore.pseudonym_key(recipient, SCOPE[1], key_id)).to_pylist()


def test_pseudonyms_stable_across_runs_and_signing_rotation(keystore: KeyStore, tmp_path: Path) -> None:
    first = _pseudonyms(keystore)
    next_run = KeyStore(tmp_path / "keys", master_key_env=ENV)  # a new process, same key dir
    assert _pseudonyms(next_run) == first
    next_run.rotate_signing_key()
    assert _pseudonyms(KeyStore(tmp_path / "keys", master_key_env=ENV)) == first
    assert next_run.pseudonym_key_id(*SCOPE) == "k1"
    assert set(first).isdisjoint(_pseudonyms(keystore, recipient="benefits"))  # per recipient


def test_rotating_pseudonyms_is_explicit_and_scoped(keystore: KeyStore, tmp_path: Path) -> None:
    before = _pseudonyms(keystore)
    other_before = _pseudonyms(keystore, recipient="benefits")
    assert keystore.rotate_pseudonym_key(*SCOPE) == "k2"
    after = _pseudonyms(KeyStore(tmp_path / "keys", master_key_env=ENV))
    assert set(after).isdisjoint(before)  # linkage with earlier deliveries is broken
    assert _pseudonyms(keystore, key_id="k1") == before  # an auditor can still recompute old ones
    assert _pseudonyms(keystore, recipient="benefits") == other_before  # other scopes untouched
    assert keystore.rotate_pseudonym_key(*SCOPE) == "k3"
    assert keystore.key_ids().all() == {"pseudonym/statistics/OFFICIAL_STATISTICS": "k3"}
    assert keystore.field_key("statistics", "postal_code") == keystore.field_key(
        "statistics", "postal_code", "k1"
    )


def test_linkage_domain_key_is_shared_and_rotates_alone(keystore: KeyStore) -> None:
    shared = keystore.linkage_key("social-security")
    assert shared == keystore.linkage_key("social-security", "k1")
    assert shared != keystore.linkage_key("health")
    keystore.key_ids().rotate("linkage/social-security")
    assert keystore.linkage_key("social-security") != shared


def test_malformed_key_ids_file_and_scopes_are_refused(keystore: KeyStore, tmp_path: Path) -> None:
    with pytest.raises(BadConfiguration, match="scope"):
        keystore.pseudonym_key("../evil", "P")
    keystore.rotate_pseudonym_key(*SCOPE)
    (tmp_path / "keys" / "derived-keys.json").write_text('{"pseudonym/a/B": "latest"}')
    with pytest.raises(BadConfiguration, match="malformed"):
        keystore.pseudonym_key(*SCOPE)
