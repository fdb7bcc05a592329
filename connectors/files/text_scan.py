"""One quick pass over a text file before it is parsed: is it UTF-8, how long are its lines?

The CSV reader parses UTF-8 files straight from disk with pyarrow, which cannot be told
to turn bytes that are not UTF-8 into error rows (its invalid-row callback fails on them
and prints "Exception ignored … UnicodeDecodeError"), nor to read a line longer than its
block. So the file is looked at first, in 1 MiB chunks: ASCII chunks (the usual case)
are checked with `bytes.isascii` at memory speed, others by an incremental UTF-8
decoder; line breaks (`\\n`, `\\r\\n`, a lone `\\r`) are found with numpy. A file whose
longest line exceeds the limit is refused naming the line, before any parse.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from govbus.errors import BadInput, TransientError

_CHUNK = 1 << 20


@dataclass(frozen=True)
class TextScan:
    """What the pass found: `utf8` (every byte decodes), the longest line in bytes."""

    utf8: bool
    longest_line: int


def scan_text(path: Path, name: str, *, max_line_bytes: int, check_utf8: bool) -> TextScan:
    """Scan the file (see the module doc); `BadInput` naming file:line for a line over the limit."""
    decoder = codecs.getincrementaldecoder("utf-8")() if check_utf8 else None
    utf8 = check_utf8
    longest = current = 0  # current: bytes of the line still open at the chunk's end
    offset = 0
    try:
        with open(path, "rb") as handle:
            while chunk := handle.read(_CHUNK):
                if utf8 and decoder is not None and not (chunk.isascii() and not decoder.getstate()[0]):
                    try:
                        decoder.decode(chunk)
                    except UnicodeDecodeError:
                        utf8 = False
                raw = np.frombuffer(chunk, dtype=np.uint8)
                breaks = np.flatnonzero((raw == 0x0A) | (raw == 0x0D))
                if breaks.size:
                    first = current + int(breaks[0])  # the line open before this chunk
                    if first > max_line_bytes:
                        raise _overlong(path, name, offset - current, max_line_bytes)
                    inner = np.diff(breaks) - 1
                    over = np.flatnonzero(inner > max_line_bytes)
                    if over.size:
                        raise _overlong(path, name, offset + int(breaks[over[0]]) + 1, max_line_bytes)
                    longest = max(longest, first, int(inner.max(initial=0)))
                    current = raw.size - int(breaks[-1]) - 1
                else:
                    current += raw.size
                if current > max_line_bytes:
                    raise _overlong(path, name, offset + raw.size - current, max_line_bytes)
                offset += raw.size
            if decoder is not None and utf8:
                try:
                    decoder.decode(b"", final=True)
                except UnicodeDecodeError:
                    utf8 = False
    except OSError as exc:
        raise TransientError(f"cannot read the file ({type(exc).__name__})", where=name) from None
    return TextScan(utf8=utf8, longest_line=max(longest, current))


def _overlong(path: Path, name: str, offset: int, limit: int) -> BadInput:
    """The error for the line starting at byte `offset` (its physical line number counted)."""
    line = 1 + _breaks_before(path, offset)
    return BadInput(
        f"a line is longer than max_line_bytes ({limit} bytes)",
        where=f"{name}:{line}",
        hint="raise max_line_bytes in the source's settings, or ask the sender to fix the file",
    )


def _breaks_before(path: Path, offset: int) -> int:
    """Line breaks (`\\n`, `\\r\\n`, a lone `\\r`) in the file's first `offset` bytes."""
    count = 0
    previous_cr = False
    with open(path, "rb") as handle:
        remaining = offset
        while remaining > 0 and (chunk := handle.read(min(_CHUNK, remaining))):
            remaining -= len(chunk)
            count += chunk.count(b"\n") + chunk.count(b"\r") - chunk.count(b"\r\n")
            if previous_cr and chunk.startswith(b"\n"):
                count -= 1
            previous_cr = chunk.endswith(b"\r")
    return count
