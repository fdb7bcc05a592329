"""Encrypted file deliveries and reversible fields, wired from the catalog to the recipient's folder.

Each test runs the bus on a temporary copy of the sample catalog whose Statistics Office
publishes the public half of a key pair the test generates (the sample's own key has no
private half anywhere), then opens what landed in the recipient's folder as it would.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

import audit
import consent
from exchange import Bus, check_catalog
from exchange.demo import deployment as demo
from govbus.errors import BadInput
from tests.conftest import CATALOG, REPO
from tests.e2e.catalog_variants import without_disclosure
from tests.e2e.helpers import source_rows

KEY_FILE = "keys/statistics.x25519.pub.pem"
REVERSIBLE = "municipality_code"
STAT_FIELDS = ("tax_year", "municipality_code", "filing_status", "gross_income", "taxable_income", "tax_due")


@pytest.fixture
def catalog(govbus_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the sample catalog the bus reads (edit it freely)."""
    copy = tmp_path / "catalog"
    shutil.copytree(CATALOG, copy)
    without_disclosure(copy)  # Statistics pseudonymized and receiving every row, as before issue 17
    monkeypatch.setenv("GOVBUS_CATALOG", str(copy))
    return copy


@pytest.fixture
def statistics_key(catalog: Path) -> X25519PrivateKey:
    """A fresh key pair for the Statistics Office; its public half replaces the sample's."""
    private = X25519PrivateKey.generate()
    pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    (catalog / KEY_FILE).write_bytes(pem)
    return private


def _edit(path: Path, old: str, new: str) -> str:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    text = text.replace(old, new, 1)
    path.write_text(text)
    return text


def _line_of(text: str, needle: str) -> int:
    return next(number for number, line in enumerate(text.splitlines(), 1) if needle in line)


def _encrypt_statistics_files(catalog: Path) -> None:
    _edit(
        catalog / "subscriptions" / "statistics.yaml",
        "    pseudonymize_subject: true\n",
        "    pseudonymize_subject: true\n    encrypt_files: true\n",
    )


def _reversible_for_statistics(catalog: Path) -> None:
    _edit(
        catalog / "datasets" / "tax.income" / "contract.yaml",
        "  municipality_code: {classification: internal, tags: [quasi-identifier]}",
        "  municipality_code: {classification: internal, tags: [quasi-identifier],"
        " reversible_by: [statistics]}",
    )


def _run_tax(rows: int = 400) -> tuple[Path, list[audit.LedgerEntry], audit.PublicKeys]:
    """Seed the sample systems, run tax.income; (statistics inbox, its delivery entries, bus keys)."""
    bus = Bus.open()
    try:
        demo.seed(bus, rows=rows)
        with demo.agency_systems(bus):
            (result,) = bus.run(["tax.income"])
        assert result.ok, result.failures
        with bus.engine.connect() as conn:
            entries = [
                e
                for e in bus.ledger.entries(conn, kind="delivery")
                if e.payload["subscription"] == "statistics.tax-income" and e.payload["rows_delivered"]
            ]
        inbox = bus.settings.agencies_dir / "statistics" / "inbox" / "tax.income"
        return inbox, entries, bus.keys.public_keys()
    finally:
        bus.close()


def test_encrypt_files_leaves_only_sealed_files_that_open_to_the_delivered_rows(
    catalog: Path, statistics_key: X25519PrivateKey, tmp_path: Path
) -> None:
    _encrypt_statistics_files(catalog)
    inbox, entries, trusted = _run_tax()
    assert entries, "the statistics subscription received nothing"
    names = sorted(p.name for p in inbox.iterdir())
    assert not [n for n in names if n.endswith(".parquet")], names
    encrypted = [n for n in names if n.endswith(".parquet.enc")]
    manifests = sorted(inbox.glob("*.manifest.json"))
    assert len(encrypted) == len(manifests) == len(entries)
    assert all(
        n.endswith((".enc", ".manifest.json", ".manifest.sig")) or n.startswith("govbus-signing-")
        for n in names
    ), names

    by_batch = {e.payload["batch_id"]: e.payload for e in entries}
    for manifest in manifests:
        batch = json.loads(manifest.read_bytes())["batch_id"]
        payload = by_batch[batch]
        assert payload["encrypted_files"] is True
        assert [f[0] for f in payload["files"]] == [f"{batch}.parquet.enc"]
        opened = consent.open_delivery(
            manifest, recipient="statistics", private_key=statistics_key, trusted_keys=trusted,
            out_dir=tmp_path / "opened" / batch,
        )  # fmt: skip
        table = pa.concat_tables([pq.read_table(p) for p in opened.files])
        # Exactly what was delivered: the ledger's row count and Merkle root over the records.
        assert table.num_rows == payload["rows_delivered"]
        assert table.column_names == payload["fields"]
        assert audit.merkle_root(audit.record_leaf_hashes(table)) == payload["merkle_root"]

        with pytest.raises(BadInput):
            consent.open_delivery(
                manifest, recipient="statistics", private_key=X25519PrivateKey.generate(),
                trusted_keys=trusted, out_dir=tmp_path / "wrong" / batch,
            )  # fmt: skip
        assert not list((tmp_path / "wrong" / batch).glob("*.parquet"))


