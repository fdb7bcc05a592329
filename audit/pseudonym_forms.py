"""An audit pseudonym's two forms: 64 hex digits, or its 32 raw bytes.

An audit pseudonym is HMAC-SHA256 of a subject id under the audit key. Where a person or
another system reads it (the ledger, the consent register, the API, the portal) it is 64
lower-case hex digits. Where the bus keeps one per row, it keeps the 32 raw bytes
(`pa.binary(32)`): the staged `_subject_ref` column (ADR 0008) and the access index. Raw,
the column is half the size, the stage skips the hex encoding, and the subject sets and
the consent lookups skip decoding it again (`make bench`).

What a caller must know:

* Both forms name the same subject: `as_raw` and `as_hex` convert a column either way
  without a row loop, nulls staying null. Code that takes refs should take either form
  and compare like with like (convert the smaller side).
* `as_raw(strict=True)` raises FatalError on a string that is not 64 hex digits (a
  damaged staged column); `strict=False` makes such a value null, for hand-written refs
  that can never match a real pseudonym.
"""

from __future__ import annotations

import binascii

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from govbus.arrow_arrays import one_array
from govbus.errors import FatalError

__all__ = ["KEY_BYTES", "RAW_TYPE", "as_hex", "as_raw", "is_raw", "raw_matrix"]

KEY_BYTES = 32
RAW_TYPE = pa.binary(KEY_BYTES)
_HEX = 2 * KEY_BYTES


def is_raw(refs: pa.Array | pa.ChunkedArray) -> bool:
    """Are these refs in the raw form (`pa.binary(32)`)?"""
    return refs.type == RAW_TYPE


def _damaged() -> FatalError:
    return FatalError(
        "an audit pseudonym is not 64 hex digits",
        where="subject refs",
        hint="the staged _subject_ref column is damaged: stage the dataset again",
    )


def raw_matrix(refs: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Non-null refs (either form) as an (n, 32) uint8 array, in one C pass; FatalError if
    a hex ref is malformed."""
    values = one_array(refs)
    count = len(values)
    if not count:
        return np.empty((0, KEY_BYTES), np.uint8)
    if values.null_count:
        raise ValueError("raw_matrix takes non-null refs")
    if is_raw(values):
        data = values.buffers()[1]
        return np.frombuffer(data, np.uint8, count * KEY_BYTES, values.offset * KEY_BYTES).reshape(
            count, KEY_BYTES
        )
    strings = values.cast(pa.string())
    offsets = np.frombuffer(strings.buffers()[1], np.int32, count + 1, strings.offset * 4)
    if not (offsets[1:] - offsets[:-1] == _HEX).all():
        raise _damaged()
    text = memoryview(strings.buffers()[2])[offsets[0] : offsets[0] + _HEX * count]
    try:
        raw = binascii.unhexlify(text)  # one C pass over the refs back to back (5x numpy's nibbles)
    except binascii.Error:
        raise _damaged() from None
    return np.frombuffer(raw, np.uint8).reshape(count, KEY_BYTES)


def as_raw(refs: pa.Array | pa.ChunkedArray, *, strict: bool = True) -> pa.Array:
    """The refs as `pa.binary(32)` (nulls stay null; see the module doc for `strict`)."""
    values = one_array(refs)
    if is_raw(values):
        return values
    if not strict:
        strings = values.cast(pa.string())
        good = pc.and_(
            pc.equal(pc.binary_length(strings), _HEX), pc.match_substring_regex(strings, "^[0-9a-f]*$")
        )
        values = pc.if_else(good, strings, pa.scalar(None, pa.string()))
    valid = values.is_valid() if values.null_count else None
    if valid is not None:
        values = pc.fill_null(values.cast(pa.string()), "0" * _HEX)  # decoded, then masked
    keys = raw_matrix(values)
    dense = pa.Array.from_buffers(RAW_TYPE, len(keys), [None, pa.py_buffer(keys.tobytes())])
    return dense if valid is None else pc.if_else(valid, dense, pa.scalar(None, RAW_TYPE))


def as_hex(refs: pa.Array | pa.ChunkedArray) -> pa.Array:
    """The refs as 64 lower-case hex digits (a string array; nulls stay null)."""
    values = one_array(refs)
    if not is_raw(values):
        return values.cast(pa.string())
    count = len(values)
    data = values.buffers()[1]
    start = values.offset * KEY_BYTES
    block = b"" if data is None else memoryview(data)[start : start + count * KEY_BYTES]
    text = binascii.hexlify(block)
    kind, width = (pa.string(), np.int32) if len(text) < 2**31 else (pa.large_string(), np.int64)
    offsets = np.arange(0, _HEX * (count + 1), _HEX, dtype=width)
    hexed = pa.Array.from_buffers(kind, count, [None, pa.py_buffer(offsets), pa.py_buffer(text)])
    if values.null_count:
        return pc.if_else(values.is_valid(), hexed, pa.scalar(None, kind))
    return hexed
