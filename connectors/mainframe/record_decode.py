"""`decode_records`: a matrix of fixed-width records → an Arrow table, bad records flagged.

Records that do not decode follow the file sources' error-row convention
(`connectors.source_errors`): the table has one row per record, in file order, with the
layout's fields (`RecordLayout.arrow_schema`) and then three string columns:

* `_govbus_source_error`: null when the record decoded; otherwise why not, naming the
  file, the byte offset in the file of the first offending byte, the 1-based record
  number and the field, never a value:
  "civil.dat byte 123 (record 4, field amount): bad packed digit".
* `_govbus_source_position`: "<file>@<byte offset of the record>" (of its RDW for
  variable-length records) on rejected records, null on the others.
* `_govbus_source_raw`: the record's bytes as text in the code page, every byte that is
  not a printable character written \\xNN (packed and binary fields show that way),
  at most the buffer's width; null on the others.

On a rejected record every data column is null. The exchange quarantines rows whose
`_govbus_source_error` is not null and drops the three columns from the rest.

REDEFINES: fields of an overlaid area (see `RecordLayout`) are alternative views; a
value that does not decode in one view is null, and the record is rejected only when
every view of the area has a field that does not decode. Nested REDEFINES count for
their innermost area only.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from connectors.mainframe.code_pages import ENCODINGS, CodePage, code_page, expand
from connectors.mainframe.ebcdic_decode import REASONS, decode_field
from connectors.mainframe.record_layout import RecordLayout
from connectors.source_errors import ERROR_FIELDS
from govbus.errors import BadConfiguration, BadInput

SLICE_RECORDS = 65_536
"""decode_records decodes larger buffers in slices of this many records (one table, one
chunk per slice)."""


def decode_records(
    buffer: np.ndarray,
    layout: RecordLayout,
    encoding: str = "cp037",
    *,
    file: str = "buffer",
    positions: np.ndarray | None = None,
    lengths: np.ndarray | None = None,
    header: int = 0,
    first_record: int = 0,
    problems: Mapping[int, str] | None = None,
) -> pa.Table:
    """Decode `buffer` (uint8, records × record width) with `layout` in `encoding`.

    * `file`: the file's name, used in reasons and positions.
    * `positions`: file offset of each record (default: consecutive records of the
      buffer's width, plus `header`, numbered from `first_record`).
    * `header`: bytes between a record's position and its data (4 for an RDW).
    * `lengths`: data bytes each record really has (default: the whole width); a field
      reaching past its record's length does not decode ("the record ends inside the
      field"). A buffer narrower than the layout is treated as records that short.
    * `first_record`: 0-based number of the buffer's first record in its file.
    * `problems`: reasons by row for records broken as a whole (a truncated record, a
      bad RDW); they take precedence over field failures and are worded the same way.
    """
    if not isinstance(buffer, np.ndarray) or buffer.dtype != np.uint8 or buffer.ndim != 2:
        raise BadInput("must be a 2-D numpy uint8 array (records × record length)", where="buffer")
    if encoding not in ENCODINGS:
        raise BadConfiguration("unknown encoding", where="encoding", hint=f"one of {', '.join(ENCODINGS)}")
    page = code_page(encoding)
    n, width = buffer.shape
    lengths = None if lengths is None else np.asarray(lengths, dtype=np.int64)
    if width < layout.record_length:
        padded = np.zeros((n, layout.record_length), dtype=np.uint8)
        padded[:, :width] = buffer
        buffer = padded
        lengths = np.full(n, width, dtype=np.int64) if lengths is None else np.minimum(lengths, width)
    if positions is None:
        positions = (first_record + np.arange(n, dtype=np.int64)) * (width + header)
    positions = np.asarray(positions, dtype=np.int64)
    problems = dict(problems or {})
    if problems and (min(problems) < 0 or max(problems) >= n):
        raise BadInput("names a row outside the buffer", where="problems")
    if n > SLICE_RECORDS:  # slices whose temporaries stay in the CPU caches decode faster
        return pa.concat_tables(
            decode_records(
                buffer[i : i + SLICE_RECORDS], layout, encoding, file=file,
                positions=positions[i : i + SLICE_RECORDS],
                lengths=None if lengths is None else lengths[i : i + SLICE_RECORDS],
                header=header, first_record=first_record + i,
                problems={row - i: text for row, text in problems.items() if i <= row < i + SLICE_RECORDS},
            )
            for i in range(0, n, SLICE_RECORDS)
        )  # fmt: skip
    failed = _FirstFailure(n)
    areas: dict[str, dict[str, _FirstFailure]] = {}
    columns = []
    for index, field in enumerate(layout.fields):
        end = field.offset + field.length
        short = None if lengths is None else lengths < end
        result = decode_field(np.ascontiguousarray(buffer[:, field.offset : end]), field, page, short)
        columns.append(result.values)
        if result.failure is None:
            continue
        bad_byte = result.bad_byte
        if short is not None and short.any():
            bad_byte[short] = np.maximum(lengths[short] - field.offset, 0)
        absolute = positions + header + field.offset + bad_byte
        if field.area is None:
            failed.note(index, result.failure, absolute)
        else:
            views = areas.setdefault(field.area, {})
            views.setdefault(field.view or "", _FirstFailure(n)).note(index, result.failure, absolute)
    for views in areas.values():
        every_view_fails = np.logical_and.reduce([view.field >= 0 for view in views.values()])
        failed.take(next(iter(views.values())), every_view_fails)
    errors, rejected = _messages(failed, layout, file, positions, first_record, problems)
    if rejected.any():
        mask = pa.array(rejected)
        columns = [pc.if_else(mask, pa.scalar(None, c.type), c) for c in columns]
        rows = np.flatnonzero(rejected)
        where = pc.binary_join_element_wise(f"{file}@", pa.array(positions[rows]).cast(pa.string()), "")
        raw = _raw(buffer[rows], None if lengths is None else lengths[rows], page)
        columns += [errors, _scatter(where, rows, n), _scatter(raw, rows, n)]
    else:
        columns += [errors, pa.nulls(n, pa.string()), pa.nulls(n, pa.string())]
    return pa.Table.from_arrays(columns, schema=pa.schema([*layout.arrow_schema, *ERROR_FIELDS]))


class _FirstFailure:
    """Per record: the first field (index into the layout) that failed, its code and byte."""

    def __init__(self, n: int) -> None:
        self.field = np.full(n, -1, dtype=np.int32)
        self.code = np.zeros(n, dtype=np.uint8)
        self.byte = np.zeros(n, dtype=np.int64)

    def note(self, index: int, failure: np.ndarray, absolute: np.ndarray) -> None:
        rows = (failure != 0) & (self.field < 0)
        self.field[rows] = index
        self.code[rows] = failure[rows]
        self.byte[rows] = absolute[rows]

    def take(self, other: _FirstFailure, rows: np.ndarray) -> None:
        rows = rows & (self.field < 0)
        self.field[rows] = other.field[rows]
        self.code[rows] = other.code[rows]
        self.byte[rows] = other.byte[rows]


def _messages(
    failed: _FirstFailure,
    layout: RecordLayout,
    file: str,
    positions: np.ndarray,
    first_record: int,
    problems: Mapping[int, str],
) -> tuple[pa.Array, np.ndarray]:
    """The error column (null, a field failure or a record problem, worded vectorized) and
    the rejected rows as a boolean mask."""
    n = len(failed.field)
    problem_rows = np.array(sorted(problems), dtype=np.int64)
    failed.field[problem_rows] = -1
    rows = np.flatnonzero(failed.field >= 0)
    if not len(rows) and not len(problem_rows):
        return pa.nulls(n, pa.string()), np.zeros(n, dtype=bool)
    field_texts = pc.binary_join_element_wise(
        f"{file} byte ",
        pa.array(failed.byte[rows]).cast(pa.string()),
        " (record ",
        pa.array(first_record + rows + 1).cast(pa.string()),
        ", field ",
        pa.array(layout.names).take(pa.array(failed.field[rows])),
        "): ",
        pa.array(REASONS).take(pa.array(failed.code[rows])),
        "",
    )
    problem_texts = pa.array(
        [
            f"{file} byte {positions[row]} (record {first_record + row + 1}): {problems[row]}"
            for row in problem_rows
        ],
        pa.string(),
    )
    index = np.full(n, -1, dtype=np.int64)
    index[rows] = np.arange(len(rows))
    index[problem_rows] = len(rows) + np.arange(len(problem_rows))
    texts = pa.concat_arrays([field_texts, problem_texts]).take(pa.array(index, mask=index < 0))
    return texts, index >= 0


def _raw(records: np.ndarray, lengths: np.ndarray | None, page: CodePage) -> pa.Array:
    """Each record's bytes (up to its length) as escaped text in the code page."""
    k, width = records.shape
    keep = np.full(k, width, dtype=np.int64) if lengths is None else np.clip(lengths, 0, width)
    raw = records[np.arange(width)[None, :] < keep[:, None]]
    data, ends = expand(raw, page.escaped, page.escaped_length)
    offsets = np.concatenate(([0], ends))[np.concatenate(([0], np.cumsum(keep)))]
    return pa.StringArray.from_buffers(k, pa.py_buffer(offsets.astype(np.int32)), pa.py_buffer(data))


def _scatter(values: pa.Array, rows: np.ndarray, n: int) -> pa.Array:
    """An array of `n` nulls with `values` at `rows`."""
    index = np.full(n, -1, dtype=np.int64)
    index[rows] = np.arange(len(rows))
    return values.take(pa.array(index, mask=index < 0))
