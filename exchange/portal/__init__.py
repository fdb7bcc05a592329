"""The GovBus portal: catalog, runs, quarantine counts, the ledger, the audit report and
subject search with the citizen's access report.

Agencies ask for datasets and owners (and the data-protection officer) decide on the
requests (`access_requests.py`, `request_pages.py`).

FastAPI + Jinja2, server-rendered, works without JavaScript; a JSON API under `/api`
(OpenAPI at `/openapi.json`) answered by the same query functions as the pages.
Roles (admin, agency, auditor, dpo) come from bearer tokens in `GOVBUS_PORTAL_TOKENS`.
`govbus portal` serves it (`exchange/cli/portal.py`); `exchange.portal.airflow_plugin`
mounts it in Airflow 3's API server. See docs/portal.md.
"""

from __future__ import annotations

from exchange.portal.app import create_app
from exchange.portal.auth import TOKENS_ENV, Authenticator, parse_tokens, tokens_from_env
from exchange.portal.citizen import CitizenReport, citizen_report, render_citizen_report
from exchange.portal.subjects import ACCESS_INDEX_TABLE, INDEX_NOT_BUILT, subject_deliveries
from exchange.views.roles import ADMIN, AGENCY, AUDITOR, DPO, NotAllowed, NotVisible, Principal

__all__ = [
    "ACCESS_INDEX_TABLE",
    "ADMIN",
    "AGENCY",
    "AUDITOR",
    "DPO",
    "INDEX_NOT_BUILT",
    "TOKENS_ENV",
    "Authenticator",
    "CitizenReport",
    "NotAllowed",
    "NotVisible",
    "Principal",
    "citizen_report",
    "create_app",
    "parse_tokens",
    "render_citizen_report",
    "subject_deliveries",
    "tokens_from_env",
]
