"""SQL databases through SQLAlchemy: the incremental source, the upserting sink (Arrow
batches through ADBC on SQLite and PostgreSQL: `adbc_writer`), type mapping, the wire
helpers and table discovery.
"""

from __future__ import annotations

__all__: list[str] = []