def test_a_reversible_field_arrives_as_deterministic_ciphertext_the_recipient_can_decrypt(
    catalog: Path, statistics_key: X25519PrivateKey, govbus_home: Path, tmp_path: Path
) -> None:
    _reversible_for_statistics(catalog)
    inbox, entries, trusted = _run_tax()
    assert entries
    for entry in entries:
        assert entry.payload["reversible_fields"] == [REVERSIBLE]
        assert "encrypted_files" not in entry.payload
    table = pa.concat_tables([pq.read_table(p) for p in sorted(inbox.glob("*.parquet"))])
    cipher = table[REVERSIBLE]
    assert pa.types.is_string(cipher.type)
    assert not pc.any(pc.match_substring_regex(cipher, r"^[0-9]{4}$")).as_py()  # no plaintext code

    manifest = sorted(inbox.glob("*.manifest.json"))[0]
    opened = consent.open_delivery(
        manifest, recipient="statistics", private_key=statistics_key, trusted_keys=trusted,
        out_dir=tmp_path / "opened",
    )  # fmt: skip
    assert opened.files == ()  # the files themselves are not sealed here
    key_id, key = opened.field_keys[REVERSIBLE]
    plain = consent.decrypt_column(cipher, key, field=REVERSIBLE)
    assert pc.all(pc.match_substring_regex(plain, r"^[0-9]{4}$")).as_py()

    # Deterministic: one ciphertext per distinct code, and back.
    pairs = set(zip(cipher.to_pylist(), plain.to_pylist(), strict=True))
    assert len(pairs) == len(pc.unique(cipher)) == len(pc.unique(plain)) > 1

    # The decrypted rows are rows of the source (quarantined and denied ones aside).
    delivered = Counter(
        zip(
            *(plain.to_pylist() if n == REVERSIBLE else table[n].to_pylist() for n in STAT_FIELDS[:3]),
            strict=True,
        )
    )
    source = Counter(
        (r["tax_year"], r["municipality_code"], r["filing_status"]) for r in source_rows(govbus_home)
    )
    assert sum(delivered.values()) == sum(e.payload["rows_delivered"] for e in entries)
    assert not delivered - source

    # Bound to the field: the key does not open another column's name.
    with pytest.raises(BadInput):
        consent.decrypt_column(cipher, key, field="filing_status")
    assert key_id == "k1"


def test_check_refuses_encryption_without_a_file_sink_or_a_recipient_key(catalog: Path) -> None:
    benefits = _edit(
        catalog / "subscriptions" / "benefits.yaml",
        "    sink:\n",
        "    encrypt_files: true\n    sink:\n",
    )
    contract = _edit(
        catalog / "datasets" / "tax.income" / "contract.yaml",
        "  filing_status: {classification: personal, tags: [quasi-identifier]}",
        "  filing_status: {classification: personal, tags: [quasi-identifier], reversible_by: [housing]}",
    )
    problems = [str(p) for p in check_catalog(catalog)]
    line = _line_of(benefits, "encrypt_files")
    assert any(
        re.fullmatch(
            rf"catalog/subscriptions/benefits\.yaml:{line}: encrypt_files: only file sinks .* 'sql' sink", p
        )
        for p in problems
    ), problems
    assert any(
        p.startswith(f"catalog/subscriptions/benefits.yaml:{line}: encrypt_files: the recipient publishes no")
        for p in problems
    ), problems
    line = _line_of(contract, "reversible_by: [housing]")
    assert any(
        p.startswith(
            f"catalog/datasets/tax.income/contract.yaml:{line}: fields.filing_status.reversible_by: "
        )
        and "'housing' publishes no delivery_public_key" in p
        for p in problems
    ), problems

    # As a user sees it.
    out = subprocess.run(
        [sys.executable, "-m", "exchange.cli", "check"],
        env={**os.environ, "GOVBUS_CATALOG": str(catalog), "COLUMNS": "300"},
        cwd=REPO, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert out.returncode == 1
    assert (
        f"benefits.yaml:{_line_of(benefits, 'encrypt_files')}: encrypt_files: only file sinks" in out.stderr
    )


def test_check_refuses_a_reversible_field_for_a_sql_sink_and_a_bad_key_file(catalog: Path) -> None:
    _reversible_for_statistics(catalog)
    _edit(
        catalog / "datasets" / "tax.income" / "contract.yaml",
        "  tax_year: {classification: internal, tags: [quasi-identifier]}",
        "  tax_year: {classification: internal, tags: [quasi-identifier], reversible_by: [benefits]}",
    )
    (catalog / "keys" / "benefits.x25519.pub.pem").write_bytes(
        Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    agencies = _edit(
        catalog / "agencies.yaml",
        "    name: Social Benefits Agency\n",
        "    name: Social Benefits Agency\n    delivery_public_key: keys/benefits.x25519.pub.pem\n",
    )
    problems = [str(p) for p in check_catalog(catalog)]
    line = _line_of(agencies, "keys/benefits")
    assert (
        f"catalog/agencies.yaml:{line}: delivery_public_key: keys/benefits.x25519.pub.pem: "
        "is not an X25519 public key (generate one with `openssl genpkey -algorithm X25519`)"
    ) in problems, problems

    # Now a real key, but the benefits subscriptions write to SQL: no manifest to carry the field key.
    (catalog / "keys" / "benefits.x25519.pub.pem").write_bytes(
        X25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    problems = [str(p) for p in check_catalog(catalog)]
    # The line of the sink's value (its first setting), as for every other sink problem.
    sink_line = _line_of((catalog / "subscriptions" / "benefits.yaml").read_text(), "connector: sql")
    assert any(
        p.startswith(
            f"catalog/subscriptions/benefits.yaml:{sink_line}: sink: tax_year: reversible by this recipient"
        )
        for p in problems
    ), problems
    assert not [p for p in problems if "statistics" in p], problems  # its parquet sink qualifies
