"""Physical line numbers for CSV records, from pyarrow's record numbers.

pyarrow numbers records (1 = the first line of the file, header included) and reports
those numbers only for the records it could not read. A record whose quoted values hold
line breaks spans several physical lines, so the physical line of record `r` is `r` plus
the line breaks inside every record before it. `LineCounter` keeps that running count
block by block: the good rows of a block fill the record numbers its bad records leave.

Line breaks are `\\n`, `\\r\\n` or a lone `\\r`. Finding them is vectorized: each column's
value bytes are searched at once (memchr speed) and only a column that holds one is
counted row by row with Arrow kernels.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

Invalid = tuple[int, int, int, str | None]
"""A record pyarrow could not read: (record number, fields expected, fields found, text);
text None marks a blank line (skipped silently, but it still holds a record number)."""


def breaks_in(text: str) -> int:
    """Line breaks inside `text`."""
    return text.count("\n") + text.count("\r") - text.count("\r\n")


def extra_lines(table: pa.Table) -> np.ndarray:
    """Per row, the line breaks inside its values (all zero for ordinary files)."""
    extras = np.zeros(table.num_rows, dtype=np.int64)
    for column in table.columns:
        if not (pa.types.is_string(column.type) and _holds_break(column)):
            continue
        counts = [
            pc.count_substring(column, "\n"),
            pc.count_substring(column, "\r"),
            pc.count_substring(column, "\r\n"),
        ]
        arrays = [pc.fill_null(count, 0).to_numpy() for count in counts]
        extras += arrays[0] + arrays[1] - arrays[2]
    return extras


def _holds_break(column: pa.ChunkedArray) -> bool:
    for chunk in column.chunks:
        if len(chunk) == 0:
            continue
        offsets = np.frombuffer(chunk.buffers()[1], dtype=np.int32)
        low, high = int(offsets[chunk.offset]), int(offsets[chunk.offset + len(chunk)])
        data = chunk.buffers()[2]
        if data is None or high == low:
            continue
        values = data.slice(low, high - low).to_pybytes()
        if values.find(b"\n") >= 0 or values.find(b"\r") >= 0:
            return True
    return False


class LineCounter:
    """Record numbers → physical lines, one parsed block after the other."""

    def __init__(self, first_record: int) -> None:
        self.next_record = first_record
        self.breaks_before = 0  # line breaks inside all records before `next_record`

    def claim(self, invalid: list[Invalid], good: int, *, final: bool = False) -> list[Invalid]:
        """Take out of `invalid` the records that belong to a block of `good` good rows
        (pyarrow may report a few of the next block's early: those stay)."""
        invalid.sort(key=lambda item: item[0])
        taken = len(invalid) if final else 0
        while taken < len(invalid) and invalid[taken][0] <= self.next_record + good + taken:
            taken += 1
        claimed = invalid[:taken]
        del invalid[:taken]
        return claimed

    def advance(self, good: int, extras: np.ndarray, invalid: list[Invalid]) -> tuple[list[int], np.ndarray]:
        """Physical lines of the block's bad records and of its good rows; moves past it."""
        total = good + len(invalid)
        every = np.arange(self.next_record, self.next_record + total, dtype=np.int64)
        if not invalid and not extras.any():  # the usual block: one line per record
            self.next_record += total
            return [], every + self.breaks_before
        numbers = np.array([item[0] for item in invalid], dtype=np.int64)
        bad_breaks = np.array([breaks_in(item[3] or "") for item in invalid], dtype=np.int64)
        is_bad = np.isin(every, numbers)
        if int(is_bad.sum()) != len(numbers):  # numbering out of step: report pyarrow's numbers
            self.next_record += total
            return numbers.tolist(), every[:good] + self.breaks_before
        breaks = np.zeros(total, dtype=np.int64)
        breaks[~is_bad] = extras
        breaks[is_bad] = bad_breaks[np.argsort(numbers, kind="stable")]
        lines = every + self.breaks_before + np.cumsum(breaks) - breaks
        self.next_record += total
        self.breaks_before += int(breaks.sum())
        bad_lines = dict(zip(every[is_bad].tolist(), lines[is_bad].tolist(), strict=True))
        return [bad_lines.get(int(number), int(number)) for number in numbers], lines[~is_bad]
