"""SQL databases through SQLAlchemy: the incremental source, the upserting sink (COPY
on PostgreSQL), type mapping, the wire helpers and table discovery.
"""

from __future__ import annotations

__all__: list[str] = []
