"""audit: the tamper-evident record of what left the bus, and the proofs an outsider checks.

The signed, hash-chained ledger with Merkle roots over delivered records; its RFC 6962
tree (and the stored tiles that keep its heads and proofs cheap); signed checkpoints;
inclusion and consistency proofs; offline-verifiable bundles; the per-subject access
index ("who received person X's data"); and the signed documents (Ed25519 over
canonical JSON) that manifests, receipts and purge instructions build on; and the typed
payloads of the entry kinds other parts append and read (`DeliveryEntry`, ...: build
one, `Ledger.append_entry` it; read with `DeliveryEntry.from_payload`, never by dict key).
See docs/audit.md.

What a caller must know:

* audit/ imports no other GovBus part, only the kernel `govbus/`. Whatever signs for
  the bus is passed in (a `KeySource`, e.g. consent's `KeyStore`).
* Its tables live in `AUDIT_METADATA`; the exchange creates them in the state database
  through its migrations. Functions that write take a `sa.Connection`, so the caller's
  transaction decides what commits together (a ledger entry with its checkpoint).
* `NATIVE_HASHING` says whether the C batch hasher was built; the pure-Python path
  gives the same bytes, slower.
"""

from __future__ import annotations

from audit.access_index import TABLE as ACCESS_INDEX_TABLE
from audit.access_index import group as group_subject_refs
from audit.access_index import seqs_of as deliveries_of_subject
from audit.access_index import write as write_access_index
from audit.bundles import BundleReport, export_bundle, verify_bundle
from audit.entries import (
    CatalogChange,
    CatalogChangedEntry,
    CursorResetEntry,
    DeliveryEntry,
    EntryPayload,
    QuarantineDiscardEntry,
    QuarantineReplayEntry,
    QuarantineViewEntry,
    SubscriptionDecisionEntry,
    SubscriptionLifecycleEntry,
    SubscriptionRequestEntry,
)
from audit.ledger.chain import ChainCheck
from audit.ledger.checkpoints import (
    Checkpoint,
    check_checkpoints,
    checkpoint_message,
    latest_checkpoint,
    read_checkpoints,
)
from audit.ledger.ledger import GENESIS_HASH, Ledger, LedgerEntry, VerifyReport, canonical_json
from audit.ledger.tiles import StoredTree, fill_tiles
from audit.ledger.tiles import consistency_proof as ledger_consistency_proof
from audit.ledger.tiles import inclusion_proof as ledger_inclusion_proof
from audit.ledger.tiles import tree_head as ledger_tree_head
from audit.ledger.tree import LedgerTree, entry_leaf_hash, verify_consistency
from audit.merkle import (
    canonical_records,
    inclusion_proof,
    merkle_root,
    record_leaf_hashes,
    record_merkle_root,
    verify_inclusion,
)
from audit.proofs import (
    check_consistency_document,
    check_entry_proof,
    consistency_document,
    entry_proof,
    entry_proofs,
)
from audit.proofs import dumps as proof_json
from audit.signatures import (
    KeySource,
    PublicKeys,
    SigningKey,
    Verification,
    key_id_of,
    load_pem_public_key_of,
    load_public_key,
    load_trusted_keys,
    public_key_pem,
    read_signed_file,
    sign_document,
    verify_document,
)
from audit.tables import AUDIT_METADATA
from audit.tables import ledger as ledger_table
from govbus.batch_hashing import AVAILABLE as NATIVE_HASHING

__all__ = [
    "ACCESS_INDEX_TABLE",
    "AUDIT_METADATA",
    "GENESIS_HASH",
    "NATIVE_HASHING",
    "BundleReport",
    "CatalogChange",
    "CatalogChangedEntry",
    "ChainCheck",
    "Checkpoint",
    "CursorResetEntry",
    "DeliveryEntry",
    "EntryPayload",
    "KeySource",
    "Ledger",
    "LedgerEntry",
    "LedgerTree",
    "PublicKeys",
    "QuarantineDiscardEntry",
    "QuarantineReplayEntry",
    "QuarantineViewEntry",
    "SigningKey",
    "StoredTree",
    "SubscriptionDecisionEntry",
    "SubscriptionLifecycleEntry",
    "SubscriptionRequestEntry",
    "Verification",
    "VerifyReport",
    "canonical_json",
    "canonical_records",
    "check_checkpoints",
    "check_consistency_document",
    "check_entry_proof",
    "checkpoint_message",
    "consistency_document",
    "deliveries_of_subject",
    "entry_leaf_hash",
    "entry_proof",
    "entry_proofs",
    "export_bundle",
    "fill_tiles",
    "group_subject_refs",
    "inclusion_proof",
    "key_id_of",
    "latest_checkpoint",
    "ledger_consistency_proof",
    "ledger_inclusion_proof",
    "ledger_table",
    "ledger_tree_head",
    "load_pem_public_key_of",
    "load_public_key",
    "load_trusted_keys",
    "merkle_root",
    "proof_json",
    "public_key_pem",
    "read_checkpoints",
    "read_signed_file",
    "record_leaf_hashes",
    "record_merkle_root",
    "sign_document",
    "verify_bundle",
    "verify_consistency",
    "verify_document",
    "verify_inclusion",
    "write_access_index",
]
