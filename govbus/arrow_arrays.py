"""One Arrow array from an array or a chunked column: the shape the vectorized helpers take.

Kernel code: any part may use it (the one definition of what four modules each wrote).
"""

from __future__ import annotations

import pyarrow as pa

__all__ = ["one_array"]


def one_array(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """`values` as one contiguous array (a chunked column combined; no chunks: empty, same type)."""
    if isinstance(values, pa.ChunkedArray):
        return values.combine_chunks() if values.num_chunks else pa.array([], values.type)
    return values
