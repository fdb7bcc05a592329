"""Erasure reaching recipients: erase a subject or a consent's data, purge what an ended
statute allowed, deliver signed purge instructions to every sink that received it.

What a caller must know: it takes the composed `Bus`; every purge is a ledger entry.
"""

from __future__ import annotations

from exchange.erasure import delivery, purges
from exchange.erasure.delivery import PurgeOutcome
from exchange.erasure.purges import PurgeRun, erase_consent, erase_subject

__all__ = [
    "PurgeOutcome",
    "PurgeRun",
    "delivery",
    "erase_consent",
    "erase_subject",
    "purges",
]
