"""The bus itself: catalog, the three steps (stage → deliver → commit), state, CLI.

`exchange` is the only part that composes the others (DESIGN.md's import table).
"""

from __future__ import annotations

from exchange.bus import Bus, Hooks
from exchange.catalog.loader import (
    Agency,
    Catalog,
    Dataset,
    Problem,
    Subscription,
    check_catalog,
    expand_settings,
    load_catalog,
)
from exchange.state.settings import Settings

__all__ = [
    "Agency",
    "Bus",
    "Catalog",
    "Dataset",
    "Hooks",
    "Problem",
    "Settings",
    "Subscription",
    "check_catalog",
    "expand_settings",
    "load_catalog",
]
