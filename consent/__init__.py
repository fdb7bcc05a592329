"""consent: who may receive what, and the proof of what was sent.

Purposes and statutes (the catalog's legal bases); the consent register (DEPA / ISO/IEC
TS 27560 model: grant, pause, resume, revoke, expire, CSV import) and its timelines that
answer at any instant; the policy decision, its explanation and minimization of a batch;
signed consent receipts; protection: keyed pseudonyms, AES-SIV reversible fields,
envelope encryption and signed delivery manifests; the bus's keys; and the signed,
hash-chained ledger with Merkle roots over delivered records, its RFC 6962 tree (and
the stored tiles that keep its heads and proofs cheap), signed checkpoints, inclusion
and consistency proofs and offline-verifiable bundles; the purge register and signed
purge instructions (erasure reaching recipients).
See docs/consent.md.

consent/ imports no other GovBus part (only `govbus.errors`). Its tables live in
`CONSENT_METADATA`; the exchange creates them in the state database. Functions that
write take a `sa.Connection` so the caller's transaction decides what commits together.
"""

from __future__ import annotations

from consent.audit_bundle import BundleReport, export_bundle, verify_bundle
from consent.batch_hashing import AVAILABLE as NATIVE_HASHING
from consent.checkpoints import (
    Checkpoint,
    check_checkpoints,
    checkpoint_message,
    latest_checkpoint,
    read_checkpoints,
)
from consent.consent_index import ConsentIndex
from consent.csv_import import ImportLine, ImportReport, ScopeCheck, import_consents
from consent.delivery_open import OpenedDelivery, open_delivery
from consent.entry_proofs import check_entry_proof, entry_proof
from consent.envelope import load_x25519_public_key, open_key, seal_key, x25519_key_id
from consent.explain import ConsentState, Explanation, explain
from consent.instants import parse_instant, utc_now
from consent.keys import KeyStore, SigningKey, key_id_of
from consent.ledger import GENESIS_HASH, Ledger, LedgerEntry, VerifyReport, canonical_json
from consent.ledger_chain import ChainCheck
from consent.ledger_tiles import StoredTree, fill_tiles
from consent.ledger_tree import LedgerTree, entry_leaf_hash, verify_consistency
from consent.ledger_tree import consistency_proof as ledger_consistency_proof
from consent.ledger_tree import inclusion_proof as ledger_inclusion_proof
from consent.ledger_tree import tree_head as ledger_tree_head
from consent.legal_bases import Purpose, Statute, load_purposes, load_statutes
from consent.manifests import (
    DeliveryReport,
    ManifestCheck,
    check_manifest,
    file_sha256,
    verify_delivery,
    write_manifest,
)
from consent.merkle import (
    canonical_records,
    inclusion_proof,
    merkle_root,
    record_leaf_hashes,
    record_merkle_root,
    verify_inclusion,
)
from consent.policy import CONSENT_BASIS, Decision, decide, minimize, policy_version
from consent.pseudonyms import pseudonymize
from consent.purge_instructions import (
    PurgeCheck,
    check_purge_instruction,
    purge_instruction,
    verify_purge,
    write_purge_instruction,
)
from consent.purge_register import Purge, PurgeRegister, delivery_payloads
from consent.receipts import build_receipt, verify_receipt
from consent.register import ConsentRegister
from consent.reversible import decrypt_column, encrypt_column
from consent.signatures import (
    Verification,
    load_public_key,
    load_trusted_keys,
    public_key_pem,
    sign_document,
    verify_document,
)
from consent.tables import CONSENT_METADATA
from consent.terms import (
    ACTIVE,
    EXPIRED,
    PAUSED,
    PENDING,
    REVOKED,
    ConsentEvent,
    ConsentRecord,
)
from consent.timeline import REASONS, ConsentTimeline

__all__ = [
    "ACTIVE",
    "CONSENT_BASIS",
    "CONSENT_METADATA",
    "EXPIRED",
    "GENESIS_HASH",
    "NATIVE_HASHING",
    "PAUSED",
    "PENDING",
    "REASONS",
    "REVOKED",
    "BundleReport",
    "ChainCheck",
    "Checkpoint",
    "ConsentEvent",
    "ConsentIndex",
    "ConsentRecord",
    "ConsentRegister",
    "ConsentState",
    "ConsentTimeline",
    "Decision",
    "DeliveryReport",
    "Explanation",
    "ImportLine",
    "ImportReport",
    "KeyStore",
    "Ledger",
    "LedgerEntry",
    "LedgerTree",
    "ManifestCheck",
    "OpenedDelivery",
    "Purge",
    "PurgeCheck",
    "PurgeRegister",
    "Purpose",
    "ScopeCheck",
    "SigningKey",
    "Statute",
    "StoredTree",
    "Verification",
    "VerifyReport",
    "build_receipt",
    "canonical_json",
    "canonical_records",
    "check_checkpoints",
    "check_entry_proof",
    "check_manifest",
    "check_purge_instruction",
    "checkpoint_message",
    "decide",
    "decrypt_column",
    "delivery_payloads",
    "encrypt_column",
    "entry_leaf_hash",
    "entry_proof",
    "explain",
    "export_bundle",
    "file_sha256",
    "fill_tiles",
    "import_consents",
    "inclusion_proof",
    "key_id_of",
    "latest_checkpoint",
    "ledger_consistency_proof",
    "ledger_inclusion_proof",
    "ledger_tree_head",
    "load_public_key",
    "load_purposes",
    "load_statutes",
    "load_trusted_keys",
    "load_x25519_public_key",
    "merkle_root",
    "minimize",
    "open_delivery",
    "open_key",
    "parse_instant",
    "policy_version",
    "pseudonymize",
    "public_key_pem",
    "purge_instruction",
    "read_checkpoints",
    "record_leaf_hashes",
    "record_merkle_root",
    "seal_key",
    "sign_document",
    "utc_now",
    "verify_bundle",
    "verify_consistency",
    "verify_delivery",
    "verify_document",
    "verify_inclusion",
    "verify_purge",
    "verify_receipt",
    "write_manifest",
    "write_purge_instruction",
    "x25519_key_id",
]
