"""The bus itself: catalog, the three steps (stage → deliver → commit), state, CLI, portal.

`exchange` is the only part that composes the others. Its rooms, each importing only
those below it (import-linter checks): `cli` > `portal | demo` > `orchestration |
erasure | views` > `bus` > `run` > `quarantine` > `catalog | state`.
See docs/architecture.md.

The names below are loaded on first use (module `__getattr__`), so importing a room
— the command line above all — does not pay for the whole bus.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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

_FROM = {
    "Bus": "exchange.bus",
    "Hooks": "exchange.bus",
    "Agency": "exchange.catalog",
    "Catalog": "exchange.catalog",
    "Dataset": "exchange.catalog",
    "Problem": "exchange.catalog",
    "Subscription": "exchange.catalog",
    "check_catalog": "exchange.catalog",
    "expand_settings": "exchange.catalog",
    "load_catalog": "exchange.catalog",
    "Settings": "exchange.state",
}


def __getattr__(name: str) -> Any:
    """The public names, imported on first use: `govbus --help` must not load the bus.

    `from exchange import Bus` works as before; only the cost moves to the first use.
    """
    if name in _FROM:
        return getattr(importlib.import_module(_FROM[name]), name)
    raise AttributeError(f"module 'exchange' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_FROM])


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
