"""The spec's test vectors (docs/spec/vectors/), built with the bus's own code from fixed inputs.

Why here: the files under docs/spec/vectors/ are what an outsider implements against;
`test_vectors.py` rebuilds them with this module and compares byte for byte, so a change
to any signed encoding breaks a test instead of silently diverging from the spec.
Regenerate after a deliberate change with `.venv/bin/python -m tests.spec.vectors`.
Every input is fixed (Ed25519 signatures are deterministic), so the output is stable.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from unittest import mock

import pyarrow as pa
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from audit import SigningKey, key_id_of, public_key_pem, sign_document
from audit.ledger.chain import GENESIS_HASH, compute_entry_hash
from audit.ledger.checkpoints import build_note, checkpoint_message, note_extensions
from audit.ledger.tree import LedgerTree, entry_leaf_hash
from audit.merkle import record_leaf_hashes, record_merkle_root
from audit.notes import (
    COSIGNATURE_TYPE,
    ED25519_TYPE,
    NoteKey,
    checkpoint_body,
    cosign,
    cosignature_message,
    sign_note,
)
from audit.signatures import canonical_json
from consent.erasure.confirmations import confirmation_document
from consent.erasure.instructions import purge_instruction
from consent.erasure.register import ERASURE_ORDER, Purge
from consent.protect import manifests
from consent.protect.keys import _HKDF_SALT, KeyStore, length_prefixed
from consent.protect.pseudonyms import pseudonymize
from consent.register import jws
from consent.register.receipts import ReceiptTerms, build_receipt
from consent.register.terms import ConsentEvent, ConsentRecord
from govbus.instants import iso_utc

VECTORS_DIR = Path(__file__).resolve().parents[2] / "docs" / "spec" / "vectors"
SIGNING_SEED = bytes(range(32))  # Ed25519 private key seed 00 01 .. 1f (test only)
MASTER_KEY = bytes(range(0x40, 0x60))  # 32-byte master key 40 .. 5f (test only)
START = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
PAYLOADS = [
    ("catalog", {"dataset": "registry.residents", "version": 3}),
    ("delivery", {"batch_id": "b-0001", "rows": 2, "subscription": "statistics"}),
    ("delivery", {"batch_id": "b-0002", "note": "Ünïcödé ✓", "rows": 0}),
    ("quarantine", {"batch_id": "b-0003", "reason": "schema drift"}),
    ("delivery", {"batch_id": "b-0004", "rows": 7}),
]
CHECKPOINT_SIZES = (3, 5)  # checkpoint 1 covers 3 entries, checkpoint 2 all 5
ORIGIN = "tax.gov.example/govbus-ledger"  # the signed notes' origin (and the bus's key name)
WITNESS_SEED = bytes(range(0x20, 0x40))  # Ed25519 seed of the test witness (test only)
WITNESS_NAME = "audit-office.example/witness"
COSIGNED_AT = 1_767_323_400  # 2026-01-02T03:10:00Z, the witness's cosignature time
RECIPIENT_SEED = bytes(range(0x60, 0x80))  # Ed25519 seed of the test recipient agency (test only)


def _dump(document: Any) -> bytes:
    return (json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")


def ledger_vectors() -> dict[str, Any]:
    """Key, entries (hash input, hash, signature), tree, checkpoints and both kinds of proof."""
    key = Ed25519PrivateKey.from_private_bytes(SIGNING_SEED)
    public = key.public_key()
    key_id = key_id_of(public)
    raw_public = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    entries: list[dict[str, Any]] = []
    prev = GENESIS_HASH
    for seq, (kind, payload) in enumerate(PAYLOADS, start=1):
        at = START + timedelta(seconds=seq)
        text = canonical_json(payload)
        fields = (str(seq), iso_utc(at), kind, text, prev)
        hash_input = b"govbus-ledger-v1" + b"".join(
            len(f.encode()).to_bytes(8, "big") + f.encode() for f in fields
        )
        entry_hash = compute_entry_hash(seq, at, kind, text, prev)
        entries.append(
            {
                "seq": seq,
                "at": iso_utc(at),
                "kind": kind,
                "payload": text,
                "prev_hash": prev,
                "hash_input_hex": hash_input.hex(),
                "entry_hash": entry_hash,
                "key_id": key_id,
                "signature": key.sign(bytes.fromhex(entry_hash)).hex(),
                "leaf_hash": entry_leaf_hash(entry_hash).hex(),
            }
        )
        prev = entry_hash
    tree = LedgerTree([entry_leaf_hash(e["entry_hash"]) for e in entries])
    checkpoints = []
    for number, size in enumerate(CHECKPOINT_SIZES, start=1):
        at = START + timedelta(minutes=number)
        message = checkpoint_message(size, tree.root(size), at, number)
        checkpoints.append(
            {
                "number": number,
                "tree_size": size,
                "root": tree.root(size),
                "at": iso_utc(at),
                "key_id": key_id,
                "message": message.decode(),
                "signature": key.sign(message).hex(),
            }
        )
    inclusion = [
        {
            "seq": index + 1,
            "leaf_index": index,
            "tree_size": size,
            "checkpoint": number,
            "audit_path": [node.hex() for node in tree.inclusion_proof(index, size)],
        }
        for number, size in enumerate(CHECKPOINT_SIZES, start=1)
        for index in range(size)
    ]
    old, new = CHECKPOINT_SIZES
    consistency = [
        {
            "from_checkpoint": 1,
            "to_checkpoint": 2,
            "old_size": old,
            "new_size": new,
            "proof": [node.hex() for node in tree.consistency_proof(old, new)],
        }
    ]
    return {
        "spec": "docs/spec/README.md §2-§4",
        "signing_key": {
            "ed25519_seed_hex": SIGNING_SEED.hex(),
            "public_raw_hex": raw_public.hex(),
            "public_pem": public_key_pem(public),
            "key_id": key_id,
        },
        "genesis_prev_hash": GENESIS_HASH,
        "entries": entries,
        "tree_root": tree.root(),
        "checkpoints": checkpoints,
        "inclusion_proofs": inclusion,
        "consistency_proofs": consistency,
    }


def note_vectors() -> dict[str, Any]:
    """The two checkpoints of `ledger_vectors` as C2SP signed notes, and a witness's cosignature."""
    ledger = ledger_vectors()
    key = Ed25519PrivateKey.from_private_bytes(SIGNING_SEED)
    witness = Ed25519PrivateKey.from_private_bytes(WITNESS_SEED)
    bus_key = NoteKey(ORIGIN, ED25519_TYPE, key.public_key())
    witness_key = NoteKey(WITNESS_NAME, COSIGNATURE_TYPE, witness.public_key())
    notes = []
    for checkpoint in ledger["checkpoints"]:
        at = datetime.fromisoformat(checkpoint["at"])
        number, size, root = checkpoint["number"], checkpoint["tree_size"], checkpoint["root"]
        body = checkpoint_body(ORIGIN, size, root, note_extensions(number, at))
        line = sign_note(body, ORIGIN, key)
        note = build_note(ORIGIN, number, size, root, at, line)
        cosignature = cosign(body, WITNESS_NAME, witness, COSIGNED_AT)
        notes.append(
            {
                "checkpoint": number,
                "body": body,
                "signature_line": line.line,
                "note": note,
                "cosignature_message": cosignature_message(body, COSIGNED_AT).decode(),
                "cosignature_line": cosignature.line,
                "cosigned_note": note + cosignature.line,
            }
        )
    return {
        "spec": "docs/spec/README.md §9-§10",
        "origin": ORIGIN,
        "bus_key": {
            "name": ORIGIN,
            "public_raw_hex": ledger["signing_key"]["public_raw_hex"],
            "key_hash_input_hex": (ORIGIN.encode() + b"\n\x01").hex()
            + ledger["signing_key"]["public_raw_hex"],
            "key_hash_hex": bus_key.hash.hex(),
            "vkey": bus_key.vkey(),
        },
        "witness_key": {
            "ed25519_seed_hex": WITNESS_SEED.hex(),
            "name": WITNESS_NAME,
            "public_raw_hex": witness.public_key().public_bytes_raw().hex(),
            "key_hash_hex": witness_key.hash.hex(),
            "vkey": witness_key.vkey(),
        },
        "cosigned_at": COSIGNED_AT,
        "notes": notes,
    }


