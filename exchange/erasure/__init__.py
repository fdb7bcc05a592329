"""Erasure reaching recipients: erase a subject or a consent's data, purge what an ended
statute allowed, deliver signed purge instructions to every sink that received it; and
erasure and retention (`data_life`) of the bus's own copies (`holdings`); purges at
recipients when a consent's own `data_life` has elapsed (`consent_retention`).

What a caller must know: it takes the composed `Bus`; every purge is a ledger entry.
"""

from __future__ import annotations

from exchange.erasure import consent_retention, delivery, holdings, purges
from exchange.erasure.consent_retention import ConsentRetention, purge_lapsed_data_life
from exchange.erasure.delivery import PurgeOutcome
from exchange.erasure.holdings import Removal, enforce_retention, erase_held
from exchange.erasure.purges import PurgeRun, erase_consent, erase_subject

__all__ = [
    "ConsentRetention",
    "PurgeOutcome",
    "PurgeRun",
    "Removal",
    "consent_retention",
    "delivery",
    "enforce_retention",
    "erase_consent",
    "erase_held",
    "erase_subject",
    "holdings",
    "purge_lapsed_data_life",
    "purges",
]
