"""Subscriptions as a lifecycle: requests, signed decisions, state changes (see docs/subscribing.md).

What a caller must know:

* An agency asks for a subscription (`requests.submit`); it is checked at once by the
  catalog's own rules and refused with every reason, or stored as `requested`.
* The dataset owner decides; requests for sensitive or special-category fields also need
  the data-protection officer (`decisions.decide`). Each decision is a signed document
  recorded in the ledger; once every required role approved, the subscription is
  `approved` and joins the catalog's subscriptions when the bus opens (`merge`).
* The deliver step activates a subscription at its first delivery (exchange.run); from
  then on `lifecycle` suspends, resumes, ends and backfills it, each a ledger entry.
* This room imports only `catalog` and `state` of exchange/.
"""

from __future__ import annotations

from exchange.subscriptions.context import SubscriptionContext
from exchange.subscriptions.lifecycle import ACTIVE, ENDED, SUSPENDED, Lifecycle

__all__ = ["ACTIVE", "ENDED", "SUSPENDED", "Lifecycle", "SubscriptionContext"]
