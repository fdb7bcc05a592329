"""The optional C batch hasher (govbus/_sha256_batch.c) and how Arrow arrays reach it.

setup.py builds the extension when a C compiler and OpenSSL's headers are present. It
computes the same SHA-256 and HMAC-SHA256 bytes as hashlib, in a loop over Arrow buffers
with the GIL released. Callers read `native` at call time (None when it was not built)
and keep a pure-Python path that gives the same bytes; tests compare the two.
"""

from __future__ import annotations

from types import ModuleType

import numpy as np
import pyarrow as pa

native: ModuleType | None
try:
    from govbus import _sha256_batch as native
except ImportError:  # pragma: no cover - exercised where no C compiler was at install
    native = None

AVAILABLE = native is not None
"""True when the extension was built: same hashes, several times faster."""


def buffers(values: pa.Array) -> tuple[pa.Buffer | bytes, np.ndarray]:
    """(data, offsets) of a large_binary array, the offsets sliced to the array's own rows."""
    if values.type != pa.large_binary():
        raise TypeError(f"expected a large_binary array, got {values.type}")
    _, offsets, data = values.buffers()
    positions = np.frombuffer(offsets, dtype=np.int64)[values.offset : values.offset + len(values) + 1]
    return (data if data is not None else b""), positions
