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

from typing import TYPE_CHECKING

from govbus.lazy_faces import lazy_face

if TYPE_CHECKING:
    from audit.access_index import TABLE as ACCESS_INDEX_TABLE
    from audit.access_index import SubjectGroups
    from audit.access_index import group as group_subject_refs
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
        DEFAULT_NOTE_ORIGIN,
        Checkpoint,
        check_checkpoints,
        checkpoint_message,
        checkpoint_numbered,
        latest_checkpoint,
        note_problem,
        read_checkpoints,
    )
    from audit.ledger.cosignatures import (
        WitnessPolicy,
        cosignature_problems,
        read_cosignatures,
        record_cosignatures,
    )
    from audit.ledger.ledger import GENESIS_HASH, Ledger, LedgerEntry, VerifyReport, canonical_json
    from audit.ledger.tiles import StoredTree, fill_tiles
    from audit.ledger.tiles import consistency_proof as ledger_consistency_proof
    from audit.ledger.tiles import inclusion_proof as ledger_inclusion_proof
    from audit.ledger.tiles import tree_head as ledger_tree_head
    from audit.ledger.tree import LedgerTree, entry_leaf_hash, verify_consistency
    from audit.merkle import (
        block_merkle_root,
        canonical_records,
        inclusion_proof,
        merkle_root,
        record_leaf_block,
        record_leaf_hashes,
        record_merkle_root,
        verify_inclusion,
    )
    from audit.notes import NoteKey, NoteSignature, parse_note
    from audit.proofs import (
        check_consistency_document,
        check_entry_proof,
        consistency_document,
        entry_proof,
        entry_proofs,
    )
    from audit.proofs import dumps as proof_json
    from audit.pseudonym_forms import RAW_TYPE as RAW_REF_TYPE
    from audit.pseudonym_forms import as_hex as refs_as_hex
    from audit.pseudonym_forms import as_raw as refs_as_raw
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
    from audit.subject_sets import SubjectSet
    from audit.subject_sets import build as build_subject_set
    from audit.subject_sets import current as current_subject_set
    from audit.subject_sets import deliveries_of as deliveries_of_subject
    from audit.subject_sets import forget_stage as forget_subject_sets
    from audit.subject_sets import retire as retire_subject_set
    from audit.subject_sets import write_delivery as write_access_delivery
    from audit.subject_sets import write_set as write_subject_set
    from audit.tables import AUDIT_METADATA
    from audit.tables import ledger as ledger_table
    from audit.witness import (
        CosignedCheckpoint,
        Witness,
        load_witness_policy,
        read_cosigned_file,
        write_cosigned_file,
    )
    from govbus.batch_hashing import AVAILABLE as NATIVE_HASHING

