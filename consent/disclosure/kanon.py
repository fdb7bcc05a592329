"""Equivalence classes on the quasi-identifiers: their sizes, k-anonymity by suppression, l-diversity.

Rows with equal quasi-identifiers (nulls equal to each other) form a class. Each row's
class is a dense int64 id, built column by column with Arrow's hash dictionary
encoding and counted with numpy's bincount: no per-row Python, about 60 ns a row for
six columns (bench/disclosure_bench.py).

Why suppression per batch is enough across batches: generalization is global (the same
rule, the same value in every batch), so a class of the union of batches is the union
of that class in each batch; if each batch holds only classes of at least k rows, every
class of the union has at least k rows too. A recipient that keeps every batch (the
Statistics Office's Parquet files) therefore holds a k-anonymous copy after every run,
the initial load (delivered in parts) included. The price is that a small batch (a day's
corrections) suppresses more than the union would need; `docs/privacy.md` weighs the
alternative (accumulating: releasing a row whose class the recipient already holds k of).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["Classes", "classes", "codes", "k_anonymous", "l_diverse"]

_DENSE_LIMIT = 1 << 40  # mixed-radix keys stay far below int64's range


@dataclass(frozen=True)
class Classes:
    """Each row's class id (dense, 0..count-1) and each class's size."""

    ids: np.ndarray  # int64 per row
    sizes: np.ndarray  # int64 per class

    @property
    def count(self) -> int:
        """How many classes there are."""
        return int(self.sizes.size)

    def row_sizes(self) -> np.ndarray:
        """The size of each row's class."""
        return self.sizes[self.ids]

    def uniques(self) -> int:
        """Rows alone in their class (singled out by their quasi-identifiers)."""
        return int(np.count_nonzero(self.sizes == 1))

    def smallest(self) -> int:
        """The smallest class (0 for an empty batch)."""
        return int(self.sizes.min()) if self.sizes.size else 0


def codes(column: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, int]:
    """Each value's dense code (nulls one code of their own) and how many codes there are."""
    column = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    encoded = pc.dictionary_encode(column, null_encoding="encode")
    indices = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64, copy=False)
    return indices, max(len(encoded.dictionary), 1)


def classes(table: pa.Table, columns: Sequence[str]) -> Classes:
    """The equivalence classes of `table` on `columns` (one class of every row when none)."""
    rows = table.num_rows
    if not columns or rows == 0:
        ids = np.zeros(rows, np.int64)
        return Classes(ids, np.bincount(ids, minlength=1 if rows else 0).astype(np.int64))
    key, radix = codes(table[columns[0]])
    for name in columns[1:]:
        code, width = codes(table[name])
        if radix * width > _DENSE_LIMIT:  # re-densify only when the product would grow too large
            key, radix = codes(pa.array(key))
        key = key * width + code
        radix *= width
    if radix > max(4 * rows, 1 << 16):
        key, radix = codes(pa.array(key))
    sizes = np.bincount(key, minlength=radix)
    # Keep only classes that occur, numbered densely (a cheap pass over the radix, not the rows).
    present = np.flatnonzero(sizes)
    if present.size != radix:
        dense = np.zeros(radix, np.int64)
        dense[present] = np.arange(present.size)
        key, sizes = dense[key], sizes[present]
    return Classes(key, sizes.astype(np.int64))


def k_anonymous(found: Classes, k: int) -> np.ndarray:
    """Which rows to keep so every remaining class has at least `k` rows (smaller ones go whole)."""
    return found.row_sizes() >= k


def l_diverse(found: Classes, sensitive: pa.Array | pa.ChunkedArray, level: int) -> np.ndarray:
    """Which rows lie in classes holding at least `level` distinct values of `sensitive`."""
    if found.ids.size == 0:
        return np.zeros(0, bool)
    value, width = codes(sensitive)
    pairs, _ = codes(pa.array(found.ids * (width + 1) + value))
    # One representative class id per distinct (class, value) pair; count them per class.
    first = np.zeros(int(pairs.max()) + 1, np.int64)
    first[pairs] = found.ids
    distinct = np.bincount(first, minlength=found.count)
    return distinct[found.ids] >= level
