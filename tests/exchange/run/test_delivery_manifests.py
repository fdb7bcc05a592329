"""Every recipient can verify what it got: SQL, SFTP, REST and file deliveries (issue 15).

Each test runs the bus on the sample catalog (or a copy with one sink swapped), then
checks what landed from the recipient's side only — the rows its table holds, the files
in its folder on the SFTP server, the bodies and manifest its API received — with the
bus's public keys, and shows that one altered row or file is caught.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa

import audit
import connectors
import consent
from exchange import Bus
from exchange.demo import deployment as demo
from tests.conftest import CATALOG
from tests.e2e.catalog_variants import without_disclosure

TAX = "tax.income"
VERIFIER = Path(__file__).resolve().parents[3] / "tools" / "govbus_verify.py"


def _published(trusted: dict, folder: Path) -> Path:
    """The bus's public keys as the recipient got them out of band: PEM files in a folder."""
    folder.mkdir(exist_ok=True)
    for key_id, key in trusted.items():
        (folder / f"{key_id}.pem").write_text(audit.public_key_pem(key))
    return folder


def _standalone(*args: str) -> subprocess.CompletedProcess[str]:
    """The single-file verifier, run as an auditor would (stdlib + cryptography only)."""
    return subprocess.run(
        [sys.executable, str(VERIFIER), *args], capture_output=True, text=True, timeout=120, check=False
    )


def _cli(*args: str) -> tuple[int, str]:
    from typer.testing import CliRunner

    from exchange.cli import main as cli

    result = CliRunner().invoke(cli.app, list(args))
    return result.exit_code, result.output


def _run(datasets: list[str], rows: int = 300, *, seed: bool = True) -> tuple[list[audit.LedgerEntry], dict]:
    """Run `datasets` on the bus of the environment: (delivery entries with rows, trusted keys)."""
    bus = Bus.open()
    try:
        if seed:
            demo.seed(bus, rows=rows)
        with demo.agency_systems(bus):
            results = bus.run(datasets)
        assert all(result.ok for result in results), [result.failures for result in results]
        with bus.engine.connect() as conn:
            entries = [e for e in bus.ledger.entries(conn, kind="delivery") if e.payload["rows_delivered"]]
            assert bus.ledger.verify(conn).ok
        return entries, bus.keys.public_keys()
    finally:
        bus.close()


def _change(rows: float = 0.1) -> None:
    bus = Bus.open()
    try:
        demo.change_some(bus, share=rows, new=20)
    finally:
        bus.close()


def _table_report(url: str, table: str, trusted: dict) -> consent.TableReport:
    location, stored = connectors.read_manifests(url, table)
    return consent.verify_table_rows(
        location, stored, trusted, lambda schema: connectors.read_rows(url, table, schema)
    )


