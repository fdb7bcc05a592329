"""The catalog room: reading and checking the declarations (agencies, purposes, statutes,
datasets with their contracts and schema versions, subscriptions).

What a caller must know: `load_catalog` refuses an inconsistent catalog with every
problem named by file and line; `check_catalog` returns the problems as data. The room
imports the parts (contracts, schemas, consent, connectors), never another room.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from govbus.lazy_faces import lazy_face

if TYPE_CHECKING:
    from exchange.catalog import protection
    from exchange.catalog.connector_settings import CatalogSettings, path_rules
    from exchange.catalog.loader import (
        Problem,
        check_catalog,
        check_subscription,
        expand_settings,
        load_catalog,
    )
    from exchange.catalog.model import Agency, Catalog, Dataset, Subscription
    from exchange.catalog.schedules import frequency, parse_schedule

# Where each public name lives: imported on first use (PEP 562), so importing this package
# (or one of its modules) does not load every dependency of every other module: `govbus
# --help`, `govbus status` and the DAG file load only what they use. A new public name goes
# here, under TYPE_CHECKING above and in `__all__` (tests/architecture/test_lazy_faces.py).
_LAZY: dict[str, tuple[str, str]] = {
    "protection": ("exchange.catalog.protection", ""),
    "CatalogSettings": ("exchange.catalog.connector_settings", "CatalogSettings"),
    "path_rules": ("exchange.catalog.connector_settings", "path_rules"),
    "Problem": ("exchange.catalog.loader", "Problem"),
    "check_catalog": ("exchange.catalog.loader", "check_catalog"),
    "check_subscription": ("exchange.catalog.loader", "check_subscription"),
    "expand_settings": ("exchange.catalog.loader", "expand_settings"),
    "load_catalog": ("exchange.catalog.loader", "load_catalog"),
    "Agency": ("exchange.catalog.model", "Agency"),
    "Catalog": ("exchange.catalog.model", "Catalog"),
    "Dataset": ("exchange.catalog.model", "Dataset"),
    "Subscription": ("exchange.catalog.model", "Subscription"),
    "frequency": ("exchange.catalog.schedules", "frequency"),
    "parse_schedule": ("exchange.catalog.schedules", "parse_schedule"),
}


__getattr__, __dir__ = lazy_face(__name__, _LAZY)


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
