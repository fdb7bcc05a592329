"""consent: who may receive what, and the proof of what was sent.

Purposes and statutes (the catalog's legal bases), the consent register, the policy
decision and minimization of a batch, keyed pseudonyms, the bus's keys, and the signed,
hash-chained ledger with Merkle roots over delivered records.

consent/ imports no other GovBus part (only `govbus.errors`). Its tables live in
`CONSENT_METADATA`; the exchange creates them in the state database. Functions that
write take a `sa.Connection` so the caller's transaction decides what commits together.
"""

from __future__ import annotations

from consent.keys import KeyStore, SigningKey, key_id_of
from consent.ledger import GENESIS_HASH, Ledger, LedgerEntry, VerifyReport, canonical_json
from consent.legal_bases import Purpose, Statute, load_purposes, load_statutes
from consent.merkle import (
    canonical_records,
    inclusion_proof,
    merkle_root,
    record_leaf_hashes,
    verify_inclusion,
)
from consent.policy import CONSENT_BASIS, Decision, decide, minimize
from consent.pseudonyms import pseudonymize
from consent.register import ConsentRecord, ConsentRegister
from consent.tables import CONSENT_METADATA

__all__ = [
    "CONSENT_BASIS",
    "CONSENT_METADATA",
    "GENESIS_HASH",
    "ConsentRecord",
    "ConsentRegister",
    "Decision",
    "KeyStore",
    "Ledger",
    "LedgerEntry",
    "Purpose",
    "SigningKey",
    "Statute",
    "VerifyReport",
    "canonical_json",
    "canonical_records",
    "decide",
    "inclusion_proof",
    "key_id_of",
    "load_purposes",
    "load_statutes",
    "merkle_root",
    "minimize",
    "pseudonymize",
    "record_leaf_hashes",
    "verify_inclusion",
]
