"""The payloads of ledger entries as typed records: one owner for each shape that crosses a seam.

The ledger stores a payload as canonical JSON and hashes that text, so the shape of an
entry kind is a contract between the code that appends it (the exchange's steps) and
every reader (erasure, reports, the portal, the citizen's report, consent's purge
register). This module owns those shapes: writers build a record and append
`record.to_payload()` (or `Ledger.append_entry(conn, record)`); readers call
`Record.from_payload(payload)` and use attributes, never dict keys.

What a caller must know:

* `to_payload()` gives exactly the dict the writers built before these records existed
  (same keys, JSON lists for sequences, ints, null for None; the optional keys only
  when used), so entries written before and after hash the same way and old ledgers
  still verify. Never change a record's payload form without a new entry kind.
* `from_payload()` checks every key it needs and its JSON type, and raises
  `govbus.errors.FatalError` naming the kind, the key and (when given) the entry's
  seq — never a KeyError. A signed ledger entry of a known kind that does not have its
  kind's shape means the ledger was written by something else than this code: stop and
  investigate. Keys it does not know are ignored (a newer writer may add some), so
  `from_payload(p).to_payload()` equals `p` minus those keys.
* The records hold no raw identifier or personal value, by construction of the payloads
  (ids, counts, field names, fingerprints, Merkle roots).
"""

from __future__ import annotations

from audit.entries.catalog import CatalogChange, CatalogChangedEntry
from audit.entries.delivery import DeliveryEntry
from audit.entries.quarantine import QuarantineDiscardEntry, QuarantineReplayEntry, QuarantineViewEntry
from audit.entries.reading import EntryPayload
from audit.entries.subscriptions import (
    CursorResetEntry,
    SubscriptionDecisionEntry,
    SubscriptionLifecycleEntry,
    SubscriptionRequestEntry,
)

__all__ = [
    "CatalogChange",
    "CatalogChangedEntry",
    "CursorResetEntry",
    "DeliveryEntry",
    "EntryPayload",
    "QuarantineDiscardEntry",
    "QuarantineReplayEntry",
    "QuarantineViewEntry",
    "SubscriptionDecisionEntry",
    "SubscriptionLifecycleEntry",
    "SubscriptionRequestEntry",
]
