"""OCCURS … DEPENDING ON: how many occurrences each record holds, and where its fields are.

A table's counter is decoded first (it sits before its table, so its own position
depends only on earlier tables). With `odo_storage: actual` (IBM's rule: what a COBOL
program writes) a table of `count` occurrences takes `count × size` bytes and every
field after it moves up by `(maximum - count) × size`; with `maximum` every table takes
its full size. Occurrences past the count are absent: null, never a failure. A count
below the table's minimum, above its maximum, or that does not decode rejects the record
("OCCURS DEPENDING ON count outside the table's range", naming the counter).

All of it is vectorized: counts are columns, a field's shift is a column of byte
offsets, and the bytes of fields that moved are gathered per record with one fancy index
per group of fields that move together (at most one group per table, plus one).
"""

from __future__ import annotations

import bisect
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from connectors.mainframe.code_pages import CodePage
from connectors.mainframe.decode_options import DecodeOptions, FieldPolicy
from connectors.mainframe.ebcdic_decode import decode_field
from connectors.mainframe.record_layout import BINARY, PACKED, ZONED, LayoutField, RecordLayout


@dataclass
class OdoShape:
    """Per record: each table's count, the shift of the fields after each table boundary,
    the records whose count is bad, and the record's length with its tables as counted."""

    counts: dict[str, np.ndarray]
    shifts: list[np.ndarray]  # shifts[k]: bytes (<= 0) that fields after the first k tables move
    bad: dict[str, np.ndarray]  # counter field name → records whose count is bad
    lengths: np.ndarray
    ends: list[int]  # each table's end in a full record, in table order

    def shift_of(self, field: LayoutField) -> np.ndarray:
        """The shift (<= 0, per record) of `field`'s start."""
        return self.shifts[bisect.bisect_right(self.ends, field.offset)]

    def absent(self, field: LayoutField) -> np.ndarray | None:
        """Records that do not hold `field` (an occurrence past its table's count)."""
        if field.table is None:
            return None
        return self.counts[field.table] < field.occurrence


def odo_shape(
    buffer: np.ndarray | None,
    layout: RecordLayout,
    page: CodePage,
    options: DecodeOptions,
    fetch: Callable[[LayoutField, np.ndarray], np.ndarray] | None = None,
    n: int = 0,
) -> OdoShape:
    """The counts and shifts of `buffer`'s records (records × at least the full length), or
    of `n` records whose counter bytes `fetch(counter, shift)` gathers."""
    if buffer is not None:
        n = buffer.shape[0]
    tables = sorted(layout.tables, key=lambda t: t.offset)
    counter_options = DecodeOptions(policy=FieldPolicy("null", "null"), float_format=options.float_format)
    shifts = [np.zeros(n, dtype=np.int64)]
    ends: list[int] = []
    counts: dict[str, np.ndarray] = {}
    bad: dict[str, np.ndarray] = {}
    for table in tables:
        counter = layout.field(table.counter)
        shift = shifts[bisect.bisect_right(ends, counter.offset)]
        cols = field_bytes(buffer, counter, shift) if buffer is not None else fetch(counter, shift)  # type: ignore[misc]
        values = decode_field(cols, counter, page, options=counter_options).values
        if not pa.types.is_int64(values.type):
            values = values.cast(pa.int64(), safe=False)
        count = pc.fill_null(values, -1).to_numpy(zero_copy_only=False).astype(np.int64)
        wrong = (count < table.minimum) | (count > table.maximum)
        bad[counter.name] = bad.get(counter.name, np.zeros(n, dtype=bool)) | wrong
        count = np.where(wrong, table.maximum, count)
        counts[table.name] = count
        delta = (count - table.maximum) * table.size if options.odo_storage == "actual" else 0
        shifts.append(shifts[-1] + delta)
        ends.append(table.end)
    return OdoShape(counts, shifts, bad, layout.record_length + shifts[-1], ends)


def field_bytes(buffer: np.ndarray, field: LayoutField, shift: np.ndarray | None) -> np.ndarray:
    """The field's bytes of each record, moved by `shift` (bytes past the buffer read 0)."""
    end = field.offset + field.length
    if shift is None or not shift.any():
        return np.ascontiguousarray(buffer[:, field.offset : end])
    n, width = buffer.shape
    index = field.offset + shift[:, None] + np.arange(field.length)[None, :]
    inside = (index >= 0) & (index < width)
    taken = buffer[np.arange(n)[:, None], np.clip(index, 0, width - 1)]
    return np.where(inside, taken, np.uint8(0))


