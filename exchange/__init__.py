"""The bus itself: catalog, the three steps (stage → deliver → commit), state, CLI, portal.

`exchange` is the only part that composes the others. Its rooms, each importing only
those below it (import-linter checks): `cli` > `portal | demo` > `orchestration |
erasure | views` > `bus` > `run` > `quarantine` > `catalog | state`.
See docs/architecture.md.
"""

from __future__ import annotations

from exchange.bus import Bus, Hooks
from exchange.catalog import (
    Agency,
    Catalog,
    Dataset,
    Problem,
    Subscription,
    check_catalog,
    expand_settings,
    load_catalog,
)
from exchange.state import Settings

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
