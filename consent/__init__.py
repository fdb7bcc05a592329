"""consent: who may receive what, on which basis, and how what leaves is protected.

Rooms, each importing only those below it (import-linter checks):

* `erasure/` — the purge register and signed purge instructions (erasure reaching
  recipients);
* `policy/` — the policy decision on each row, its explanation, and minimization;
* `disclosure/` — disclosure control after minimization: generalization, k-anonymity
  and l-diversity by suppression, measured linkage risk, differentially private
  aggregates (OpenDP) and privacy budgets (docs/privacy.md);
* `register/` — purposes and statutes (the catalog's legal bases); the consent register
  (DEPA / ISO/IEC TS 27560 model: grant, pause, resume, revoke, expire, CSV import), its
  timelines that answer at any instant, and signed consent receipts;
* `protect/` — the bus's keys, keyed pseudonyms, AES-SIV reversible fields, envelope
  encryption and signed delivery manifests.

See docs/consent.md.

What a caller must know: consent/ imports only the kernel `govbus/` and the `audit`
part (consent events and purges are ledger entries; manifests are signed documents).
Its tables live in `CONSENT_METADATA`; functions that write take a `sa.Connection` so
the caller's transaction decides what commits together.
"""

from __future__ import annotations

from consent.disclosure import (
    AGGREGATE_COUNT,
    AggregatePolicy,
    BudgetSpent,
    DisclosureApplied,
    DisclosurePolicy,
    Generalization,
    Hierarchy,
    Linkage,
    RiskReport,
    aggregate_schema,
    apply_disclosure,
    budget_spent,
    coarsen_first,
    generalize,
    linkage,
    load_hierarchy,
    parse_disclosure_policy,
    quasi_identifiers_of,
    release_aggregate,
    risk_of,
    rule_problem,
    spend_budget,
    suppression_reason,
)
from consent.erasure.instructions import (
    PurgeCheck,
    check_purge_instruction,
    purge_instruction,
    verify_purge,
    write_purge_instruction,
)
from consent.erasure.register import (
    CONSENT_REVOKED,
    DELETE,
    ERASURE_ORDER,
    ISSUED,
    MANUAL,
    STATUTE_ENDED,
    TOMBSTONE,
    Purge,
    PurgeRegister,
    delivery_entries,
    seqs_and_batches,
)
from consent.policy.decide import CONSENT_BASIS, Decision, decide, minimize, policy_version
from consent.policy.explain import ConsentState, Explanation, explain
from consent.protect.delivery_open import OpenedDelivery, open_delivery
from consent.protect.envelopes import load_x25519_public_key, open_key, seal_key, x25519_key_id
from consent.protect.keys import KeyStore
from consent.protect.manifests import (
    DeliveryReport,
    ManifestCheck,
    check_manifest,
    file_sha256,
    verify_delivery,
    write_manifest,
)
from consent.protect.pseudonyms import pseudonymize
from consent.protect.reversible import decrypt_column, encrypt_column
from consent.register.csv_import import ImportLine, ImportReport, ScopeCheck, import_consents
from consent.register.index import ConsentIndex
from consent.register.legal_bases import Purpose, Statute, load_purposes, load_statutes
from consent.register.receipt_schema import RECEIPT_SCHEMA
from consent.register.receipts import ReceiptTerms, build_receipt, compact_jws, verify_receipt
from consent.register.register import ConsentRegister
from consent.register.tables import CONSENT_METADATA
from consent.register.terms import (
    ACTIVE,
    EXPIRED,
    PAUSED,
    PENDING,
    REVOKED,
    ConsentEvent,
    ConsentRecord,
)
from consent.register.timeline import REASONS, ConsentTimeline

__all__ = [
    "ACTIVE",
    "AGGREGATE_COUNT",
    "CONSENT_BASIS",
    "CONSENT_METADATA",
    "CONSENT_REVOKED",
    "DELETE",
    "ERASURE_ORDER",
    "EXPIRED",
    "ISSUED",
    "MANUAL",
    "PAUSED",
    "PENDING",
    "REASONS",
    "RECEIPT_SCHEMA",
    "REVOKED",
    "STATUTE_ENDED",
    "TOMBSTONE",
    "AggregatePolicy",
    "BudgetSpent",
    "ConsentEvent",
    "ConsentIndex",
    "ConsentRecord",
    "ConsentRegister",
    "ConsentState",
    "ConsentTimeline",
    "Decision",
    "DeliveryReport",
    "DisclosureApplied",
    "DisclosurePolicy",
    "Explanation",
    "Generalization",
    "Hierarchy",
    "ImportLine",
    "ImportReport",
    "KeyStore",
    "Linkage",
    "ManifestCheck",
    "OpenedDelivery",
    "Purge",
    "PurgeCheck",
    "PurgeRegister",
    "Purpose",
    "ReceiptTerms",
    "RiskReport",
    "ScopeCheck",
    "Statute",
    "aggregate_schema",
    "apply_disclosure",
    "budget_spent",
    "build_receipt",
    "check_manifest",
    "check_purge_instruction",
    "coarsen_first",
    "compact_jws",
    "decide",
    "decrypt_column",
    "delivery_entries",
    "encrypt_column",
    "explain",
    "file_sha256",
    "generalize",
    "import_consents",
    "linkage",
    "load_hierarchy",
    "load_purposes",
    "load_statutes",
    "load_x25519_public_key",
    "minimize",
    "open_delivery",
    "open_key",
    "parse_disclosure_policy",
    "policy_version",
    "pseudonymize",
    "purge_instruction",
    "quasi_identifiers_of",
    "release_aggregate",
    "risk_of",
    "rule_problem",
    "seal_key",
    "seqs_and_batches",
    "spend_budget",
    "suppression_reason",
    "verify_delivery",
    "verify_purge",
    "verify_receipt",
    "write_manifest",
    "write_purge_instruction",
    "x25519_key_id",
]