def odo_sizes(layout: RecordLayout, page: CodePage, options: DecodeOptions) -> Callable:
    """The framing `Sizes` of records back to back, each as long as its counts make it:
    0 where a count is bad, -1 where the chunk ends before the record's last counter."""
    counters = [layout.field(t.counter) for t in layout.tables]
    need = max(c.offset + c.length for c in counters)

    def sizes(chunk: np.ndarray, positions: np.ndarray) -> np.ndarray:
        low, high = int(positions[0]), int(positions[-1]) + need  # positions ascend
        region = np.zeros(high - low, dtype=np.uint8)  # bytes past the chunk read 0
        region[: max(0, min(high, len(chunk)) - low)] = chunk[low:high]
        starts = positions - low

        def fetch(counter: LayoutField, shift: np.ndarray) -> np.ndarray:  # only the counters' bytes
            return region[(starts + counter.offset + shift)[:, None] + np.arange(counter.length)[None, :]]

        shape = odo_shape(None, layout, page, options, fetch, len(positions))
        bad = np.zeros(len(positions), dtype=bool)
        for wrong in shape.bad.values():
            bad |= wrong
        needed = np.max([c.offset + c.length + shape.shift_of(c) for c in counters], axis=0)
        result = np.where(bad, 0, shape.lengths).astype(np.int64)
        return np.where(positions + needed > len(chunk), -1, result)

    return sizes


def odo_size_at(
    layout: RecordLayout, page: CodePage, options: DecodeOptions
) -> Callable[[np.ndarray], Callable[[int], int]] | None:
    """For a chunk, a scalar `size_at(position)` of ODO records (-1: the chunk ends first,
    0: a bad count): each counter decoded in plain Python, which beats computing the size
    at every position of a window once records are longer than a few dozen bytes. None
    when a counter is not a whole zoned (overpunched or unsigned), packed or binary number."""
    tables = sorted(layout.tables, key=lambda t: t.offset)
    readers = []
    ends = [t.end for t in tables]
    for table in tables:
        counter = layout.field(table.counter)
        reader = _scalar_reader(counter, page)
        if reader is None:
            return None
        readers.append((table, counter, reader, bisect.bisect_right(ends, counter.offset)))
    actual = options.odo_storage == "actual"

    def bind(chunk: np.ndarray) -> Callable[[int], int]:
        data = memoryview(chunk)
        size = len(chunk)

        def size_at(position: int) -> int:
            shifts = [0]  # shifts[k]: how far the first k tables move what follows them
            for table, counter, reader, before in readers:
                start = position + counter.offset + shifts[before]
                if start + counter.length > size:
                    return -1
                count = reader(data, start)
                if count < table.minimum or count > table.maximum:
                    return 0
                shifts.append(shifts[-1] + ((count - table.maximum) * table.size if actual else 0))
            return layout.record_length + shifts[-1]

        return size_at

    return bind


def _scalar_reader(field: LayoutField, page: CodePage) -> Callable[[memoryview, int], int] | None:
    """A plain-Python reader of one whole number (-1 when it does not decode)."""
    if field.scale or field.scaling or field.kind not in (ZONED, PACKED, BINARY):
        return None
    length, signed = field.length, field.signed
    if field.kind == BINARY:
        order = "little" if field.little_endian else "big"
        limit = None if field.native else 10**field.digits

        def binary(data: memoryview, start: int) -> int:
            value = int.from_bytes(data[start : start + length], order, signed=signed)
            return -1 if limit is not None and abs(value) >= limit else value

        return binary
    if field.kind == PACKED:

        def packed(data: memoryview, start: int) -> int:
            text = data[start : start + length].hex()
            if text[-1] not in "cdf" or not text[:-1].isdigit() or (text[-1] == "d" and not signed):
                return -1
            return -int(text[:-1]) if text[-1] == "d" else int(text[:-1])

        return packed
    if signed and field.sign != "trailing":
        return None
    zero, digit_of, sign_of = page.zero, page.sign_digit.tolist(), page.sign_of.tolist()

    def zoned(data: memoryview, start: int) -> int:
        value = 0
        for at in range(start, start + length - 1):
            digit = data[at] - zero
            if not 0 <= digit <= 9:
                return -1
            value = value * 10 + digit
        last = data[start + length - 1]
        digit, sign = digit_of[last], sign_of[last]
        if digit > 9 or sign == 0 or (sign < 0 and not signed):
            return -1
        return -(value * 10 + digit) if sign < 0 else value * 10 + digit

    return zoned
