"""`govbus consent purge-sign` (the recipient) and `purge-confirm --confirmation` (the bus) on a real
bus whose catalog declares the recipient's signing key; a typed or tampered confirmation is refused."""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from typer.testing import CliRunner

import consent
from audit import ledger_table, public_key_pem
from exchange import Bus
from exchange.catalog.loader import load_catalog
from exchange.cli.main import app
from exchange.erasure.delivery import purge_register
from govbus.errors import BadConfiguration, BadInput
from tests.conftest import CATALOG

PURGE_ID = "5d0c1f3e-8a4b-4c2d-9e6f-0a1b2c3d4e5f"


def cli(*args: str) -> object:
    return CliRunner().invoke(app, list(args))


@pytest.fixture
def recipient_key(govbus_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A catalog copy where Statistics declares an Ed25519 signing key; the private half's file."""
    folder = tmp_path / "catalog"
    shutil.copytree(CATALOG, folder)
    private = Ed25519PrivateKey.generate()
    (folder / "keys" / "statistics.ed25519.pub.pem").write_text(public_key_pem(private.public_key()))
    agencies = folder / "agencies.yaml"
    agencies.write_text(
        agencies.read_text().replace(
            "  - id: statistics\n",
            "  - id: statistics\n    signing_public_key: keys/statistics.ed25519.pub.pem\n",
        )
    )
    monkeypatch.setenv("GOVBUS_CATALOG", str(folder))
    key_file = tmp_path / "statistics-signing.pem"
    key_file.write_bytes(
        private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return key_file


def _issue(inbox: Path) -> Path:
    """Issue a purge to Statistics and put its signed instruction in `inbox`; the instruction's path."""
    bus = Bus.open()
    try:
        purge = consent.Purge(
            purge_id=PURGE_ID,
            request_id="r-7",
            reason=consent.ERASURE_ORDER,
            recipient="statistics",
            dataset="tax.income",
            subscription="statistics.regional",
            channel="manual",
            batches=((1, "b-1"),),
            issued_at=datetime(2026, 12, 7, tzinfo=UTC),
        )
        data = consent.purge_instruction(purge, [], key_id=bus.keys.signing_key().key_id)
        purge = replace(purge, instruction_sha256=hashlib.sha256(data).hexdigest())
        with bus.engine.begin() as conn:
            bus.ledger.append(conn, "catalog", {"seed": 1})
            purge_register(bus).issue(conn, purge)
        return consent.write_purge_instruction(inbox, data, bus.keys.signing_key())
    finally:
        bus.close()


def test_the_recipient_signs_and_the_bus_checks_against_the_catalog_key(
    recipient_key: Path, tmp_path: Path
) -> None:
    instruction = _issue(tmp_path / "inbox")
    typed = cli("consent", "purge-confirm", PURGE_ID, "--evidence", "ticket 9")
    assert isinstance(typed.exception, BadInput) and "must be signed" in typed.exception.message

    out = tmp_path / "confirmation.json"
    signed = cli("consent", "purge-sign", str(instruction), "--key-file", str(recipient_key),
                 "--out", str(out), "--rows-deleted", "4")  # fmt: skip
    assert signed.exit_code == 0, signed.output
    tampered = tmp_path / "tampered.json"
    document = json.loads(out.read_text())
    tampered.write_text(json.dumps({**document, "rows_deleted": 0}))
    refused = cli("consent", "purge-confirm", PURGE_ID, "--confirmation", str(tampered))
    assert isinstance(refused.exception, BadInput)
    assert "signature does not verify" in refused.exception.message

    confirmed = cli("consent", "purge-confirm", PURGE_ID, "--confirmation", str(out))
    assert confirmed.exit_code == 0 and "signature verified" in confirmed.output
    bus = Bus.open()
    try:
        with bus.engine.connect() as conn:
            row = conn.execute(sa.select(ledger_table).order_by(ledger_table.c.seq.desc()).limit(1)).one()
            purge = purge_register(bus).get(conn, PURGE_ID)
    finally:
        bus.close()
    payload = json.loads(row.payload)
    assert row.kind == "purge.confirmed" and payload["confirmation"] == document
    assert payload["confirmation"]["signature"]["keyId"] == document["signature"]["keyId"]
    assert purge is not None and purge.rows_deleted == 4 and not purge.pending


def test_a_missing_signing_key_file_is_named_with_file_line_and_field(recipient_key: Path) -> None:
    catalog = recipient_key.parent / "catalog"
    (catalog / "keys" / "statistics.ed25519.pub.pem").unlink()
    with pytest.raises(BadConfiguration) as caught:
        load_catalog(catalog)
    assert "agencies.yaml" in str(caught.value) and "signing_public_key" in str(caught.value)
