"""`govbus audit ...` (the `audit_app` the CLI mounts) on a real bus after a demo run."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from audit import check_entry_proof
from exchange import Bus
from exchange.cli import audit as cli_audit
from exchange.cli.audit import audit_app
from exchange.demo import deployment as demo
from govbus.errors import BadInput


@pytest.fixture
def entries(govbus_home: Path, monkeypatch: pytest.MonkeyPatch) -> int:
    """Seed the sample deployment, run tax.income (which checkpoints), checkpoint again; the size."""
    for console in (cli_audit.console, cli_audit.err_console):
        monkeypatch.setattr(console, "width", 250)
    bus = Bus.open()
    try:
        demo.seed(bus, rows=300)
        bus.run(["tax.income"])
        with bus.engine.begin() as conn:
            checkpoint = bus.ledger.checkpoint(conn)
    finally:
        bus.close()
    assert checkpoint.number == 2 and checkpoint.tree_size > 0  # the run took checkpoint 1
    return checkpoint.tree_size


def run(*args: str, code: int = 0) -> str:
    result = CliRunner().invoke(audit_app, list(args))
    assert result.exit_code == code, (result.output, result.exception)
    return result.output


def _sql(statement: str) -> None:
    bus = Bus.open()
    try:
        with bus.engine.begin() as conn:
            conn.execute(sa.text(statement))
    finally:
        bus.close()


def test_verify_export_bundle_and_proof(entries: int, govbus_home: Path, tmp_path: Path) -> None:
    out = run("verify")
    assert f"✓ ledger intact: {entries} entries, chain and signatures verified" in out
    assert f"2 checkpoint(s) verified; latest #2: {entries} entries" in out
    assert "checkpoint #3" in run("checkpoint")
    out = run("export", str(tmp_path / "bundle"))
    assert f"exported {entries} entries and 3 checkpoint(s)" in out
    out = run("verify", "--bundle", str(tmp_path / "bundle"))
    assert f"✓ bundle intact: {entries} entries" in out and "trusting the public keys shipped" in out
    keys_dir = govbus_home / "bundle-keys"
    keys_dir.mkdir()
    for pem in (tmp_path / "bundle" / "keys").glob("*.pem"):
        (keys_dir / pem.name).write_text(pem.read_text())
    out = run("verify", "--bundle", str(tmp_path / "bundle"), "--trusted-keys", str(keys_dir))
    assert "bundle intact" in out and "trusting" not in out
    document = json.loads(run("proof", "1"))
    assert document["tree_size"] == entries and document["checkpoint"]["number"] == 3
    bus = Bus.open()
    try:
        assert check_entry_proof(document, bus.keys.public_keys()) == []
    finally:
        bus.close()
    refused = CliRunner().invoke(audit_app, ["export", str(tmp_path / "bundle")])
    assert isinstance(refused.exception, BadInput) and "not empty" in refused.exception.message


def test_tampering_is_named_by_the_cli(entries: int, tmp_path: Path) -> None:
    _sql(f"DELETE FROM ledger WHERE seq = {entries}")
    out = run("verify", code=1)
    assert f"✗ checkpoint 1: covers {entries} entries but the ledger holds only {entries - 1}" in out
    assert f"✗ checkpoint 2: covers {entries} entries" in out  # both checkpoints name it
    assert re.search(r"ledger NOT intact.*2 problem\(s\)", out)
    _sql("UPDATE ledger SET payload = '{}' WHERE seq = 1")
    out = run("verify", code=1)
    assert "✗ entry 1: content does not match its hash" in out
    run("export", str(tmp_path / "bundle"))
    out = run("verify", "--bundle", str(tmp_path / "bundle"), code=1)
    assert "✗ entry 1: content does not match its hash" in out
    assert "✗ checkpoint 1: covers" in out and "bundle NOT intact" in out