# Where each public name lives: imported on first use (PEP 562), so importing this package
# (or one of its modules) does not load every dependency of every other module: `govbus
# --help`, `govbus status` and the DAG file load only what they use. A new public name goes
# here, under TYPE_CHECKING above and in `__all__` (tests/architecture/test_lazy_faces.py).
_LAZY: dict[str, tuple[str, str]] = {
    "ACCESS_INDEX_TABLE": ("audit.access_index", "TABLE"),
    "SubjectGroups": ("audit.access_index", "SubjectGroups"),
    "group_subject_refs": ("audit.access_index", "group"),
    "deliveries_of_subject": ("audit.subject_sets", "deliveries_of"),
    "SubjectSet": ("audit.subject_sets", "SubjectSet"),
    "build_subject_set": ("audit.subject_sets", "build"),
    "current_subject_set": ("audit.subject_sets", "current"),
    "forget_subject_sets": ("audit.subject_sets", "forget_stage"),
    "retire_subject_set": ("audit.subject_sets", "retire"),
    "write_access_delivery": ("audit.subject_sets", "write_delivery"),
    "write_subject_set": ("audit.subject_sets", "write_set"),
    "write_access_index": ("audit.access_index", "write"),
    "RAW_REF_TYPE": ("audit.pseudonym_forms", "RAW_TYPE"),
    "refs_as_hex": ("audit.pseudonym_forms", "as_hex"),
    "refs_as_raw": ("audit.pseudonym_forms", "as_raw"),
    "BundleReport": ("audit.bundles", "BundleReport"),
    "export_bundle": ("audit.bundles", "export_bundle"),
    "verify_bundle": ("audit.bundles", "verify_bundle"),
    "CatalogChange": ("audit.entries", "CatalogChange"),
    "CatalogChangedEntry": ("audit.entries", "CatalogChangedEntry"),
    "CursorResetEntry": ("audit.entries", "CursorResetEntry"),
    "DeliveryEntry": ("audit.entries", "DeliveryEntry"),
    "EntryPayload": ("audit.entries", "EntryPayload"),
    "QuarantineDiscardEntry": ("audit.entries", "QuarantineDiscardEntry"),
    "QuarantineReplayEntry": ("audit.entries", "QuarantineReplayEntry"),
    "QuarantineViewEntry": ("audit.entries", "QuarantineViewEntry"),
    "SubscriptionDecisionEntry": ("audit.entries", "SubscriptionDecisionEntry"),
    "SubscriptionLifecycleEntry": ("audit.entries", "SubscriptionLifecycleEntry"),
    "SubscriptionRequestEntry": ("audit.entries", "SubscriptionRequestEntry"),
    "ChainCheck": ("audit.ledger.chain", "ChainCheck"),
    "DEFAULT_NOTE_ORIGIN": ("audit.ledger.checkpoints", "DEFAULT_NOTE_ORIGIN"),
    "Checkpoint": ("audit.ledger.checkpoints", "Checkpoint"),
    "check_checkpoints": ("audit.ledger.checkpoints", "check_checkpoints"),
    "checkpoint_message": ("audit.ledger.checkpoints", "checkpoint_message"),
    "checkpoint_numbered": ("audit.ledger.checkpoints", "checkpoint_numbered"),
    "latest_checkpoint": ("audit.ledger.checkpoints", "latest_checkpoint"),
    "note_problem": ("audit.ledger.checkpoints", "note_problem"),
    "read_checkpoints": ("audit.ledger.checkpoints", "read_checkpoints"),
    "WitnessPolicy": ("audit.ledger.cosignatures", "WitnessPolicy"),
    "cosignature_problems": ("audit.ledger.cosignatures", "cosignature_problems"),
    "read_cosignatures": ("audit.ledger.cosignatures", "read_cosignatures"),
    "record_cosignatures": ("audit.ledger.cosignatures", "record_cosignatures"),
    "GENESIS_HASH": ("audit.ledger.ledger", "GENESIS_HASH"),
    "Ledger": ("audit.ledger.ledger", "Ledger"),
    "LedgerEntry": ("audit.ledger.ledger", "LedgerEntry"),
    "VerifyReport": ("audit.ledger.ledger", "VerifyReport"),
    "canonical_json": ("audit.ledger.ledger", "canonical_json"),
    "StoredTree": ("audit.ledger.tiles", "StoredTree"),
    "fill_tiles": ("audit.ledger.tiles", "fill_tiles"),
    "ledger_consistency_proof": ("audit.ledger.tiles", "consistency_proof"),
    "ledger_inclusion_proof": ("audit.ledger.tiles", "inclusion_proof"),
    "ledger_tree_head": ("audit.ledger.tiles", "tree_head"),
    "LedgerTree": ("audit.ledger.tree", "LedgerTree"),
    "entry_leaf_hash": ("audit.ledger.tree", "entry_leaf_hash"),
    "verify_consistency": ("audit.ledger.tree", "verify_consistency"),
    "block_merkle_root": ("audit.merkle", "block_merkle_root"),
    "canonical_records": ("audit.merkle", "canonical_records"),
    "inclusion_proof": ("audit.merkle", "inclusion_proof"),
    "merkle_root": ("audit.merkle", "merkle_root"),
    "record_leaf_block": ("audit.merkle", "record_leaf_block"),
    "record_leaf_hashes": ("audit.merkle", "record_leaf_hashes"),
    "record_merkle_root": ("audit.merkle", "record_merkle_root"),
    "verify_inclusion": ("audit.merkle", "verify_inclusion"),
    "NoteKey": ("audit.notes", "NoteKey"),
    "NoteSignature": ("audit.notes", "NoteSignature"),
    "parse_note": ("audit.notes", "parse_note"),
    "check_consistency_document": ("audit.proofs", "check_consistency_document"),
    "check_entry_proof": ("audit.proofs", "check_entry_proof"),
    "consistency_document": ("audit.proofs", "consistency_document"),
    "entry_proof": ("audit.proofs", "entry_proof"),
    "entry_proofs": ("audit.proofs", "entry_proofs"),
    "proof_json": ("audit.proofs", "dumps"),
    "KeySource": ("audit.signatures", "KeySource"),
    "PublicKeys": ("audit.signatures", "PublicKeys"),
    "SigningKey": ("audit.signatures", "SigningKey"),
    "Verification": ("audit.signatures", "Verification"),
    "key_id_of": ("audit.signatures", "key_id_of"),
    "load_pem_public_key_of": ("audit.signatures", "load_pem_public_key_of"),
    "load_public_key": ("audit.signatures", "load_public_key"),
    "load_trusted_keys": ("audit.signatures", "load_trusted_keys"),
    "public_key_pem": ("audit.signatures", "public_key_pem"),
    "read_signed_file": ("audit.signatures", "read_signed_file"),
    "sign_document": ("audit.signatures", "sign_document"),
    "verify_document": ("audit.signatures", "verify_document"),
    "AUDIT_METADATA": ("audit.tables", "AUDIT_METADATA"),
    "ledger_table": ("audit.tables", "ledger"),
    "CosignedCheckpoint": ("audit.witness", "CosignedCheckpoint"),
    "Witness": ("audit.witness", "Witness"),
    "load_witness_policy": ("audit.witness", "load_witness_policy"),
    "read_cosigned_file": ("audit.witness", "read_cosigned_file"),
    "write_cosigned_file": ("audit.witness", "write_cosigned_file"),
    "NATIVE_HASHING": ("govbus.batch_hashing", "AVAILABLE"),
}


