"""What each role may see: viewer roles and their scope (agency, auditor, admin, citizen),
the catalog as every role reads it (`catalog_entries`: one value-free description per
dataset, with its rules in words from `rule_words`) and the auditors' period report. The
CLI and the portal both render these.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from govbus.lazy_faces import lazy_face

if TYPE_CHECKING:
    from exchange.views.audit_report import AuditReport, audit_report, csv_text, parse_period, write_report
    from exchange.views.catalog_entries import CatalogEntry, CatalogQuery, catalog_entries, catalog_entry
    from exchange.views.masked_ids import mask_id
    from exchange.views.roles import ADMIN, AGENCY, AUDITOR, DPO, ROLES, NotAllowed, NotVisible, Principal

# Where each public name lives: imported on first use (PEP 562), so importing this package
# (or one of its modules) does not load every dependency of every other module: `govbus
# --help`, `govbus status` and the DAG file load only what they use. A new public name goes
# here, under TYPE_CHECKING above and in `__all__` (tests/architecture/test_lazy_faces.py).
_LAZY: dict[str, tuple[str, str]] = {
    "AuditReport": ("exchange.views.audit_report", "AuditReport"),
    "audit_report": ("exchange.views.audit_report", "audit_report"),
    "csv_text": ("exchange.views.audit_report", "csv_text"),
    "parse_period": ("exchange.views.audit_report", "parse_period"),
    "write_report": ("exchange.views.audit_report", "write_report"),
    "CatalogEntry": ("exchange.views.catalog_entries", "CatalogEntry"),
    "CatalogQuery": ("exchange.views.catalog_entries", "CatalogQuery"),
    "catalog_entries": ("exchange.views.catalog_entries", "catalog_entries"),
    "catalog_entry": ("exchange.views.catalog_entries", "catalog_entry"),
    "mask_id": ("exchange.views.masked_ids", "mask_id"),
    "ADMIN": ("exchange.views.roles", "ADMIN"),
    "AGENCY": ("exchange.views.roles", "AGENCY"),
    "AUDITOR": ("exchange.views.roles", "AUDITOR"),
    "DPO": ("exchange.views.roles", "DPO"),
    "ROLES": ("exchange.views.roles", "ROLES"),
    "NotAllowed": ("exchange.views.roles", "NotAllowed"),
    "NotVisible": ("exchange.views.roles", "NotVisible"),
    "Principal": ("exchange.views.roles", "Principal"),
}


__getattr__, __dir__ = lazy_face(__name__, _LAZY)


__all__ = [
    "ADMIN",
    "AGENCY",
    "AUDITOR",
    "DPO",
    "ROLES",
    "AuditReport",
    "CatalogEntry",
    "CatalogQuery",
    "NotAllowed",
    "NotVisible",
    "Principal",
    "audit_report",
    "catalog_entries",
    "catalog_entry",
    "csv_text",
    "mask_id",
    "parse_period",
    "write_report",
]
