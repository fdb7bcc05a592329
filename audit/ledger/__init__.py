"""The ledger itself: signed, hash-chained entries (ledger.py), their verification (chain.py),
the RFC 6962 tree over them (tree.py), its stored tiles (tiles.py) and signed checkpoints
(checkpoints.py). The part's `__init__` exports what other parts use.
"""

from __future__ import annotations

__all__: list[str] = []
