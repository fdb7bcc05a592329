"""REST APIs: the paged source (cursor, offset, link paging), the sink, their settings
and the HTTP client they share.
"""

from __future__ import annotations

__all__: list[str] = []