@pytest.fixture
def catalog(govbus_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the sample catalog the bus reads (edit it freely)."""
    copy = tmp_path / "catalog"
    shutil.copytree(CATALOG, copy)
    without_disclosure(copy)
    monkeypatch.setenv("GOVBUS_CATALOG", str(copy))
    return copy


def test_sql_recipient_verifies_the_rows_its_table_holds_and_a_changed_row_is_caught(
    catalog: Path, govbus_home: Path, tmp_path: Path
) -> None:
    entries, trusted = _run([TAX])
    benefits = [e.payload for e in entries if e.payload["subscription"] == "benefits.tax-income"]
    assert benefits and all(p["manifest_sha256"] for p in benefits)  # no longer null for SQL sinks
    url = f"sqlite:///{govbus_home}/agencies/benefits/benefits.db"
    report = _table_report(url, "tax_income", trusted)
    assert report.ok, (report.problems, [(b.batch_id, b.problems) for b in report.batches])
    assert report.rows_held == sum(p["rows_delivered"] for p in benefits) and not report.rows_unmatched
    # The ledger pins the exact manifest the recipient holds.
    _, stored = connectors.read_manifests(url, "tax_income")
    assert {hashlib.sha256(s.data).hexdigest() for s in stored} == {p["manifest_sha256"] for p in benefits}
    signed = json.loads(stored[0].data)
    assert signed["delivery"]["records_sorted_root"] == stored[0].sorted_root
    keys = _published(trusted, tmp_path / "published")
    code, output = _cli("verify-delivery", "--sql", url, "--table", "tax_income", "--trusted-keys", str(keys))
    assert code == 0 and "belong to signed batches" in output, output
    db = str(govbus_home / "agencies" / "benefits" / "benefits.db")
    standalone = _standalone("sql-manifests", db, "tax_income", "--trusted-keys", str(keys))
    assert standalone.returncode == 0, standalone.stdout + standalone.stderr

    # A later run upserts corrected returns over rows of the first batches: still verified.
    _change(0.1)
    entries, trusted = _run([TAX], seed=False)
    report = _table_report(url, "tax_income", trusted)
    assert report.ok and len(report.batches) > len(benefits)
    assert sum(b.held for b in report.batches) >= report.rows_held  # replaced rows are no longer held
    assert any(b.held < b.rows for b in report.batches)

    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE tax_income SET tax_due = tax_due + 1 WHERE rowid = 7"))
    engine.dispose()
    tampered = _table_report(url, "tax_income", trusted)
    assert not tampered.ok and tampered.rows_unmatched == 1
    code, output = _cli("verify-delivery", "--sql", url, "--table", "tax_income", "--trusted-keys", str(keys))
    assert code == 1 and "1 of" in output and "match no signed batch" in output


def _sink_of_statistics(catalog: Path, sink_yaml: str) -> None:
    """Swap the Statistics Office's sink (a local Parquet folder in the sample) for another."""
    path = catalog / "subscriptions" / "statistics.yaml"
    text = path.read_text()
    old = (
        "    sink:\n      connector: parquet\n"
        "      directory: ${GOVBUS_HOME}/agencies/statistics/inbox/tax.income\n"
    )
    assert old in text
    path.write_text(text.replace(old, sink_yaml))


def _statistics(entries: list[audit.LedgerEntry]) -> list[dict]:
    return [e.payload for e in entries if e.payload["subscription"] == "statistics.tax-income"]


def test_sftp_subscription_delivers_through_the_exchange_with_manifests_beside_its_files(
    catalog: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.connectors.sftp.sftp_server import PASSWORD_ENV, SftpTestServer

    root = tmp_path / "sftp-root"
    root.mkdir()
    with SftpTestServer(root) as server:
        monkeypatch.setenv(PASSWORD_ENV, server.password)
        _sink_of_statistics(
            catalog,
            "    sink:\n"
            "      connector: sftp_parquet\n"
            f"      host: {server.host}\n"
            f"      port: {server.port}\n"
            f"      username: {server.username}\n"
            f"      password_env: {PASSWORD_ENV}\n"
            f'      host_key_fingerprint: "{server.host_key_fingerprint}"\n'
            "      directory: /inbox/tax.income\n",
        )
        entries, trusted = _run([TAX])
    stats = _statistics(entries)
    assert stats and all(p["manifest_sha256"] for p in stats)
    folder = root / "inbox" / "tax.income"
    report = consent.verify_delivery(folder, trusted)
    assert report.ok and len(report.checks) == len(stats)
    # Every file on the server is a listed batch file, a manifest, its signature or the key.
    listed = {name for p in stats for name, _ in p["files"]}
    for path in folder.iterdir():
        assert path.name in listed or path.name.endswith((".manifest.json", ".manifest.sig", ".pub.pem"))
    assert {hashlib.sha256(m.read_bytes()).hexdigest() for m in folder.glob("*.manifest.json")} == {
        p["manifest_sha256"] for p in stats
    }
    keys = _published(trusted, tmp_path / "published")
    assert _standalone("delivery", str(folder), "--trusted-keys", str(keys)).returncode == 0
    batch = folder / sorted(listed)[0]
    table = pq.read_table(batch)
    pq.write_table(table.slice(0, table.num_rows - 1), batch)  # the recipient's copy lost a row
    tampered = consent.verify_delivery(folder, trusted)
    assert not tampered.ok
    assert [c.problems for c in tampered.checks if not c.ok] == [
        [f"file {batch.name}: SHA-256 does not match the manifest (altered)"]
    ]
    caught = _standalone("delivery", str(folder), "--trusted-keys", str(keys))
    assert caught.returncode == 1 and f"file {batch.name} differs" in caught.stdout


class _Recipient:
    """The receiving API: keeps each body under its idempotency key, and the manifest beside them."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.lock = threading.Lock()

    def __call__(self, request: object) -> tuple[int, dict[str, str], bytes]:
        import base64

        key = request.headers["idempotency-key"]  # type: ignore[attr-defined]
        body = request.body  # type: ignore[attr-defined]
        with self.lock:
            if request.path == "/manifests":  # type: ignore[attr-defined]
                batch = key.removesuffix(".manifest")
                (self.folder / f"{batch}.manifest.json").write_bytes(body)
                signature = base64.b64decode(request.headers["x-govbus-signature"])  # type: ignore[attr-defined]
                (self.folder / f"{batch}.manifest.sig").write_bytes(signature)
            else:
                (self.folder / f"{key}.json").write_bytes(body)
        return 201, {"Content-Type": "application/json"}, b'{"status":"applied"}'


def test_rest_recipient_verifies_the_bodies_it_received_against_the_signed_manifest(
    catalog: Path, tmp_path: Path
) -> None:
    from tests.connectors.rest.test_rest_http import ApiServer

    received = tmp_path / "received"
    received.mkdir()
    with ApiServer(_Recipient(received)) as api:
        _sink_of_statistics(
            catalog,
            "    sink:\n"
            "      connector: rest\n"
            f"      url: {api.url}/ingest\n"
            f"      manifest_url: {api.url}/manifests\n"
            "      max_records: 40\n",
        )
        entries, trusted = _run([TAX])
        manifest_calls = [s for s in api.seen if s.path == "/manifests"]
    stats = _statistics(entries)
    assert stats and all(p["manifest_sha256"] for p in stats)
    assert len(manifest_calls) == len(stats)
    assert any(len(p["files"]) > 1 for p in stats)  # batches sent in parts: every part is listed
    report = consent.verify_delivery(received, trusted)
    assert report.ok and len(report.checks) == len(stats)
    keys = _published(trusted, tmp_path / "published")
    assert _standalone("delivery", str(received), "--trusted-keys", str(keys)).returncode == 0
    body = sorted(received.glob("*.json"))[0]
    if body.name.endswith(".manifest.json"):
        body = next(p for p in sorted(received.glob("*.json")) if not p.name.endswith(".manifest.json"))
    document = json.loads(body.read_bytes())
    document["records"][0]["tax_due"] = "0"
    body.write_text(json.dumps(document, separators=(",", ":")))
    tampered = consent.verify_delivery(received, trusted)
    assert not tampered.ok
    assert sum(not c.ok for c in tampered.checks) == 1
    assert _standalone("delivery", str(received), "--trusted-keys", str(keys)).returncode == 1


def test_file_recipient_verifies_its_folder_and_a_changed_file_is_caught(
    catalog: Path, govbus_home: Path
) -> None:
    entries, trusted = _run([TAX])
    stats = _statistics(entries)
    inbox = govbus_home / "agencies" / "statistics" / "inbox" / TAX
    assert consent.verify_delivery(inbox, trusted).ok
    batch = inbox / stats[0]["files"][0][0]
    table = pq.read_table(batch)
    pq.write_table(table.slice(1), batch)  # a row removed
    assert not consent.verify_delivery(inbox, trusted).ok


def test_verify_delivery_wants_a_path_or_a_table_not_both(govbus_home: Path, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from exchange.cli import main as cli

    for args in ([], [str(tmp_path), "--sql", "sqlite://", "--table", "t"], ["--sql", "sqlite://"]):
        result = CliRunner().invoke(cli.app, ["verify-delivery", *args])
        assert result.exit_code != 0
        assert "give a PATH, or --sql URL with --table T" in str(result.exception)
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.generate().public_key()
    keys = _published({audit.key_id_of(key): key}, tmp_path / "keys")
    database = tmp_path / "recipient.db"
    sa.create_engine(f"sqlite:///{database}").dispose()
    missing = CliRunner().invoke(
        cli.app,
        ["verify-delivery", "--sql", f"sqlite:///{database}", "--table", "t", "--trusted-keys", str(keys)],
    )
    assert missing.exit_code != 0
    assert "holds no govbus_delivery_manifests table" in str(missing.exception)