def purge_vectors() -> dict[str, Any]:
    """A purge instruction (detached bus signature) and the recipient's signed confirmation."""
    bus = Ed25519PrivateKey.from_private_bytes(SIGNING_SEED)
    bus_signing = SigningKey(bus, key_id_of(bus.public_key()))
    recipient = Ed25519PrivateKey.from_private_bytes(RECIPIENT_SEED)
    recipient_signing = SigningKey(recipient, key_id_of(recipient.public_key()))
    purge = Purge(
        purge_id="p-0001",
        request_id="r-0001",
        reason=ERASURE_ORDER,
        recipient="statistics",
        dataset="tax.income",
        subscription="statistics.regional",
        channel="files",
        batches=((2, "b-0001"), (5, "b-0004")),
        issued_at=START,
        match_field="subject_pseudonym",
        pseudonym_key_ids=("k1",),
    )
    instruction = purge_instruction(
        purge, ["4f1c…not-a-real-pseudonym"], key_id=bus_signing.key_id, nonce="00" * 16
    )
    confirmation = confirmation_document(
        instruction, recipient_signing, confirmed_at=START + timedelta(days=1), rows_deleted=3
    )
    return {
        "spec": "docs/spec/README.md §11",
        "instruction_json": instruction.decode(),
        "instruction_signature_hex": bus.sign(instruction).hex(),
        "recipient_key": {
            "ed25519_seed_hex": RECIPIENT_SEED.hex(),
            "public_pem": public_key_pem(recipient.public_key()),
            "key_id": recipient_signing.key_id,
        },
        "confirmation": confirmation,
        "confirmation_signed_bytes": canonical_json(
            {k: v for k, v in confirmation.items() if k != "signature"}
        ),
    }


