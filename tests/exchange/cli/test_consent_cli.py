"""`govbus consent ...` through the real Typer app (CliRunner), on a fresh GovBus home."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from typer.testing import CliRunner

from audit import public_key_pem
from consent import KeyStore, write_manifest
from exchange.cli import consent as cli_consent
from exchange.cli import main as cli
from govbus.errors import BadInput

ALICE, BOB = "12345678901", "10987654321"
HOUSING = [
    "--recipient",
    "housing",
    "--dataset",
    "tax.income",
    "--purpose",
    "HOUSING_ALLOWANCE",
    "--fields",
    "return_id,national_id,tax_year,gross_income,taxable_income,updated_at",
]
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@pytest.fixture
def govbus(govbus_home: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    """A runner for `exchange.cli.main.app` (the consent and keys commands are mounted there)."""
    monkeypatch.setattr(cli_consent.console, "width", 250)
    return CliRunner()


def run(runner: CliRunner, *args: str, code: int = 0) -> str:
    result = runner.invoke(cli.app, list(args))
    assert result.exit_code == code, (result.output, result.exception)
    return result.output


def test_grant_pause_resume_revoke_and_show(govbus: CliRunner) -> None:
    out = run(
        govbus,
        "consent",
        "grant",
        ALICE,
        *HOUSING,
        "--valid-until",
        "2099-12-31",
        "--data-life",
        "P1Y",
        "--method",
        "web-form",
        "--evidence",
        "portal session 77",
    )
    assert ALICE not in out
    (consent_id,) = UUID.findall(out)
    assert "paused" in run(govbus, "consent", "pause", consent_id)
    assert "already paused" in run(govbus, "consent", "pause", consent_id)
    assert "resumed" in run(govbus, "consent", "resume", consent_id)
    assert "revoked" in run(govbus, "consent", "revoke", consent_id)
    shown = run(govbus, "consent", "show", ALICE, "--history")
    # The citizen's own view, the id masked as the portal masks it (terminals are logged).
    assert f"Consents of subject ******{ALICE[-4:]}" in shown and ALICE not in shown
    assert consent_id in shown and "REVOKED" in shown and "P1Y" in shown
    assert "2100-01-01 00:00:00 UTC" in shown  # a date as valid-until covers that whole day
    assert re.findall(r"^v\d (\w+)", shown, flags=re.MULTILINE) == ["given", "paused", "resumed", "revoked"]
    nothing = run(govbus, "consent", "show", BOB)
    assert "No consent" in nothing and BOB not in nothing


def test_unknown_catalog_names_are_refused(govbus: CliRunner) -> None:
    result = govbus.invoke(cli.app, ["consent", "grant", ALICE, *HOUSING[:-1], "tax_year,salary"])
    assert isinstance(result.exception, BadInput)
    assert "salary" in str(result.exception) and ALICE not in str(result.exception)
    result = govbus.invoke(cli.app, ["consent", "grant", ALICE, *HOUSING[:1], "nobody", *HOUSING[2:]])
    assert isinstance(result.exception, BadInput) and "recipient" in str(result.exception)


def test_import_reports_every_line_and_imports_the_rest(govbus: CliRunner, tmp_path: Path) -> None:
    fields = "return_id;national_id;tax_year;gross_income;taxable_income;updated_at"
    kept = "0b7c3a52-6a4f-4b8e-9d43-2f1f3c1e0a01"
    path = tmp_path / "consents.csv"
    path.write_text(
        "action,subject_id,recipient,dataset,purpose,fields,valid_from,valid_until,consent_id,at\n"
        f"grant,{ALICE},housing,tax.income,HOUSING_ALLOWANCE,{fields},2025-01-01,,{kept},\n"
        f"grant,{BOB},housing,tax.income,HOUSING_ALLOWANCE,{fields},2025-02-01,2025-01-01,,\n"
        f"grant,{BOB},nobody,tax.income,HOUSING_ALLOWANCE,{fields},,,,\n"
        f"pause,,,,,,,,{kept},2025-03-01\n"
        f"revoke,{BOB},,,,,,,{kept},\n"
        "explode,,,,,,,,,\n"
        f"grant,{BOB},housing,tax.income,HOUSING_ALLOWANCE,{fields},yesterday,,,\n"
        f"grant,{BOB},housing,tax.income,HOUSING_ALLOWANCE,{fields},,,,\n"
    )
    out = run(govbus, "consent", "import", str(path), code=BadInput.exit_code)
    assert ALICE not in out and BOB not in out
    rows = {int(m.group(1)): m.group(2) for m in re.finditer(r"│\s+(\d+) │ \S+\s+│ (\w+)", out)}
    assert rows == {
        2: "granted",
        3: "rejected",
        4: "rejected",
        5: "paused",
        6: "rejected",
        7: "rejected",
        8: "rejected",
        9: "granted",
    }
    assert "valid_until" in out and "recipient" in out and "valid_from" in out
    assert "3 granted" not in out and "2 granted" in out and "5 rejected" in out
    again = run(govbus, "consent", "import", str(path), code=BadInput.exit_code)
    assert "unchanged" in again  # re-importing a kept id is a no-op
    shown = run(govbus, "consent", "show", ALICE)
    assert kept in shown and "PAUSED" in shown


def test_explain_statute_consent_pause_and_replay(govbus: CliRunner) -> None:
    statute = run(govbus, "consent", "explain", ALICE, "tax.income", "benefits")
    assert "ALLOWED benefits.tax-income" in statute and "basis statute SBA-12" in statute
    denied = run(govbus, "consent", "explain", ALICE, "tax.income", "housing")
    assert "DENIED housing.tax-income" in denied and "no consent" in denied
    (consent_id,) = UUID.findall(
        run(govbus, "consent", "grant", ALICE, *HOUSING, "--valid-from", "2020-01-01")
    )
    allowed = run(govbus, "consent", "explain", ALICE, "tax.income", "housing")
    assert f"basis consent {consent_id}" in allowed
    run(govbus, "consent", "pause", consent_id)
    paused = run(govbus, "consent", "explain", ALICE, "tax.income", "housing")
    assert "DENIED" in paused and "consent paused" in paused
    # Replaying an instant before the consent was recorded: there was no consent yet.
    replay = run(govbus, "consent", "explain", ALICE, "tax.income", "housing", "--as-of", "2021-06-01")
    assert "DENIED" in replay and "replayed" in replay and consent_id not in replay
    assert "has no subscription" in run(govbus, "consent", "explain", ALICE, "tax.income", "tax")
    for text in (statute, denied, allowed, paused, replay):
        assert ALICE not in text


def test_errors_are_one_line_with_the_branch_exit_code(
    govbus: CliRunner, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "argv", ["govbus", "consent", "revoke", "not-a-uuid"])
    with pytest.raises(SystemExit) as exited:
        cli.main()
    assert exited.value.code == BadInput.exit_code
    err = capsys.readouterr().err
    assert "error:" in err and "consent_id" in err and "not-a-uuid" not in err


def test_receipt_command_and_offline_verification(govbus: CliRunner, tmp_path: Path) -> None:
    (consent_id,) = UUID.findall(run(govbus, "consent", "grant", ALICE, *HOUSING))
    shown = run(govbus, "consent", "receipt", consent_id)
    assert ALICE not in shown and f'"consentReceiptID": "{consent_id}/v1"' in shown
    assert '"piiController": "Tax Authority"' in shown and '"thirdPartyName": "Housing Agency"' in shown
    own = tmp_path / "receipt.json"
    run(govbus, "consent", "receipt", consent_id, "--subject", ALICE, "--out", str(own))
    assert json.loads(own.read_text())["piiPrincipalId"] == ALICE
    assert "is authentic" in run(govbus, "consent", "verify-receipt", str(own))
    result = govbus.invoke(cli.app, ["consent", "receipt", consent_id, "--subject", BOB])
    assert isinstance(result.exception, BadInput) and BOB not in str(result.exception)
    # A citizen's machine trusts only the keys it was given.
    stranger = tmp_path / "stranger.pem"
    stranger.write_text(public_key_pem(Ed25519PrivateKey.generate().public_key()))
    untrusted = govbus.invoke(
        cli.app, ["consent", "verify-receipt", str(own), "--trusted-keys", str(stranger)]
    )
    assert untrusted.exit_code == 1 and "unknown key id" in untrusted.output
    tampered = json.loads(own.read_text())
    tampered["consentRecord"]["fields"].append("tax_due")
    own.write_text(json.dumps(tampered))
    failed = govbus.invoke(cli.app, ["consent", "verify-receipt", str(own)])
    assert failed.exit_code == 1 and "does not verify" in failed.output


def test_keys_rotate_list_and_old_entries_still_verify(govbus: CliRunner, tmp_path: Path) -> None:
    (consent_id,) = UUID.findall(run(govbus, "consent", "grant", ALICE, *HOUSING))  # ledger entry
    listed = run(govbus, "keys", "list")
    (old,) = re.findall(r"([0-9a-f]{16}) .*current", listed)
    rotated = run(govbus, "keys", "rotate")
    (new,) = re.findall(r"signing key ([0-9a-f]{16}) is now current", rotated)
    assert new != old
    listed = run(govbus, "keys", "list", "--export", str(tmp_path / "published"))
    assert re.search(rf"{new} .*current", listed) and re.search(rf"{old} .*verifies old", listed)
    assert sorted(p.name for p in (tmp_path / "published").iterdir()) == sorted(
        f"govbus-signing-{k}.pub.pem" for k in (old, new)
    )
    run(govbus, "consent", "revoke", consent_id)  # signed with the new key
    assert "ledger intact" in run(govbus, "audit", "verify")
    receipt = tmp_path / "r.json"
    run(govbus, "consent", "receipt", consent_id, "--out", str(receipt))
    assert json.loads(receipt.read_text())["signature"]["keyId"] == new


def test_rotate_pseudonyms_needs_confirmation(govbus: CliRunner) -> None:
    refused = govbus.invoke(cli.app, ["keys", "rotate-pseudonyms", "statistics", "OFFICIAL_STATISTICS"])
    assert isinstance(refused.exception, BadInput) and "--yes" in str(refused.exception)
    out = run(govbus, "keys", "rotate-pseudonyms", "statistics", "OFFICIAL_STATISTICS", "--yes")
    assert "now use key k2" in out
    assert "pseudonym/statistics/OFFICIAL_STATISTICS: k2" in run(govbus, "keys", "list")
    unknown = govbus.invoke(
        cli.app, ["keys", "rotate-pseudonyms", "statistics", "HOUSING_ALLOWANCE", "--yes"]
    )
    assert isinstance(unknown.exception, BadInput)


def test_verify_delivery_command(
    govbus: CliRunner, govbus_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run(govbus, "keys", "list", "--export", str(tmp_path / "published"))
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    pq.write_table(pa.table({"x": [1, 2, 3]}), inbox / "b-1.parquet")
    write_manifest(
        inbox,
        "b-1",
        signing_key=KeyStore(govbus_home / "keys").signing_key(),
        contract_id="tax.income",
        contract_version="1.0.0",
        schema_sha256="0" * 64,
        rows_delivered=3,
        rows_denied=0,
        files=["b-1.parquet"],
        policy_version="p",
    )
    assert "b-1: 3 row(s) in 1 file(s)" in run(govbus, "verify-delivery", str(inbox))
    # The recipient's side: another machine, only the published keys.
    monkeypatch.setenv("GOVBUS_HOME", str(tmp_path / "elsewhere"))
    refused = govbus.invoke(cli.app, ["verify-delivery", str(inbox)])
    assert "no trusted public keys" in str(refused.exception)
    assert not (tmp_path / "elsewhere").exists()  # verifying created no key store
    ok = run(
        govbus,
        "verify-delivery",
        str(inbox / "b-1.manifest.json"),
        "--trusted-keys",
        str(tmp_path / "published"),
    )
    assert "signed by key" in ok
    pq.write_table(pa.table({"x": [1, 2, 4]}), inbox / "b-1.parquet")
    failed = govbus.invoke(
        cli.app, ["verify-delivery", str(inbox), "--trusted-keys", str(tmp_path / "published")]
    )
    assert failed.exit_code == 1
    assert "NOT verified" in failed.output and "SHA-256 does not match" in failed.output
