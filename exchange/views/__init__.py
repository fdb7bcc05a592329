"""What each role may see: viewer roles and their scope (agency, auditor, admin, citizen)
and the auditors' period report. The CLI and the portal both render these.
"""

from __future__ import annotations

from exchange.views.audit_report import AuditReport, audit_report, csv_text, parse_period, write_report
from exchange.views.roles import ADMIN, AGENCY, AUDITOR, ROLES, NotAllowed, NotVisible, Principal

__all__ = [
    "ADMIN",
    "AGENCY",
    "AUDITOR",
    "ROLES",
    "AuditReport",
    "NotAllowed",
    "NotVisible",
    "Principal",
    "audit_report",
    "csv_text",
    "parse_period",
    "write_report",
]
