"""What the quarantine room uses of the composed bus, as a typed interface.

The room sits below the steps (`exchange.run`) and the bus (`exchange.bus`), so it
cannot import them; it names the few things it needs instead. `exchange.bus.Bus`
satisfies this protocol, and so does the steps' `StepContext`.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Protocol

from sqlalchemy.engine import Engine

import audit
from exchange.catalog import Catalog
from exchange.state import Settings

__all__ = ["QuarantineContext"]


class QuarantineContext(Protocol):
    """The catalog (classifications), the state database, the ledger and the step locks."""

    settings: Settings
    catalog: Catalog
    engine: Engine
    ledger: audit.Ledger

    def locked(self, name: str) -> AbstractContextManager[None]:
        """Hold the named lock (`ledger`, `stage:<dataset>`, ...) for the block."""
        ...
