"""The catalog room: reading and checking the declarations (agencies, purposes, statutes,
datasets with their contracts and schema versions, subscriptions).

What a caller must know: `load_catalog` refuses an inconsistent catalog with every
problem named by file and line; `check_catalog` returns the problems as data. The room
imports the parts (contracts, schemas, consent, connectors), never another room.
"""

from __future__ import annotations

from exchange.catalog import protection
from exchange.catalog.connector_settings import CatalogSettings, path_rules
from exchange.catalog.loader import Problem, check_catalog, check_subscription, expand_settings, load_catalog
from exchange.catalog.model import Agency, Catalog, Dataset, Subscription
from exchange.catalog.schedules import frequency, parse_schedule

__all__ = [
    "Agency",
    "Catalog",
    "CatalogSettings",
    "Dataset",
    "Problem",
    "Subscription",
    "check_catalog",
    "check_subscription",
    "expand_settings",
    "frequency",
    "load_catalog",
    "parse_schedule",
    "path_rules",
    "protection",
]
