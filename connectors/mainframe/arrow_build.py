"""Arrow columns built straight from numpy buffers: validity bitmaps, int64, decimal128
(from digit matrices or 128-bit words) and UTF-8 text through a code page's tables.

No value goes through a Python object on the way, except the unscaled integers of a
binary field with P scaling that needs more than 18 digits (rare; see `from_words`).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from connectors.mainframe.code_pages import CodePage, expand
from connectors.mainframe.decode_decimal import row_max
from govbus.errors import BadConfiguration


def validity(null: np.ndarray) -> pa.Buffer | None:
    """Arrow's validity bitmap for `null` (None when nothing is null)."""
    if not null.any():
        return None
    return pa.py_buffer(np.packbits(~null, bitorder="little"))


def from_int64(value: np.ndarray, null: np.ndarray, arrow_type: pa.DataType) -> pa.Array:
    """int64 as itself, or as the unscaled value of a decimal128 (two little-endian words)."""
    n = len(value)
    if arrow_type == pa.int64():
        return pa.Array.from_buffers(
            arrow_type, n, [validity(null), pa.py_buffer(np.ascontiguousarray(value))]
        )
    words = np.empty((n, 2), dtype=np.int64)
    words[:, 0] = value
    words[:, 1] = value >> 63
    return pa.Array.from_buffers(arrow_type, n, [validity(null), pa.py_buffer(words)])


def from_words(words: np.ndarray, null: np.ndarray, arrow_type: pa.DataType, scaling: int = 0) -> pa.Array:
    """128-bit integers (n × 2 int64, low word first) as decimal128 — or int64 when the type
    is int64 and they fit — multiplied by 10**scaling (P positions)."""
    n = len(words)
    if scaling:
        values = [(int(hi) << 64 | int(lo) & (2**64 - 1)) * 10**scaling for lo, hi in words.tolist()]
        words = np.array([[v & (2**64 - 1), (v >> 64) & (2**64 - 1)] for v in values], dtype=np.uint64)
        words = words.reshape(n, 2).view(np.int64)
    if arrow_type == pa.int64():
        return from_int64(np.ascontiguousarray(words[:, 0]), null, arrow_type)
    return pa.Array.from_buffers(arrow_type, n, [validity(null), pa.py_buffer(np.ascontiguousarray(words))])


def decimal_from_digits(
    digits: np.ndarray, negative: np.ndarray, null: np.ndarray, arrow_type: pa.DataType
) -> pa.Array:
    """Decimals of more than 18 digits: "-123.45"-style text built in numpy, cast by Arrow."""
    n, count = digits.shape
    scale = arrow_type.scale
    if count < scale:  # P positions left of the digits: leading zeros up to the scale
        digits = np.concatenate([np.zeros((n, scale - count), dtype=np.uint8), digits], axis=1)
        count = scale
    point = count - scale
    width = count + 1 + (1 if scale else 0)
    text = np.empty((n, width), dtype=np.uint8)
    text[:, 0] = np.where(negative, ord("-"), ord("+"))
    text[:, 1 : 1 + point] = digits[:, :point] + ord("0")
    if scale:
        text[:, 1 + point] = ord(".")
        text[:, 2 + point :] = digits[:, point:] + ord("0")
    fixed = pa.Array.from_buffers(pa.binary(width), n, [validity(null), pa.py_buffer(text)])
    return fixed.cast(pa.binary()).cast(pa.string()).cast(arrow_type)


def text_array(
    cols: np.ndarray, page: CodePage, trim: str, *, null: np.ndarray, empty: np.ndarray
) -> pa.Array:
    """UTF-8 strings of each row's characters, spaces and NULs trimmed per `trim` (right,
    both, left, none); `null` rows are null, `empty` rows "" ."""
    n, width = cols.shape
    index_type = np.uint8 if width < 255 else np.uint32
    positions = np.arange(1, width + 1, dtype=index_type)
    kept = ((cols | np.uint8(page.space)) != page.space).view(np.uint8)  # not space nor NUL
    keep = np.full(n, width, dtype=index_type) if trim in ("left", "none") else row_max(kept * positions)
    start = np.zeros(n, dtype=index_type)
    if trim in ("left", "both"):
        first = row_max(kept * positions[::-1])  # width - index of the first kept byte, 0 if none
        start = np.where(first > 0, width - first, keep).astype(index_type)
    drop = null | empty
    if drop.any():
        keep = np.where(drop, 0, keep).astype(index_type)
        start = np.where(drop, 0, start).astype(index_type)
    columns = np.arange(width, dtype=index_type)
    mask = columns < keep[:, None]
    if trim in ("left", "both"):
        mask &= columns >= start[:, None]
    raw = cols[mask]
    sizes = keep.astype(np.int64) - start
    data = np.frombuffer(raw.tobytes().translate(page.translate), dtype=np.uint8)
    row_ends = np.cumsum(sizes, dtype=np.int64)
    zeros = data == 0
    if zeros.any() and (page.utf8_length[raw[zeros]] > 1).any():  # some character is not ASCII
        data, ends = expand(raw, page.utf8, page.utf8_length)
        row_ends = np.concatenate(([0], ends))[row_ends]
    if n and row_ends[-1] >= 2**31:
        raise BadConfiguration("a batch holds more than 2 GiB of text", where="batch_size", hint="lower it")
    offsets = np.zeros(n + 1, dtype=np.int32)
    offsets[1:] = row_ends
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(data), validity(null))
