"""The rows of the row checks: keys, a cursor column whose values come in groups, a payload.

    id          string, the key: "k000000042"
    updated_at  timestamp(us, UTC), the cursor: rows come in groups of `group` rows that
                share one value, so equal cursor values always straddle batch boundaries
    amount      decimal(14, 2)
    note        string of `note_length` characters (the memory check makes it long)

Row `i` is the same in every call (keys never repeat across calls with disjoint
ranges), and within one call each group is stored in DESCENDING key order: a source
must order rows itself, not rely on the order they were added in. Built with Arrow
kernels, so a million rows take well under a second.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa

KEY = "id"
CURSOR = "updated_at"
SAMPLE_SCHEMA = pa.schema(
    [
        pa.field(KEY, pa.string(), nullable=False),
        pa.field(CURSOR, pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("amount", pa.decimal128(14, 2)),
        pa.field("note", pa.string()),
    ]
)
GROUP = 7
_T0 = dt.datetime(2024, 5, 1, 8, 0, 0, 250_001, tzinfo=dt.UTC)
_T0_MICROS = (_T0 - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)) // dt.timedelta(microseconds=1)


def sample_rows(start: int, count: int, *, group: int = GROUP, note_length: int = 16) -> pa.Table:
    """Rows `start` … `start + count - 1` (see the module doc)."""
    index = np.arange(start, start + count, dtype=np.int64)
    order = np.lexsort((-index, index // group))  # by group, then key descending
    index = index[order]
    digits = (index[:, None] // 10 ** np.arange(8, -1, -1)) % 10 + ord("0")
    ids = np.full((count, 10), ord("k"), dtype=np.uint8)
    ids[:, 1:] = digits
    notes = np.full((count, max(note_length, 15)), ord("x"), dtype=np.uint8)
    notes[:, :5] = np.frombuffer(b"note ", dtype=np.uint8)
    notes[:, 5:14] = digits
    notes[:, 14] = ord(" ")
    moments = pa.array(_T0_MICROS + (index // group) * 1_000_000).cast(SAMPLE_SCHEMA.field(CURSOR).type)
    cents = pa.array((index % 10_000_000).astype(np.int32))
    amounts = cents.cast(pa.decimal128(10, 0)).cast(pa.decimal128(14, 2))
    columns = [_strings(ids), moments, amounts, _strings(notes[:, :note_length])]
    return pa.Table.from_arrays(columns, schema=SAMPLE_SCHEMA)


def _strings(matrix: np.ndarray) -> pa.Array:
    """One ASCII string per row of a uint8 matrix, built from its bytes at once."""
    count, width = matrix.shape
    offsets = np.arange(0, (count + 1) * width, width, dtype=np.int32)
    data = np.ascontiguousarray(matrix).tobytes()
    return pa.StringArray.from_buffers(count, pa.py_buffer(offsets), pa.py_buffer(data))


def key_of(index: int) -> str:
    """The key of row `index`."""
    return f"k{index:09d}"
