"""`decode_records`: a matrix of records → an Arrow table, bad records flagged.

Records that do not decode follow the file sources' error-row convention
(`connectors.source_errors`): the table has one row per record, in file order, with the
layout's fields (`RecordLayout.arrow_schema`) and then three string columns:

* `_govbus_source_error`: null when the record decoded; otherwise why not, naming the
  file, the byte offset in the file of the first offending byte, the 1-based record
  number, the field and its copybook line, never a value:
  "civil.dat byte 123 (record 4, field amount at civil.cpy:9): bad packed digit".
* `_govbus_source_position`: "<file>@<byte offset of the record>" (of its RDW for
  variable-length records) on rejected records, null on the others.
* `_govbus_source_raw`: the record's bytes as text in the code page, every byte that is
  not a printable character written \\xNN (packed and binary fields show that way),
  at most the buffer's width; null on the others.

On a rejected record every data column is null. The exchange quarantines rows whose
`_govbus_source_error` is not null and drops the three columns from the rest.

Which failures reject a record, REDEFINES views and segments: `connectors.mainframe.record_verdict`;
what a bad value, a blank number or a short record becomes: `connectors.mainframe.decode_options`;
OCCURS … DEPENDING ON: `connectors.mainframe.record_odo`.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from connectors.mainframe.code_pages import ENCODINGS, CodePage, code_page, expand
from connectors.mainframe.decode_options import DEFAULT_OPTIONS, DecodeOptions
from connectors.mainframe.ebcdic_decode import decode_field
from connectors.mainframe.field_codes import COUNT_OUT_OF_RANGE, UNKNOWN_SEGMENT
from connectors.mainframe.record_layout import LayoutField, RecordLayout
from connectors.mainframe.record_odo import OdoShape, field_bytes, odo_shape
from connectors.mainframe.record_verdict import FirstFailure, messages, verdict
from connectors.mainframe.segments import segment_index
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
    options: DecodeOptions = DEFAULT_OPTIONS,
) -> pa.Table:
    """Decode `buffer` (uint8, records × record width) with `layout` in `encoding`.

    * `file`: the file's name, used in reasons and positions.
    * `positions`: file offset of each record (default: consecutive records of the
      buffer's width, plus `header`, numbered from `first_record`).
    * `header`: bytes between a record's position and its data (4 for an RDW).
    * `lengths`: data bytes each record really has (default: the whole width); a field
      reaching past its record's length is short (`options.short_record`). A buffer
      narrower than the layout is treated as records that short.
    * `first_record`: 0-based number of the buffer's first record in its file.
    * `problems`: reasons by row for records broken as a whole (a truncated record, a
      bad RDW); they take precedence over field failures and are worded the same way.
    * `options`: policies, trimming, float format, OCCURS storage and segments.
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
                options=options,
            )
            for i in range(0, n, SLICE_RECORDS)
        )  # fmt: skip
    shape = odo_shape(buffer, layout, page, options) if layout.tables else None
    active, segment_rows = _active_views(buffer, layout, page, options)
    direct: dict[tuple[str, str] | None, FirstFailure] = {}
    columns = []
    for index, field in enumerate(layout.fields):
        shift = None if shape is None else shape.shift_of(field)
        start = field.offset if shift is None else field.offset + shift  # per record when tables move it
        short = None if lengths is None else lengths < start + field.length
        cols = field_bytes(buffer, field, shift)
        if short is not None and short.any():  # bytes past the record's end are not its own
            assert lengths is not None
            past = np.reshape(start, (-1, 1)) + np.arange(field.length)[None, :] >= lengths[:, None]
            cols = np.where(past, np.uint8(0), cols)
        result = decode_field(cols, field, page, short, options, _absent(field, shape, active))
        columns.append(result.values)
        failure, bad_byte = _record_level(
            field, shape, options, segment_rows, result.failure, result.bad_byte
        )
        if failure is None or bad_byte is None:
            continue
        if short is not None and short.any():
            assert lengths is not None
            bad_byte[short] = np.maximum(lengths[short] - np.broadcast_to(start, (n,))[short], 0)
        key = None if field.area is None else (field.area, field.view or "")
        direct.setdefault(key, FirstFailure(n)).note(index, failure, positions + header + start + bad_byte)
    failed = verdict(layout, direct, active, n)
    errors, rejected = messages(failed, layout, file, positions, first_record, problems)
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


def _active_views(
    buffer: np.ndarray, layout: RecordLayout, page: CodePage, options: DecodeOptions
) -> tuple[dict[str, np.ndarray], np.ndarray | None]:
    """Per view of an area a segment map selects from, the records that use it; and each
    record's index in the map's ids (-1: unknown). Empty and None without a map."""
    segments = options.segments
    if segments is None:
        return {}, None
    field = layout.field(segments.field)
    ids = decode_field(field_bytes(buffer, field, None), field, page).values
    return segments.active(layout, ids), segment_index(ids, segments)


def _absent(
    field: LayoutField, shape: OdoShape | None, active: Mapping[str, np.ndarray]
) -> np.ndarray | None:
    """Records that do not hold `field`: past its table's count, or a view not selected."""
    absent = None if shape is None else shape.absent(field)
    if field.view is not None and field.view in active:
        unused = ~active[field.view]
        absent = unused if absent is None else absent | unused
    return absent


def _record_level(
    field: LayoutField,
    shape: OdoShape | None,
    options: DecodeOptions,
    segment_rows: np.ndarray | None,
    failure: np.ndarray | None,
    bad_byte: np.ndarray | None,
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Add the failures a field carries for the whole record: a bad OCCURS count on its
    counter, an unknown segment id on the segment field (when unknown ids reject)."""
    extra = []
    if shape is not None and field.name in shape.bad:
        extra.append((shape.bad[field.name], COUNT_OUT_OF_RANGE))
    segments = options.segments
    if segments is not None and segment_rows is not None and field.name == segments.field:
        if segments.unknown == "reject":
            extra.append((segment_rows < 0, UNKNOWN_SEGMENT))
    for rows, code in extra:
        if not rows.any():
            continue
        failure = np.zeros(len(rows), dtype=np.uint8) if failure is None else failure
        bad_byte = np.zeros(len(rows), dtype=np.int64) if bad_byte is None else bad_byte
        fresh = rows & (failure == 0)
        failure[fresh], bad_byte[fresh] = code, 0
    return failure, bad_byte


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
