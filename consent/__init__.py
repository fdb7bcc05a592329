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

from typing import TYPE_CHECKING

from govbus.lazy_faces import lazy_face

if TYPE_CHECKING:
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
    from consent.erasure.confirmations import (
        ConfirmationCheck,
        check_confirmation,
        confirm_instruction,
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
        DATA_LIFE_ENDED,
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
    from consent.protect.delivery_rows import BatchCheck, TableReport, verify_table_rows
    from consent.protect.envelopes import load_x25519_public_key, open_key, seal_key, x25519_key_id
    from consent.protect.keys import KeyStore
    from consent.protect.manifests import (
        DeliveryReport,
        ManifestCheck,
        SignedManifest,
        check_manifest,
        file_sha256,
        sign_manifest,
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

# Where each public name lives: imported on first use (PEP 562), so importing this package
# (or one of its modules) does not load every dependency of every other module: `govbus
# --help`, `govbus status` and the DAG file load only what they use. A new public name goes
# here, under TYPE_CHECKING above and in `__all__` (tests/architecture/test_lazy_faces.py).
_LAZY: dict[str, tuple[str, str]] = {
    "AGGREGATE_COUNT": ("consent.disclosure", "AGGREGATE_COUNT"),
    "AggregatePolicy": ("consent.disclosure", "AggregatePolicy"),
    "BudgetSpent": ("consent.disclosure", "BudgetSpent"),
    "DisclosureApplied": ("consent.disclosure", "DisclosureApplied"),
    "DisclosurePolicy": ("consent.disclosure", "DisclosurePolicy"),
    "Generalization": ("consent.disclosure", "Generalization"),
    "Hierarchy": ("consent.disclosure", "Hierarchy"),
    "Linkage": ("consent.disclosure", "Linkage"),
    "RiskReport": ("consent.disclosure", "RiskReport"),
    "aggregate_schema": ("consent.disclosure", "aggregate_schema"),
    "apply_disclosure": ("consent.disclosure", "apply_disclosure"),
    "budget_spent": ("consent.disclosure", "budget_spent"),
    "coarsen_first": ("consent.disclosure", "coarsen_first"),
    "generalize": ("consent.disclosure", "generalize"),
    "linkage": ("consent.disclosure", "linkage"),
    "load_hierarchy": ("consent.disclosure", "load_hierarchy"),
    "parse_disclosure_policy": ("consent.disclosure", "parse_disclosure_policy"),
    "quasi_identifiers_of": ("consent.disclosure", "quasi_identifiers_of"),
    "release_aggregate": ("consent.disclosure", "release_aggregate"),
    "risk_of": ("consent.disclosure", "risk_of"),
    "rule_problem": ("consent.disclosure", "rule_problem"),
    "spend_budget": ("consent.disclosure", "spend_budget"),
    "suppression_reason": ("consent.disclosure", "suppression_reason"),
    "ConfirmationCheck": ("consent.erasure.confirmations", "ConfirmationCheck"),
    "check_confirmation": ("consent.erasure.confirmations", "check_confirmation"),
    "confirm_instruction": ("consent.erasure.confirmations", "confirm_instruction"),
    "PurgeCheck": ("consent.erasure.instructions", "PurgeCheck"),
    "check_purge_instruction": ("consent.erasure.instructions", "check_purge_instruction"),
    "purge_instruction": ("consent.erasure.instructions", "purge_instruction"),
    "verify_purge": ("consent.erasure.instructions", "verify_purge"),
    "write_purge_instruction": ("consent.erasure.instructions", "write_purge_instruction"),
    "CONSENT_REVOKED": ("consent.erasure.register", "CONSENT_REVOKED"),
    "DELETE": ("consent.erasure.register", "DELETE"),
    "ERASURE_ORDER": ("consent.erasure.register", "ERASURE_ORDER"),
    "ISSUED": ("consent.erasure.register", "ISSUED"),
    "MANUAL": ("consent.erasure.register", "MANUAL"),
    "STATUTE_ENDED": ("consent.erasure.register", "STATUTE_ENDED"),
    "DATA_LIFE_ENDED": ("consent.erasure.register", "DATA_LIFE_ENDED"),
    "TOMBSTONE": ("consent.erasure.register", "TOMBSTONE"),
    "Purge": ("consent.erasure.register", "Purge"),
    "PurgeRegister": ("consent.erasure.register", "PurgeRegister"),
    "delivery_entries": ("consent.erasure.register", "delivery_entries"),
    "seqs_and_batches": ("consent.erasure.register", "seqs_and_batches"),
    "CONSENT_BASIS": ("consent.policy.decide", "CONSENT_BASIS"),
    "Decision": ("consent.policy.decide", "Decision"),
    "decide": ("consent.policy.decide", "decide"),
    "minimize": ("consent.policy.decide", "minimize"),
    "policy_version": ("consent.policy.decide", "policy_version"),
    "ConsentState": ("consent.policy.explain", "ConsentState"),
    "Explanation": ("consent.policy.explain", "Explanation"),
    "explain": ("consent.policy.explain", "explain"),
    "OpenedDelivery": ("consent.protect.delivery_open", "OpenedDelivery"),
    "open_delivery": ("consent.protect.delivery_open", "open_delivery"),
    "BatchCheck": ("consent.protect.delivery_rows", "BatchCheck"),
    "TableReport": ("consent.protect.delivery_rows", "TableReport"),
    "verify_table_rows": ("consent.protect.delivery_rows", "verify_table_rows"),
    "load_x25519_public_key": ("consent.protect.envelopes", "load_x25519_public_key"),
    "open_key": ("consent.protect.envelopes", "open_key"),
    "seal_key": ("consent.protect.envelopes", "seal_key"),
    "x25519_key_id": ("consent.protect.envelopes", "x25519_key_id"),
    "KeyStore": ("consent.protect.keys", "KeyStore"),
    "DeliveryReport": ("consent.protect.manifests", "DeliveryReport"),
    "ManifestCheck": ("consent.protect.manifests", "ManifestCheck"),
    "SignedManifest": ("consent.protect.manifests", "SignedManifest"),
    "check_manifest": ("consent.protect.manifests", "check_manifest"),
    "file_sha256": ("consent.protect.manifests", "file_sha256"),
    "sign_manifest": ("consent.protect.manifests", "sign_manifest"),
    "verify_delivery": ("consent.protect.manifests", "verify_delivery"),
    "write_manifest": ("consent.protect.manifests", "write_manifest"),
    "pseudonymize": ("consent.protect.pseudonyms", "pseudonymize"),
    "decrypt_column": ("consent.protect.reversible", "decrypt_column"),
    "encrypt_column": ("consent.protect.reversible", "encrypt_column"),
    "ImportLine": ("consent.register.csv_import", "ImportLine"),
    "ImportReport": ("consent.register.csv_import", "ImportReport"),
    "ScopeCheck": ("consent.register.csv_import", "ScopeCheck"),
    "import_consents": ("consent.register.csv_import", "import_consents"),
    "ConsentIndex": ("consent.register.index", "ConsentIndex"),
    "Purpose": ("consent.register.legal_bases", "Purpose"),
    "Statute": ("consent.register.legal_bases", "Statute"),
    "load_purposes": ("consent.register.legal_bases", "load_purposes"),
    "load_statutes": ("consent.register.legal_bases", "load_statutes"),
    "RECEIPT_SCHEMA": ("consent.register.receipt_schema", "RECEIPT_SCHEMA"),
    "ReceiptTerms": ("consent.register.receipts", "ReceiptTerms"),
    "build_receipt": ("consent.register.receipts", "build_receipt"),
    "compact_jws": ("consent.register.receipts", "compact_jws"),
    "verify_receipt": ("consent.register.receipts", "verify_receipt"),
    "ConsentRegister": ("consent.register.register", "ConsentRegister"),
    "CONSENT_METADATA": ("consent.register.tables", "CONSENT_METADATA"),
    "ACTIVE": ("consent.register.terms", "ACTIVE"),
    "EXPIRED": ("consent.register.terms", "EXPIRED"),
    "PAUSED": ("consent.register.terms", "PAUSED"),
    "PENDING": ("consent.register.terms", "PENDING"),
    "REVOKED": ("consent.register.terms", "REVOKED"),
    "ConsentEvent": ("consent.register.terms", "ConsentEvent"),
    "ConsentRecord": ("consent.register.terms", "ConsentRecord"),
    "REASONS": ("consent.register.timeline", "REASONS"),
    "ConsentTimeline": ("consent.register.timeline", "ConsentTimeline"),
}


# Tables of CONSENT_METADATA defined next to the code that uses them: read with it.
_TABLE_MODULES = ("consent.erasure.register", "consent.disclosure.budget")
__getattr__, __dir__ = lazy_face(__name__, _LAZY, also={"CONSENT_METADATA": _TABLE_MODULES})


__all__ = [
    "ACTIVE",
    "AGGREGATE_COUNT",
    "CONSENT_BASIS",
    "CONSENT_METADATA",
    "CONSENT_REVOKED",
    "DATA_LIFE_ENDED",
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
    "BatchCheck",
    "BudgetSpent",
    "ConfirmationCheck",
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
    "SignedManifest",
    "Statute",
    "TableReport",
    "aggregate_schema",
    "apply_disclosure",
    "budget_spent",
    "build_receipt",
    "check_confirmation",
    "check_manifest",
    "check_purge_instruction",
    "coarsen_first",
    "compact_jws",
    "confirm_instruction",
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
    "sign_manifest",
    "spend_budget",
    "suppression_reason",
    "verify_delivery",
    "verify_purge",
    "verify_receipt",
    "verify_table_rows",
    "write_manifest",
    "write_purge_instruction",
    "x25519_key_id",
]
