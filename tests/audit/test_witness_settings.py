"""catalog/ledger.yaml: the notes' origin, the witnesses and the cosignatures required; every
mistake is named with the file, the line and the field."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from audit import DEFAULT_NOTE_ORIGIN, NoteKey, load_witness_policy
from govbus.errors import BadConfiguration


def _vkey(name: str, key_type: int = 4) -> str:
    return NoteKey(name, key_type, Ed25519PrivateKey.generate().public_key()).vkey()


def test_defaults_without_a_file(tmp_path: Path) -> None:
    policy = load_witness_policy(tmp_path)
    assert (policy.origin, policy.witnesses, policy.required) == (DEFAULT_NOTE_ORIGIN, (), 0)


def test_a_policy_is_read(tmp_path: Path) -> None:
    first, second = _vkey("a.example/w"), _vkey("b.example/w")
    (tmp_path / "ledger.yaml").write_text(
        "origin: tax.gov.example/log\ncosignatures_required: 2\n"
        f"witnesses:\n  - key: {first}\n  - key: {second}\n"
    )
    policy = load_witness_policy(tmp_path)
    assert policy.origin == "tax.gov.example/log" and policy.required == 2
    assert [key.vkey() for key in policy.witnesses] == [first, second]


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("origin: has space\n", "ledger.yaml:1 origin"),
        ("cosignatures_required: 1\n", "ledger.yaml:1 cosignatures_required"),
        ("witnesses:\n  - key: nonsense\n", "ledger.yaml:2 witnesses[0].key"),
        ("witnesses:\n  - key: {bus}\n", "ledger.yaml:2 witnesses[0].key"),
        ("witnesses:\n  - key: {witness}\n  - key: {witness}\n", "ledger.yaml:3 witnesses[1].key"),
        ("witnesess: []\n", "ledger.yaml:1"),
    ],
)
def test_mistakes_name_file_line_and_field(tmp_path: Path, text: str, where: str) -> None:
    witness = _vkey("a.example/w")
    (tmp_path / "ledger.yaml").write_text(text.format(bus=_vkey("bus.example/log", 1), witness=witness))
    with pytest.raises(BadConfiguration) as caught:
        load_witness_policy(tmp_path)
    assert caught.value.where is not None and caught.value.where.endswith(where), caught.value


def test_a_mistyped_verifier_key_hash_is_refused(tmp_path: Path) -> None:
    name, digest, key = _vkey("a.example/w").split("+", 2)
    wrong = f"{name}+{'0' * 8 if digest != '0' * 8 else '1' * 8}+{key}"
    (tmp_path / "ledger.yaml").write_text(f"witnesses:\n  - key: {wrong}\n")
    with pytest.raises(BadConfiguration, match="key hash does not match"):
        load_witness_policy(tmp_path)
