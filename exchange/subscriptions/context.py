"""What the subscriptions room uses of the composed bus: one typed interface, no `Bus` import."""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Protocol

from sqlalchemy.engine import Engine

import audit
from exchange.catalog import Catalog, Subscription

__all__ = ["SubscriptionContext"]


class SubscriptionContext(Protocol):
    """The catalog, the state database, the ledger, the bus's signing keys, the step locks and
    the disclosure check an approval runs."""

    catalog: Catalog
    engine: Engine
    ledger: audit.Ledger

    @property
    def keys(self) -> audit.KeySource:
        """Signs decisions (the bus's current Ed25519 key) and lists every public key."""
        ...

    def locked(self, name: str) -> AbstractContextManager[None]:
        """Hold a named lock (`ledger` for appends, `commit:<dataset>` while pinning a load)."""
        ...

    def disclosure_refusal(self, sub: Subscription) -> tuple[str, ...]:
        """Why `sub`'s would-be delivery breaks its disclosure policy (empty: it does not).

        Measured on the dataset's current state (`exchange.run.disclosure.assess`); an
        approval is refused with these reasons, each naming what to coarsen.
        """
        ...
