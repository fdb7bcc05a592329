"""`govbus audit witness init | cosign | add`, `audit note`, `audit checkpoint --note` on a real bus."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from exchange import Bus
from exchange.cli import audit as cli_audit
from exchange.cli.main import app
from govbus.errors import BadInput
from tests.conftest import CATALOG

VERIFIER = Path(__file__).resolve().parents[3] / "tools" / "govbus_verify.py"
ORIGIN = "tax.gov.example/govbus-ledger"


def run(*args: str, code: int = 0) -> str:
    result = CliRunner().invoke(app, ["audit", *args])
    assert result.exit_code == code, (result.output, result.exception)
    return result.output


@pytest.fixture
def catalog(govbus_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for console in (cli_audit.console, cli_audit.err_console):
        monkeypatch.setattr(console, "width", 250)
    folder = tmp_path / "catalog"
    shutil.copytree(CATALOG, folder)
    monkeypatch.setenv("GOVBUS_CATALOG", str(folder))
    return folder


def _append_and_checkpoint(count: int) -> None:
    bus = Bus.open()
    try:
        with bus.engine.begin() as conn:
            for number in range(count):
                bus.ledger.append(conn, "catalog", {"n": number})
            bus.ledger.checkpoint(conn)
    finally:
        bus.close()


def test_a_witness_cosigns_and_the_bus_counts_it(catalog: Path, tmp_path: Path, govbus_home: Path) -> None:
    key = tmp_path / "witness" / "w.pem"
    vkey = run("witness", "init", "--key-file", str(key), "--name", "audit-office.example/w1").splitlines()[
        -1
    ]
    assert vkey.startswith("audit-office.example/w1+")
    (catalog / "ledger.yaml").write_text(
        f"origin: {ORIGIN}\ncosignatures_required: 1\nwitnesses:\n  - key: {vkey}\n"
    )
    _append_and_checkpoint(3)
    note = run("note")
    assert note.startswith(f"{ORIGIN}\n3\n") and "\ncheckpoint 1\n" in note and "\n\n— " + ORIGIN in note
    out = run("verify", code=1)
    assert "checkpoint 1: has 0 of the 1 witness cosignature(s) required" in out

    run("export", str(tmp_path / "b1"))
    keys = tmp_path / "bus-keys"
    shutil.copytree(tmp_path / "b1" / "keys", keys)
    cosigned = tmp_path / "c1.jsonl"
    run("witness", "cosign", "--bundle", str(tmp_path / "b1"), "--key-file", str(key),
        "--trusted-keys", str(keys), "--out", str(cosigned))  # fmt: skip
    assert "checkpoint #1: audit-office.example/w1" in run("witness", "add", "--cosignature", str(cosigned))
    assert "already recorded" in run("witness", "add", "--cosignature", str(cosigned))
    assert "✓ ledger intact" in run("verify")
    cosigned_note = run("note")  # the bus's line, then the witness's cosignature line
    assert cosigned_note.startswith(note) and cosigned_note.count("\n— ") == 2
    assert "\n— audit-office.example/w1 " in cosigned_note

    printed = run("checkpoint", "--note")
    assert printed.startswith(f"{ORIGIN}\n3\n") and "\ncheckpoint 2\n" in printed
    run("export", str(tmp_path / "b2"))
    out = run("verify", "--bundle", str(tmp_path / "b2"), "--trusted-keys", str(keys), code=1)
    assert "checkpoint 2: has 0 of the 1 witness cosignature(s) required" in out
    result = subprocess.run(
        [sys.executable, str(VERIFIER), "bundle", str(tmp_path / "b2"), "--trusted-keys", str(keys)],
        capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    assert result.returncode == 1 and "checkpoint 2: has 0 of the 1" in result.stdout
    # The witness moves forward; given the older bundle again, it refuses: rolled back.
    run("witness", "cosign", "--bundle", str(tmp_path / "b2"), "--key-file", str(key),
        "--trusted-keys", str(keys), "--out", str(tmp_path / "c2.jsonl"))  # fmt: skip
    refused = CliRunner().invoke(
        app,
        ["audit", "witness", "cosign", "--bundle", str(tmp_path / "b1"), "--key-file", str(key),
         "--trusted-keys", str(keys), "--out", str(tmp_path / "c3.jsonl")],
    )  # fmt: skip
    assert isinstance(refused.exception, BadInput) and "rolled back" in refused.exception.message
    assert not (tmp_path / "c3.jsonl").exists()
    run("witness", "add", "--cosignature", str(tmp_path / "c2.jsonl"))
    run("export", str(tmp_path / "b3"))
    assert "✓ bundle intact" in run("verify", "--bundle", str(tmp_path / "b3"), "--trusted-keys", str(keys))
