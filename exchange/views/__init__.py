"""What each role may see: viewer roles and their scope (agency, auditor, admin, citizen),
the catalog as every role reads it (`catalog_entries`: one value-free description per
dataset, with its rules in words from `rule_words`) and the auditors' period report. The
CLI and the portal both render these.
"""

from __future__ import annotations

from exchange.views.audit_report import AuditReport, audit_report, csv_text, parse_period, write_report
from exchange.views.catalog_entries import CatalogEntry, CatalogQuery, catalog_entries, catalog_entry
from exchange.views.roles import ADMIN, AGENCY, AUDITOR, DPO, ROLES, NotAllowed, NotVisible, Principal

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
    "parse_period",
    "write_report",
]
