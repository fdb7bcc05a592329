"""How deeply JSON text nests, measured with numpy before any parser sees it.

A JSON parser recurses (Python's `json`) or builds nested types (pyarrow's reader) per
level: a line nested 100,000 deep overflows the stack (a RecursionError, or a crash of
the process in native code). So the depth is measured first, on the bytes, vectorized:
brackets count only outside strings, a quote counts only when it is not escaped (an
odd run of backslashes before it). For valid JSON this is exactly the parser's depth;
for invalid JSON it is what a parser would meet before failing.

Most records nest a few levels: a line with no more opening brackets than the limit
cannot nest deeper, so only lines with more are measured exactly.
"""

from __future__ import annotations

import numpy as np

_OPEN = np.zeros(256, dtype=np.int8)
_OPEN[[ord("["), ord("{")]] = 1
_CLOSE = np.zeros(256, dtype=np.int8)
_CLOSE[[ord("]"), ord("}")]] = 1
_WINDOW = 1 << 20


def deep_lines(data: bytes, limit: int) -> np.ndarray:
    """0-based indexes of the lines of `data` ("\\n"-separated) nesting deeper than `limit`.

    Opening brackets are few per line: their positions (found at memory speed) are
    counted per line, and only a line with more than `limit` of them is measured.
    """
    raw = np.frombuffer(data, dtype=np.uint8)
    openers = np.flatnonzero((raw == 0x5B) | (raw == 0x7B))
    if openers.size <= limit:
        return np.zeros(0, dtype=np.int64)
    newlines = np.flatnonzero(raw == 0x0A)
    per_line = np.bincount(np.searchsorted(newlines, openers), minlength=newlines.size + 1)
    suspects = np.flatnonzero(per_line > limit)
    if suspects.size == 0:
        return suspects.astype(np.int64)
    starts = np.concatenate(([0], newlines + 1))
    ends = np.append(newlines, raw.size)
    deep = [int(i) for i in suspects if max_depth(data[starts[i] : ends[i]]) > limit]
    return np.array(deep, dtype=np.int64)


def max_depth(text: bytes) -> int:
    """The deepest nesting of one JSON text (a line or a whole document).

    Measured window by window (`_WINDOW` bytes), carrying the depth, whether the window
    starts inside a string and the backslashes it starts after, so memory stays small
    however long the text.
    """
    deepest = depth = 0
    inside = False
    backslashes = 0
    for start in range(0, len(text), _WINDOW):
        raw = np.frombuffer(text, dtype=np.uint8, count=min(_WINDOW, len(text) - start), offset=start)
        positions = np.arange(raw.size, dtype=np.int64)
        backslash = raw == 0x5C
        # the last position at or before i that is not a backslash (-1 - carried: none yet)
        last_plain = np.maximum.accumulate(np.where(backslash, -1, positions))
        last_plain = np.where(last_plain < 0, -1 - backslashes, last_plain)
        before = np.concatenate(([-1 - backslashes], last_plain[:-1]))
        escaped = ((positions - 1 - before) % 2) == 1  # an odd run of backslashes right before i
        quote = (raw == 0x22) & ~escaped
        quotes_before = np.cumsum(quote, dtype=np.int64) - quote
        in_string = (quotes_before + inside) % 2 == 1
        step = (_OPEN[raw].astype(np.int32) - _CLOSE[raw]) * ~in_string
        levels = depth + np.cumsum(step, dtype=np.int64)
        deepest = max(deepest, int(levels.max()))
        depth = int(levels[-1])
        inside = bool((int(quote.sum()) + inside) % 2)
        backslashes = int(raw.size - 1 - last_plain[-1])
    return deepest
