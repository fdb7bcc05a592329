"""The decision on each row (statute or valid consent), its explanation, and
minimization to the purpose's fields. Imports `register` and `protect`.
"""

from __future__ import annotations

__all__: list[str] = []
