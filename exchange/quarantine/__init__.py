"""Rows that broke a rule: where they are kept with every reason, how operators see them
(masked by classification), and the validation reports of each stage.

What a caller must know: functions take a `QuarantineContext` (catalog, state database,
ledger, locks) — the bus satisfies it. Revealing or discarding rows is logged in the
ledger. Below this room: `catalog` and `state` only.
"""

from __future__ import annotations

from exchange.quarantine import reports, store, view
from exchange.quarantine.context import QuarantineContext
from exchange.quarantine.rows import jsonable_rows
from exchange.quarantine.view import QuarantinedRow, find

__all__ = [
    "QuarantineContext",
    "QuarantinedRow",
    "find",
    "jsonable_rows",
    "reports",
    "store",
    "view",
]
