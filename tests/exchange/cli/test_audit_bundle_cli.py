"""`govbus audit ...` (the `audit_app` the CLI mounts) on a real bus after a demo run."""

from __future__ import annotations

import json
import re
import subprocess
import sys
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
    refused = CliRunner().invoke(audit_app, ["verify", "--bundle", str(tmp_path / "bundle")])
    assert isinstance(refused.exception, BadInput) and "--trusted-keys" in refused.exception.where
    out = run("verify", "--bundle", str(tmp_path / "bundle"), "--trust-bundled-keys", code=3)
    assert f"✓ bundle intact: {entries} entries" in out and "NOT TRUSTED" in out
    keys_dir = govbus_home / "bundle-keys"
    keys_dir.mkdir()
    for pem in (tmp_path / "bundle" / "keys").glob("*.pem"):
        (keys_dir / pem.name).write_text(pem.read_text())
    out = run("verify", "--bundle", str(tmp_path / "bundle"), "--trusted-keys", str(keys_dir))
    assert "bundle intact" in out and "NOT TRUSTED" not in out
    pin = tmp_path / "pin.json"
    pin.write_text((tmp_path / "bundle" / "checkpoints.jsonl").read_text().splitlines()[-1])
    bundle_args = ("verify", "--bundle", str(tmp_path / "bundle"), "--trusted-keys", str(keys_dir))
    assert "no --pin" not in run(*bundle_args, "--pin", str(pin))
    # The one-file verifier (no GovBus import) agrees on the bundle of a real run.
    verifier = [sys.executable, str(Path(__file__).resolve().parents[3] / "tools" / "govbus_verify.py")]
    checked = subprocess.run(
        [*verifier, "bundle", str(tmp_path / "bundle"), "--trusted-keys", str(keys_dir), "--pin", str(pin)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    older = json.loads(run("proof", "1", "--checkpoint", "1"))
    assert older["checkpoint"]["number"] == 1
    consistency = json.loads(run("consistency", "--from", "1", "--to", "3"))
    assert consistency["old"]["number"] == 1 and consistency["new"]["number"] == 3
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
    assert "but the ledger ends at entry" in out  # the deliveries table remembers the cut
    assert re.search(r"ledger NOT intact.*3 problem\(s\)", out)
    _sql("UPDATE ledger SET payload = '{}' WHERE seq = 1")
    out = run("verify", code=1)
    assert "✗ entry 1: content does not match its hash" in out
    run("export", str(tmp_path / "bundle"))
    out = run("verify", "--bundle", str(tmp_path / "bundle"), "--trust-bundled-keys", code=1)
    assert "✗ entry 1: content does not match its hash" in out
    assert "✗ checkpoint 1: covers" in out and "bundle NOT intact" in out
