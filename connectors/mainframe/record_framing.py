"""Finding the records of a chunk of file bytes: RDWs in every convention, block
descriptors (VB), text lines, and records as long as their OCCURS DEPENDING ON counts say.

Record descriptor words (RDW): 4 bytes before each record, a 16-bit length in one half and
zeros in the other. IBM's convention: big-endian, in the first half, counting the RDW
itself. `RdwConvention` describes others: little-endian, a length that excludes the
header, and an adjustment added to the length read (the length is looked for in the
first half, or in the second when the first is zero, as some transfers swap them). A
length of zero, a length in both halves, or a record shorter than nothing is a bad RDW.
Block descriptor words (BDW, RECFM=VB): the same shape before each block of RDW records
(bit 0x80 of the first byte set: a 31-bit extended block length).

How descriptors are followed: each record's position depends on the previous one's
length, so the walk is sequential. The record size at every byte position of a window of
the chunk is computed at once with numpy; the walk then only hops from size to size
through a memoryview, and when a record has the same size as the previous one, the run of
equal sizes that follows is checked with numpy in growing steps and taken in one go.
Records sized by OCCURS DEPENDING ON are framed the same way, their sizes computed by
decoding the counters at every position of the window (`connectors.mainframe.record_odo`).

A problem that breaks the framing (a bad descriptor, a bad count, a record running past
the end of the file, a fragment too short for a descriptor) ends the walk: the rest of
the file becomes one rejected record at that position.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

RDW_LENGTH = 4
MAX_RDW_RECORD = 0xFFFF

Sizes = Callable[[np.ndarray, np.ndarray], np.ndarray]
"""sizes(chunk, positions): the whole size (descriptor included) of a record starting at each
of `positions` (each with at least `need` bytes of the chunk after it), or 0 where no
record can start (a bad descriptor or count)."""


@dataclass(frozen=True)
class RdwConvention:
    """How a descriptor word holds its length (IBM's by default)."""

    big_endian: bool = True
    includes_header: bool = True
    adjustment: int = 0


IBM = RdwConvention()


@dataclass(frozen=True)
class Framed:
    """Records found in a chunk: starts (of the descriptor, relative to the chunk), data
    lengths, and the descriptor length before each record's data (`header`).

    `consumed` is how many chunk bytes the records (and a `problem` record) take; the
    next chunk starts there. `problem` is (start relative to the chunk, reason) of a
    record that breaks the framing; it is the last record and runs to the end of the
    file. `block_end` (VB only) is where the block the next record belongs to ends, when
    the walk stopped inside a block.
    """

    starts: np.ndarray
    lengths: np.ndarray
    consumed: int
    problem: tuple[int, str] | None = None
    header: int = RDW_LENGTH
    block_end: int | None = None


def rdw_sizes(convention: RdwConvention) -> Sizes:
    """The `Sizes` of records behind RDWs of `convention`."""
    shift_first, shift_second = (8, 0) if convention.big_endian else (0, 8)
    subtract = 0 if convention.includes_header else RDW_LENGTH

    def sizes(chunk: np.ndarray, positions: np.ndarray) -> np.ndarray:
        b0, b1, b2, b3 = (chunk[positions + k].astype(np.int64) for k in range(4))
        first = (b0 << shift_first) | (b1 << shift_second)
        second = (b2 << shift_first) | (b3 << shift_second)
        length = np.where(second == 0, first, np.where(first == 0, second, 0))
        total = length + subtract + convention.adjustment
        return np.where((length > 0) & (total >= RDW_LENGTH), total, 0)

    return sizes


def frame_rdw(chunk: np.ndarray, limit: int, at_eof: bool, convention: RdwConvention = IBM) -> Framed:
    """Frame at most `limit` RDW records (a problem record included) from the chunk's start.

    `at_eof`: the chunk ends at the end of the file (an incomplete record at its end is
    then a problem, not a record to finish in the next chunk).
    """
    return walk(chunk, 0, len(chunk), limit, at_eof, rdw_sizes(convention), RDW_LENGTH, "RDW", rdw=convention)


def frame_vb(
    chunk: np.ndarray,
    limit: int,
    at_eof: bool,
    rdw: RdwConvention = IBM,
    bdw: RdwConvention = IBM,
    block_end: int | None = None,
) -> Framed:
    """Frame RDW records inside BDW blocks; `block_end`: the chunk starts inside a block
    that ends there (a resumed read), not at a BDW."""
    starts: list[np.ndarray] = []
    lengths: list[np.ndarray] = []
    position, count, problem = 0, 0, None
    bdw_sizes = _bdw_sizes(bdw)
    while count < limit and position < len(chunk):
        if block_end is None:
            if position + RDW_LENGTH > len(chunk):
                if at_eof:
                    problem = (position, f"a {len(chunk) - position}-byte fragment is too short for a BDW")
                break
            size = int(bdw_sizes(chunk, np.array([position]))[0])
            if size <= RDW_LENGTH:
                problem = (
                    position,
                    "bad BDW (a zero length, a length in both halves, or no room for a record)",
                )
                break
            if position + size > len(chunk):
                if at_eof:
                    problem = (
                        position,
                        f"truncated block: it needs {size} bytes, {len(chunk) - position} remain",
                    )
                break
            block_end, position = position + size, position + RDW_LENGTH
        if block_end > len(chunk):  # resumed inside a block the chunk does not hold whole
            if at_eof:
                problem = (position, "truncated block: the file ends inside it")
            break
        framed = walk(
            chunk, position, block_end, limit - count, True, rdw_sizes(rdw), RDW_LENGTH, "RDW", rdw=rdw
        )
        starts.append(framed.starts)
        lengths.append(framed.lengths)
        count += len(framed.starts) + (framed.problem is not None)
        if framed.problem is not None:
            problem = framed.problem
            break
        position = framed.consumed
        if position >= block_end:
            block_end = None
    found = np.concatenate(starts) if starts else np.zeros(0, dtype=np.int64)
    sizes = np.concatenate(lengths) if lengths else np.zeros(0, dtype=np.int64)
    consumed = len(chunk) if problem is not None else position
    return Framed(found, sizes, consumed, problem, RDW_LENGTH, block_end if problem is None else None)


def frame_text(chunk: np.ndarray, limit: int, at_eof: bool, newline: int, carriage: int) -> Framed:
    """Lines ended by `newline` (a `carriage` return before it is dropped); a last line
    without its newline is a record only at the end of the file."""
    ends = np.flatnonzero(chunk == newline)[:limit]
    starts = np.concatenate(([0], ends[:-1] + 1)).astype(np.int64) if len(ends) else np.zeros(0, np.int64)
    consumed = int(ends[-1]) + 1 if len(ends) else 0
    if at_eof and len(ends) < limit and consumed < len(chunk):
        starts, ends = np.append(starts, consumed), np.append(ends, len(chunk))
        consumed = len(chunk)
    lengths = ends - starts
    if len(lengths):
        cr = np.zeros(len(lengths), dtype=bool)
        has = lengths > 0
        cr[has] = chunk[ends[has] - 1] == carriage
        lengths = lengths - cr
    return Framed(starts, lengths.astype(np.int64), consumed, None, 0)


def walk(
    chunk: np.ndarray,
    start: int,
    stop: int,
    limit: int,
    at_eof: bool,
    sizes: Sizes,
    header: int,
    word: str,
    need: int | None = None,
    window: int = 4096,
    rdw: RdwConvention | None = None,
    scalar: Callable[[int], int] | None = None,
) -> Framed:
    """Follow record sizes from `start` to `stop` (at most `limit` records, a problem
    included): `header` bytes precede each record's data, `need` bytes (default: the
    header) must be there before its size is known; `word` names the descriptor. With
    `rdw`, sizes are read from the descriptor bytes in the loop itself (cheap); with
    `scalar`, by that function; otherwise they are computed `window` positions at a time
    (for short records whose size costs a decode, as OCCURS counts do). Three equal sizes
    in a row start a check for a run of them with numpy."""
    need = header if need is None else need
    found: list[tuple[np.ndarray, np.ndarray]] = []
    singles: list[int] = []
    single_sizes: list[int] = []
    position, count, previous, repeats, problem = start, 0, -1, 0, None
    window_start = window_end = start
    table = np.zeros(0, dtype=np.int64)
    view: memoryview = memoryview(table)
    data = memoryview(chunk)
    high, low = (0, 1) if rdw is None or rdw.big_endian else (1, 0)
    extra = 0 if rdw is None else (0 if rdw.includes_header else RDW_LENGTH) + rdw.adjustment
    while count < limit:
        if position + need > stop:
            if at_eof and position < stop:
                what = f"an {word}" if word in ("RDW", "BDW") else "a record"
                problem = (position, f"a {stop - position}-byte fragment is too short for {what}")
            break
        if rdw is not None:  # inline: this loop is the hot path of variable-length files
            first = data[position + high] << 8 | data[position + low]
            second = data[position + 2 + high] << 8 | data[position + 2 + low]
            length = first if second == 0 else second if first == 0 else 0
            size = length + extra if length > 0 and length + extra >= RDW_LENGTH else 0
        elif scalar is not None:
            size = scalar(position)
        else:
            if not window_start <= position < window_end:
                window_start, window_end = position, min(position + window, stop - need + 1)
                table = sizes(chunk, np.arange(window_start, window_end, dtype=np.int64))
                view = memoryview(table)
            size = view[position - window_start]
        if size < 0:  # the chunk ends before the record's size is known
            if at_eof:
                problem = (position, f"a {stop - position}-byte fragment is too short for a record")
            break
        if size == 0:
            problem = (position, _bad(word))
            break
        if position + size > stop:
            if at_eof:
                problem = (position, f"truncated record: it needs {size} bytes, {stop - position} remain")
            break
        repeats = repeats + 1 if size == previous else 0
        if repeats >= 2:
            fits = min(limit - count, (stop - position - need) // size + 1, (stop - position) // size)
            in_window = table[position - window_start :: size] if rdw is None and scalar is None else None
            run = _run(chunk, sizes, position, size, fits, in_window)
            found.append((np.array(singles, dtype=np.int64), np.array(single_sizes, dtype=np.int64)))
            singles, single_sizes = [], []
            found.append(
                (np.arange(position, position + run * size, size, dtype=np.int64), np.full(run, size))
            )
            position += run * size
            count += run
            repeats = 0
            continue
        singles.append(position)
        single_sizes.append(size)
        position += size
        previous = size
        count += 1
    if problem is not None and count >= limit:
        problem = None  # the next chunk starts at the problem and reports it
    found.append((np.array(singles, dtype=np.int64), np.array(single_sizes, dtype=np.int64)))
    consumed = stop if problem is not None else position
    all_sizes = np.concatenate([f[1] for f in found]).astype(np.int64)
    return Framed(np.concatenate([f[0] for f in found]), all_sizes - header, consumed, problem, header)


def _bad(word: str) -> str:
    if word == "RDW":
        return "bad RDW (a zero length, a length in both halves, or shorter than the RDW)"
    return f"bad {word}"


def _run(
    chunk: np.ndarray, sizes: Sizes, position: int, size: int, limit: int, known: np.ndarray | None = None
) -> int:
    """How many records from `position` on (at most `limit`, >= 1) have `size`: first in the
    sizes already `known` at those positions, then computed with numpy in growing steps."""
    if known is not None and len(known):
        same = known[:limit] == size
        if not same.all():
            return max(int(same.argmin()), 1)
        if len(same) >= limit:
            return limit
        total = len(same)
    else:
        total = 0
    step = 64
    while total < limit:
        count = min(step, limit - total)
        same = sizes(chunk, position + size * (total + np.arange(count, dtype=np.int64))) == size
        if not same.all():
            return max(total + int(same.argmin()), 1)
        total += count
        step *= 4
    return max(total, 1)


def _bdw_sizes(convention: RdwConvention) -> Sizes:
    plain = rdw_sizes(convention)

    def sizes(chunk: np.ndarray, positions: np.ndarray) -> np.ndarray:
        result = plain(chunk, positions)
        extended = chunk[positions] >= 0x80
        if convention.big_endian and extended.any():  # a 31-bit extended block length
            value = np.zeros(len(positions), dtype=np.int64)
            for k in range(4):
                value = (value << 8) | chunk[positions + k]
            result = np.where(extended, value & 0x7FFFFFFF, result)
        return result

    return sizes


def gather(chunk: np.ndarray, starts: np.ndarray, width: int, fill: int = 0) -> np.ndarray:
    """`width` bytes from each of `starts` as a (records × width) matrix; bytes past the
    chunk read as `fill`.

    Evenly spaced starts at least `width` apart give a strided view of the chunk (no
    copy); otherwise the bytes are gathered.
    """
    n = len(starts)
    if n == 0:
        return np.zeros((0, width), dtype=np.uint8)
    first = int(starts[0])
    step = int(starts[1] - starts[0]) if n > 1 else width
    if step >= width and first + (n - 1) * step + width <= len(chunk):
        if n == 1 or (np.diff(starts) == step).all():
            return np.lib.stride_tricks.as_strided(chunk[first:], shape=(n, width), strides=(step, 1))
    index = starts[:, None] + np.arange(width, dtype=np.int64)[None, :]
    padded = np.concatenate([chunk, np.full(width, fill, dtype=np.uint8)])
    return padded[np.minimum(index, len(chunk))]
