"""File formats and drop folders: CSV, JSON Lines, Parquet and Avro sources, local drop
folders, file sinks and the Parquet source/sink. Below `mainframe`, `rest`, `sql` and `sftp`.

Shared by the rooms above: the limits every parser keeps and their vectorized checks
(`bounds`, `json_depth`, `text_scan`), and where connectors may read and write
(`confinement.PathRules`).
"""

from __future__ import annotations

__all__: list[str] = []