def pseudonym_vectors() -> dict[str, Any]:
    """HKDF salt/info of a pseudonym key, the key, and pseudonyms made with it."""
    variable = "GOVBUS_SPEC_VECTOR_MASTER_KEY"
    os.environ[variable] = MASTER_KEY.hex()
    try:
        store = KeyStore(Path("/nonexistent/govbus-spec"), master_key_env=variable)
        recipient, purpose, key_id = "statistics-office", "statistics", "k1"
        key = store.derive("pseudonym", recipient, purpose, key_id)
    finally:
        del os.environ[variable]
    values = ["123456789", "010203-1234", "Ünïcödé"]
    return {
        "spec": "docs/spec/README.md §6",
        "master_key_hex": MASTER_KEY.hex(),
        "hkdf": {
            "hash": "SHA-256",
            "salt_utf8": _HKDF_SALT.decode(),
            "info_parts": ["pseudonym", recipient, purpose, key_id],
            "info_hex": length_prefixed(("pseudonym", recipient, purpose, key_id)).hex(),
            "length": 32,
        },
        "pseudonym_key_hex": key.hex(),
        "pseudonyms": [
            {"value": v, "pseudonym": p}
            for v, p in zip(values, pseudonymize(pa.array(values), key).to_pylist(), strict=True)
        ],
    }


def record_vectors() -> dict[str, Any]:
    """Leaf encoding of delivered records (`audit.merkle`) and the batch root."""
    table = pa.table(
        {
            "id": pa.array(["a1", "b2", None]),
            "amount": pa.array([10, None, -3], pa.int64()),
            "note": pa.array(["", "x:y", "Ünï"]),
        }
    )
    leaves = record_leaf_hashes(table)
    return {
        "spec": "docs/spec/README.md §5",
        "columns": table.column_names,
        "rows": table.to_pylist(),
        "leaf_inputs_hex": [
            (b"\x00" + b"".join(_field(v) for v in row.values())).hex() for row in table.to_pylist()
        ],
        "leaf_hashes": [leaf.hex() for leaf in leaves],
        "merkle_root": record_merkle_root(table),
    }


