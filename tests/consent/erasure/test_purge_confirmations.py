"""Signed purge confirmations: the recipient signs the instruction it received; a tampered
confirmation, one of another purge or instruction, or one by another key is refused, by the
bus's check and by the standalone verifier alike."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from audit import SigningKey, key_id_of, public_key_pem
from consent import ERASURE_ORDER, Purge, check_confirmation, confirm_instruction, write_purge_instruction
from consent.erasure.instructions import purge_instruction
from govbus.errors import BadInput

VERIFIER = Path(__file__).resolve().parents[3] / "tools" / "govbus_verify.py"
AT = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


def _key() -> SigningKey:
    private = Ed25519PrivateKey.generate()
    return SigningKey(private, key_id_of(private.public_key()))


@pytest.fixture
def issued(tmp_path: Path) -> tuple[Purge, Path, SigningKey, SigningKey]:
    """A purge, its signed instruction in the recipient's folder, the bus's and the recipient's keys."""
    bus, recipient = _key(), _key()
    purge = Purge(
        purge_id="p-42",
        request_id="r-42",
        reason=ERASURE_ORDER,
        recipient="statistics",
        dataset="tax.income",
        subscription="statistics.regional",
        channel="files",
        batches=((3, "b-3"),),
        issued_at=AT,
        match_field="person_id",
    )
    data = purge_instruction(purge, ["010203-1234"], key_id=bus.key_id)
    path = write_purge_instruction(tmp_path / "inbox", data, bus)
    return replace(purge, instruction_sha256=hashlib.sha256(data).hexdigest()), path, bus, recipient


def test_a_signed_confirmation_verifies_and_names_no_subject(issued) -> None:
    purge, path, bus, recipient = issued
    document = confirm_instruction(
        path, {bus.key_id: bus.key.public_key()}, recipient, confirmed_at=AT, rows_deleted=2
    )
    check = check_confirmation(document, purge, recipient.key.public_key())
    assert check.ok and check.key_id == recipient.key_id
    assert "010203-1234" not in json.dumps(document)
    assert document["signature"]["keyId"] == recipient.key_id


@pytest.mark.parametrize(
    ("edit", "problem"),
    [
        (lambda d: d.update(rows_deleted=0), "signature: signature does not verify"),
        (lambda d: d.update(purge_id="p-43"), "confirms another purge"),
        (lambda d: d.update(instruction_sha256="0" * 64), "instruction_sha256 is not the instruction"),
        (lambda d: d.update(recipient="housing"), "names another recipient"),
    ],
)
def test_a_tampered_confirmation_is_refused(issued, edit, problem: str) -> None:
    purge, path, bus, recipient = issued
    document = confirm_instruction(path, {bus.key_id: bus.key.public_key()}, recipient, confirmed_at=AT)
    edit(document)
    check = check_confirmation(document, purge, recipient.key.public_key())
    assert not check.ok and any(text.startswith(problem) for text in check.problems), check.problems


def test_a_confirmation_by_another_key_is_refused(issued) -> None:
    purge, path, bus, recipient = issued
    document = confirm_instruction(path, {bus.key_id: bus.key.public_key()}, _key(), confirmed_at=AT)
    check = check_confirmation(document, purge, recipient.key.public_key())
    assert not check.ok and check.key_id is None
    assert any("unknown key id" in text for text in check.problems)


def test_a_recipient_does_not_confirm_a_forged_instruction(issued) -> None:
    _, path, bus, recipient = issued
    path.write_bytes(path.read_bytes().replace(b"p-42", b"p-99"))
    with pytest.raises(BadInput, match="not authentic"):
        confirm_instruction(path, {bus.key_id: bus.key.public_key()}, recipient, confirmed_at=AT)


def test_the_standalone_verifier_checks_a_confirmation(issued, tmp_path: Path) -> None:
    _, path, bus, recipient = issued
    document = confirm_instruction(path, {bus.key_id: bus.key.public_key()}, recipient, confirmed_at=AT)
    pem = tmp_path / "recipient.pem"
    pem.write_text(public_key_pem(recipient.key.public_key()))
    good = tmp_path / "good.json"
    good.write_text(json.dumps(document))
    args = [sys.executable, str(VERIFIER), "purge-confirmation"]
    ok = subprocess.run(
        [*args, str(good), "--trusted-keys", str(pem), "--instruction", str(path)],
        capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    assert ok.returncode == 0, ok.stdout + ok.stderr
    document["rows_deleted"] = 5
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(document))
    refused = subprocess.run(
        [*args, str(bad), "--trusted-keys", str(pem), "--instruction", str(path)],
        capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    assert refused.returncode == 1 and "signature does not verify" in refused.stdout