__getattr__, __dir__ = lazy_face(__name__, _LAZY)


__all__ = [
    "ACCESS_INDEX_TABLE",
    "AUDIT_METADATA",
    "DEFAULT_NOTE_ORIGIN",
    "GENESIS_HASH",
    "NATIVE_HASHING",
    "RAW_REF_TYPE",
    "BundleReport",
    "CatalogChange",
    "CatalogChangedEntry",
    "ChainCheck",
    "Checkpoint",
    "CosignedCheckpoint",
    "CursorResetEntry",
    "DeliveryEntry",
    "EntryPayload",
    "KeySource",
    "Ledger",
    "LedgerEntry",
    "LedgerTree",
    "NoteKey",
    "NoteSignature",
    "PublicKeys",
    "QuarantineDiscardEntry",
    "QuarantineReplayEntry",
    "QuarantineViewEntry",
    "SigningKey",
    "StoredTree",
    "SubjectGroups",
    "SubjectSet",
    "SubscriptionDecisionEntry",
    "SubscriptionLifecycleEntry",
    "SubscriptionRequestEntry",
    "Verification",
    "VerifyReport",
    "Witness",
    "WitnessPolicy",
    "block_merkle_root",
    "build_subject_set",
    "canonical_json",
    "canonical_records",
    "check_checkpoints",
    "check_consistency_document",
    "check_entry_proof",
    "checkpoint_message",
    "checkpoint_numbered",
    "consistency_document",
    "cosignature_problems",
    "current_subject_set",
    "deliveries_of_subject",
    "entry_leaf_hash",
    "entry_proof",
    "entry_proofs",
    "export_bundle",
    "fill_tiles",
    "forget_subject_sets",
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
    "load_witness_policy",
    "merkle_root",
    "note_problem",
    "parse_note",
    "proof_json",
    "public_key_pem",
    "read_checkpoints",
    "read_cosignatures",
    "read_cosigned_file",
    "read_signed_file",
    "record_cosignatures",
    "record_leaf_block",
    "record_leaf_hashes",
    "record_merkle_root",
    "refs_as_hex",
    "refs_as_raw",
    "retire_subject_set",
    "sign_document",
    "verify_bundle",
    "verify_consistency",
    "verify_document",
    "verify_inclusion",
    "write_access_delivery",
    "write_access_index",
    "write_cosigned_file",
    "write_subject_set",
]