def signed_document_vectors() -> dict[str, Any]:
    """A subscription decision (embedded signature) and a delivery manifest (detached signature)."""
    key = Ed25519PrivateKey.from_private_bytes(SIGNING_SEED)
    signing = SigningKey(key, key_id_of(key.public_key()))
    request = {
        "format": "govbus.subscription-request/1",
        "id": "statistics.regional",
        "agency": "statistics",
        "dataset": "tax.income",
        "purpose": "statistics",
        "basis": "statute:STAT-7",
        "fields": ["municipality", "income"],
        "pseudonymize_subject": True,
        "sink": {"kind": "files", "path": "/srv/outbox/statistics"},
        "schedule": "@daily",
        "ends_on": None,
        "note": "",
        "requested_by": "analyst",
        "requested_at": "2026-12-07T09:00:00+00:00",
    }
    decision = sign_document(
        {
            "format": "govbus.subscription-decision/1",
            "agency": "tax",
            "at": "2026-12-07T09:14:03+00:00",
            "by": "head.of.data",
            "decision": "approve",
            "reason": "STAT-7 covers it",
            "request": "statistics.regional",
            "request_sha256": hashlib.sha256(canonical_json(request).encode()).hexdigest(),
            "role": "owner",
        },
        signing,
    )
    data = b"municipality,income\nNorth,41000\nSouth,38000\n"
    with tempfile.TemporaryDirectory() as folder, mock.patch.object(manifests, "utc_now", return_value=START):
        (Path(folder) / "b-0001.csv").write_bytes(data)
        path = manifests.write_manifest(
            Path(folder),
            "b-0001",
            signing_key=signing,
            contract_id="tax.income",
            contract_version="3",
            schema_sha256="ab" * 32,
            rows_delivered=2,
            rows_denied=0,
            files=["b-0001.csv"],
            policy_version="2026.12",
            details={"subscription": "statistics.regional", "recipient": "statistics"},
        )
        manifest = path.read_bytes()
        signature = path.with_name("b-0001.manifest.sig").read_bytes()
    return {
        "spec": "docs/spec/README.md §5 and §8",
        "decision": {"request": request, "document": decision},
        "delivery_manifest": {
            "files": {"b-0001.csv": data.decode()},
            "manifest_json": manifest.decode(),
            "signature_hex": signature.hex(),
        },
    }


def receipt_vectors() -> dict[str, Any]:
    """A consent receipt (spec §12): its RFC 8785 form without `signature` and its compact JWS."""
    key = Ed25519PrivateKey.from_private_bytes(SIGNING_SEED)
    signing = SigningKey(key, key_id_of(key.public_key()))
    given = START - timedelta(days=30)
    record = ConsentRecord(
        consent_id="7d1c0e4a-0000-4000-8000-000000000001",
        subject_ref="9" * 64,  # an audit pseudonym: the vector holds no subject id
        recipient="housing",
        dataset="tax.income",
        purpose="HOUSING_ALLOWANCE",
        fields=("gross_income", "tax_year"),
        valid_from=given,
        valid_until=given + timedelta(days=365),
        status="active",
        revoked_at=None,
        evidence="portal session 4711",
        version=1,
        created_at=given + timedelta(seconds=2),
        data_life="P1Y",
        frequency="P1M",
        collection_method="web-form",
    )
    history = [ConsentEvent("given", given, given + timedelta(seconds=2), 1, "subject")]
    terms = ReceiptTerms(
        controller_name="Tax Administration",
        controller={
            "identifier": "0245437-2",
            "email": "dpo@tax.gov.example",
            "jurisdiction": "Ünïted Example (EX)",
            "policy_url": "https://tax.gov.example/privacy",
            "withdrawal": "https://tax.gov.example/consents",
        },
        recipient_name="Housing Agency",
        purpose_description="Deciding housing allowance ✓",
        notice_url="https://tax.gov.example/notice/housing",
    )
    receipt = build_receipt(record, history, signing_key=signing, terms=terms)
    return {
        "spec": "docs/spec/README.md §12",
        "receipt": receipt,
        "canonical_json": jws.canonical_bytes(receipt).decode("utf-8"),
        "compact_jws": jws.compact_jws(receipt),
    }


def _field(value: Any) -> bytes:
    if value is None:
        return b"~"
    data = str(value).encode("utf-8")
    return f"{len(data)}:".encode() + data


def build() -> dict[str, bytes]:
    """File name -> exact bytes of every vector file."""
    return {
        "ledger.json": _dump(ledger_vectors()),
        "notes.json": _dump(note_vectors()),
        "purges.json": _dump(purge_vectors()),
        "receipts.json": _dump(receipt_vectors()),
        "pseudonyms.json": _dump(pseudonym_vectors()),
        "records.json": _dump(record_vectors()),
        "signed_documents.json": _dump(signed_document_vectors()),
    }


if __name__ == "__main__":
    VECTORS_DIR.mkdir(parents=True, exist_ok=True)
    for name, data in build().items():
        (VECTORS_DIR / name).write_bytes(data)
        print(f"wrote {VECTORS_DIR / name}")
