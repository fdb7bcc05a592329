"""Purposes and statutes (the catalog's legal bases), the consent register and its events,
timelines that answer at any instant, CSV import and signed receipts.
"""

from __future__ import annotations

__all__: list[str] = []
