"""The file format of what the bus stages: Arrow IPC files, and Parquet from before (ADR 0009).

Why Arrow IPC. A staged segment is written once by the stage and read back by every
delivery (and by the commit's fold), always by this code, never by people: it is an
intermediate, as a shuffle file is. As Parquet (LZ4, no dictionary, no statistics) a
segment of 100,000 returns took 22 ms of CPU to encode and 16 ms to decode; as an
uncompressed Arrow IPC file it takes 6 ms to write and 3 ms to read, since the file is
the columns' own buffers. On the stage's write thread and each delivery's reader that
was the largest single cost left (`bench/exchange_bench.py`, `docs/performance.md`).

What a caller must know:

* The format follows the name: `.arrow` is an Arrow IPC file (the "Feather v2" format:
  `pyarrow.feather.read_table`, `pyarrow.ipc.open_file`, DuckDB and Polars read it),
  anything else is read as Parquet, as segments and snapshot parts written before this
  change are. Nothing is migrated; a rewrite (erasure, a snapshot fold) keeps the name's
  format or writes a new `.arrow` file.
* `compression`: None (uncompressed: about twice the bytes of the Parquet it replaces,
  1.5 GB per 10 M returns until the commit folds them) or "zstd"/"lz4", Arrow's
  per-buffer compression. The staging area uses None on a local disk and "zstd" on a
  remote store, where bytes cost more than CPU (zstd is smaller than the Parquet was).
* Field metadata (each column's `avro.type`) and nullability round-trip in both formats.
"""

from __future__ import annotations

from typing import IO, Any

import pyarrow as pa
import pyarrow.feather as feather
import pyarrow.parquet as pq

__all__ = ["IPC_SUFFIX", "PARQUET_SUFFIX", "count_rows", "is_ipc", "read_staged", "suffix_of", "write_staged"]

IPC_SUFFIX = ".arrow"
PARQUET_SUFFIX = ".parquet"

# Parquet as staged before ADR 0009 (still written for a `.parquet` name): LZ4, no
# dictionary pages and no statistics (nothing prunes staged files).
_PARQUET: dict[str, Any] = {"compression": "lz4", "use_dictionary": False, "write_statistics": False}

Source = str | IO[bytes]


def is_ipc(name: str) -> bool:
    """Whether the staged file `name` is an Arrow IPC file (by its name, see the module doc)."""
    return name.endswith(IPC_SUFFIX)


def suffix_of(name: str) -> str:
    """The staged file's suffix (its format): `.arrow` or `.parquet`."""
    return IPC_SUFFIX if is_ipc(name) else PARQUET_SUFFIX


def write_staged(sink: Source, name: str, table: pa.Table, compression: str | None) -> None:
    """Write `table` to `sink` (a path or an open binary file) in the format `name` says."""
    if not is_ipc(name):
        pq.write_table(table, sink, **_PARQUET)
        return
    options = pa.ipc.IpcWriteOptions(compression=compression)
    with pa.ipc.new_file(sink, table.schema, options=options) as writer:
        writer.write_table(table)


def read_staged(source: Source, name: str, columns: list[str] | None = None) -> pa.Table:
    """Read the staged file (only `columns`, when given).

    Parquet through `pq.ParquetFile`, not `pq.read_table`: the latter builds a dataset,
    whose first use in a process imports and sets up `pyarrow.dataset` (about 0.25 s).
    """
    if is_ipc(name):
        return feather.read_table(source, columns=columns, memory_map=False)
    return pq.ParquetFile(source).read(columns=columns)


def count_rows(source: Source, name: str) -> int:
    """Rows in the staged file, from its footer and batch headers (no column is decoded)."""
    if is_ipc(name):
        with pa.ipc.open_file(source) as reader:
            return int(reader.count_rows())
    return int(pq.ParquetFile(source).metadata.num_rows)
