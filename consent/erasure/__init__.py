"""Erasure reaching recipients: the purge register (what must be deleted where) and the
signed purge instructions sent to recipients. The top room of consent/.
"""

from __future__ import annotations

__all__: list[str] = []
