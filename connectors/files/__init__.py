"""File formats and drop folders: CSV, JSON Lines, Parquet and Avro sources, local drop
folders, file sinks and the Parquet source/sink. Below `mainframe`, `rest`, `sql` and `sftp`.
"""

from __future__ import annotations

__all__: list[str] = []
