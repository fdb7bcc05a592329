"""The sample deployment: four fictional agencies' systems, seeded deterministically.

Only the `govbus demo` command (and tests) import this room; nothing under `run/`,
`orchestration/` or the portal does.
"""

from __future__ import annotations

__all__: list[str] = []
