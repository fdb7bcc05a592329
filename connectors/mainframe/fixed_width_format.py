"""`FixedWidthFormat`: how a mainframe export file becomes bounded Arrow tables.

It is the `FileFormat` of mainframe files for `connectors.files.drop_folder.DropFolderSource`
(`kind`, `default_pattern`, `records(path, name, skip)`), and the reader behind
`connectors.mainframe.fixed_width.FixedWidthSource` (one file).

Record formats (`record_format`):

    fixed   every record `record_length` bytes (the copybook's length by default; longer
            when records carry bytes the copybook does not describe)
    rdw     variable length, each record after a record descriptor word (RDW) in the
            convention `rdw` describes (IBM's by default: big-endian, length counting the RDW)
    vb      blocks of RDW records, each block after a block descriptor word (BDW), as
            RECFM=VB data sets are stored
    text    lines ended by LF (or CR LF; EBCDIC pages: NL 0x15 or LF 0x25), read as if
            padded with spaces to the copybook's length
    odo     records back to back, each as long as its OCCURS DEPENDING ON counts make it

`file_header_bytes` and `file_footer_bytes` are skipped at the start and end of each file.
Bytes after the copybook's length are ignored in variable-length records.

The file is read in chunks of whole records (about `chunk_records` of them, at most
`MAX_CHUNK_BYTES` unless one record or block is longer; memory does not grow with the
file), each decoded on whole columns by `connectors.mainframe.record_decode.decode_records`.
Every table carries the error columns of `connectors.source_errors`: a record that does
not decode is a row with its reason, position and raw bytes; it never fails the read. A
fixed-length file whose data is not a multiple of the record length ends with one
rejected "truncated record"; a broken descriptor makes the rest of the file one rejected
record. A segment map (`connectors.mainframe.segments`) adds the seg_id columns before the
error columns and may leave records out.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from connectors.mainframe.code_pages import ENCODINGS, code_page
from connectors.mainframe.copybook import load_copybook
from connectors.mainframe.decode_options import DEFAULT_OPTIONS, DecodeOptions
from connectors.mainframe.record_decode import decode_records
from connectors.mainframe.record_framing import (
    IBM,
    MAX_RDW_RECORD,
    Framed,
    RdwConvention,
    frame_rdw,
    frame_text,
    frame_vb,
    gather,
    walk,
)
from connectors.mainframe.record_layout import RecordLayout
from connectors.mainframe.record_odo import odo_size_at, odo_sizes
from connectors.mainframe.segment_ids import Hierarchy, apply_segments
from connectors.mainframe.segments import segment_map
from connectors.rebatch import skip_records
from connectors.source_errors import ERROR_FIELDS
from govbus.errors import BadConfiguration, BadInput, TransientError

RECORD_FORMATS = ("fixed", "rdw", "vb", "text", "odo")
SCALAR_ODO_BYTES = 48
"""Records of the `odo` format at least this long are sized by decoding their counters
record by record; shorter ones by decoding the counters at every position of a window
(bench/fixed_width_bench.py: the window costs per byte, the record-by-record decode per
record, and they cost the same near this length)."""
MAX_CHUNK_BYTES = 64 << 20
"""A read takes at most this (or one record or block, if longer): batches of long records
are smaller than batch_size rather than larger in memory."""


class FixedWidthFormat:
    """Decodes mainframe files with one record layout (a copybook path or a layout)."""

    kind = "fixed_width"
    default_pattern = "*"

    def __init__(
        self,
        copybook: str | os.PathLike[str] | RecordLayout,
        *,
        encoding: str = "cp037",
        record_format: str = "fixed",
        record_length: int | None = None,
        naming: str = "leaf",
        chunk_records: int = 50_000,
        copybook_library: Sequence[str] = (),
        copybook_format: str = "auto",
        rdw: RdwConvention = IBM,
        bdw: RdwConvention = IBM,
        file_header_bytes: int = 0,
        file_footer_bytes: int = 0,
        options: DecodeOptions = DEFAULT_OPTIONS,
        segments: Mapping[str, Any] | None = None,
    ) -> None:
        if encoding not in ENCODINGS:
            raise BadConfiguration(
                "unknown encoding", where="encoding", hint=f"one of {', '.join(ENCODINGS)}"
            )
        if record_format not in RECORD_FORMATS:
            raise BadConfiguration(
                "unknown record format", where="record_format", hint=f"one of {', '.join(RECORD_FORMATS)}"
            )
        if isinstance(copybook, RecordLayout):
            self.layout = copybook
        elif isinstance(copybook, str | os.PathLike) and str(copybook):
            self.layout = load_copybook(
                copybook, naming=naming, library=copybook_library, form=copybook_format
            )
        else:
            raise BadConfiguration("must be a copybook path", where="copybook")
        self.record_length = self.layout.record_length
        if record_length is not None:
            if record_format != "fixed":
                raise BadConfiguration("applies to fixed-length records only", where="record_length")
            if _not_count(record_length) or record_length < self.layout.record_length:
                raise BadConfiguration(
                    f"must be an integer of at least the copybook's {self.layout.record_length} bytes",
                    where="record_length",
                )
            self.record_length = record_length
        counts = (("chunk_records", chunk_records, 1), ("file_header_bytes", file_header_bytes, 0))
        for setting, value, least in (*counts, ("file_footer_bytes", file_footer_bytes, 0)):
            if _not_count(value) or value < least:
                raise BadConfiguration(f"must be an integer of at least {least}", where=setting)
        for field in options.field_policies:
            if field not in self.layout.names:
                raise BadConfiguration("is not a field of the copybook", where=f"field_policies.{field}")
        if record_format == "odo" and not self.layout.tables:
            raise BadConfiguration("the copybook has no OCCURS DEPENDING ON", where="record_format")
        self.encoding, self.record_format = encoding, record_format
        self.rdw, self.bdw = rdw, bdw
        self.file_header_bytes, self.file_footer_bytes = file_header_bytes, file_footer_bytes
        self.options = replace(options, segments=segment_map(segments, self.layout)) if segments else options
        self._chunk_records = chunk_records
        self._page = code_page(encoding)
        self._odo_scalar = odo_size_at(self.layout, self._page, self.options) if self.layout.tables else None
        self._odo_minimum = self.layout.record_length - sum(
            (t.maximum - t.minimum) * t.size for t in self.layout.tables
        )

    @property
    def schema(self) -> pa.Schema:
        """The schema of every table: the layout's fields, the seg_id columns, the error columns."""
        ids = [pa.field(c, pa.string()) for c in self._segment_columns]
        return pa.schema([*self.layout.arrow_schema, *ids, *ERROR_FIELDS])

    @property
    def _segment_columns(self) -> tuple[str, ...]:
        segments = self.options.segments
        return () if segments is None else segments.id_columns

    def records(self, path: Path, name: str, skip: int) -> Iterator[pa.Table]:
        """The file's delivered records after the first `skip`, in tables of at most
        `chunk_records` rows."""
        try:
            handle = open(path, "rb", buffering=0)  # closed by the `with` below
        except OSError as exc:
            raise BadInput(f"cannot open the file ({type(exc).__name__})", where=name) from None
        with handle:
            size = os.fstat(handle.fileno()).st_size
            if self.options.segments is not None:  # ids and filters need every record from the start
                tables = self.tables(handle, name, self.start(size), 0, size, self._chunk_records)
                yield from skip_records((table for table, _, _, _ in tables), skip)
                return
            offset, done, state = self.skip(handle, name, skip, size)
            for table, _, _, _ in self.tables(handle, name, offset, done, size, self._chunk_records, state):
                yield table

    def start(self, size: int) -> int:
        """Where the records of a file of `size` bytes start."""
        return min(self.file_header_bytes, size)

    def end(self, size: int) -> int:
        """Where the records of a file of `size` bytes end."""
        return max(size - self.file_footer_bytes, self.start(size))

    def skip(self, handle: io.FileIO, name: str, count: int, size: int) -> tuple[int, int, dict[str, Any]]:
        """(offset, records, resume state) after the first `count` records, framing
        variable-length records without decoding them."""
        begin, end = self.start(size), self.end(size)
        if self.record_format == "fixed":
            records = min(count, -(-(end - begin) // self.record_length))
            return min(begin + records * self.record_length, end), records, {}
        offset, done, state = begin, 0, {}
        while done < count and offset < end:
            framed, _ = self._frame(handle, name, offset, end, count - done, state)
            offset = end if framed.problem is not None else offset + framed.consumed
            done += len(framed.starts) + (framed.problem is not None)
            state = _resume(framed, offset)
        return offset, done, state

    def tables(
        self,
        handle: io.FileIO,
        name: str,
        offset: int,
        done: int,
        size: int,
        batch_size: int,
        state: Mapping[str, Any] | None = None,
    ) -> Iterator[tuple[pa.Table, int, int, dict[str, Any]]]:
        """(table, offset after it, records done, resume state) for each chunk from `offset`
        to the end; tables a segment filter empties are not yielded."""
        state = dict(state or {})
        end = self.end(size)
        hierarchy = None
        if self._segment_columns:
            hierarchy = Hierarchy(self.options.segments, name, state.get("segment_ids"))  # type: ignore[arg-type]
        while offset < end:
            first = done
            if self.record_format == "fixed":
                records, table, offset, done = self._fixed(handle, name, offset, done, end, batch_size)
                state = {}
            else:
                records, table, offset, done, state = self._variable(
                    handle, name, offset, done, end, batch_size, state
                )
            table = self._segments(table, records, hierarchy, first)
            if hierarchy is not None:
                state["segment_ids"] = list(hierarchy.last)
            if table.num_rows:
                yield table, offset, done, dict(state)

    def decode(
        self,
        records: np.ndarray,
        name: str,
        *,
        positions: np.ndarray | None = None,
        lengths: np.ndarray | None = None,
        header: int = 0,
        first_record: int = 0,
        problems: dict[int, str] | None = None,
    ) -> pa.Table:
        """`decode_records` with this format's layout, code page and options (same keywords)."""
        return decode_records(
            records, self.layout, self.encoding, file=name, positions=positions, lengths=lengths,
            header=header, first_record=first_record, problems=problems, options=self.options,
        )  # fmt: skip

    def _fixed(
        self, handle: io.FileIO, name: str, offset: int, done: int, end: int, batch_size: int
    ) -> tuple[np.ndarray, pa.Table, int, int]:
        length = self.record_length
        count = min(batch_size, (end - offset) // length, max(1, MAX_CHUNK_BYTES // length))
        if count == 0:  # the last record is shorter than the record length
            data = read_exactly(handle, name, offset, end - offset).reshape(1, -1)
            problem = f"truncated record, {data.shape[1]} of {length} bytes"
            table = self.decode(
                data, name, positions=np.array([offset]), first_record=done, problems={0: problem}
            )
            return data, table, end, done + 1
        data = read_exactly(handle, name, offset, count * length).reshape(count, length)
        positions = offset + length * np.arange(count, dtype=np.int64)
        table = self.decode(data, name, positions=positions, first_record=done)
        return data, table, offset + count * length, done + count

    def _variable(
        self, handle: io.FileIO, name: str, offset: int, done: int, end: int, batch_size: int, state: dict
    ) -> tuple[np.ndarray, pa.Table, int, int, dict[str, Any]]:
        framed, chunk = self._frame(handle, name, offset, end, batch_size, state)
        starts, lengths, problems = framed.starts, framed.lengths, {}
        data_starts = starts + framed.header
        if framed.problem is not None:  # its raw bytes shown from the broken descriptor on
            start, reason = framed.problem
            problems[len(starts)] = reason
            starts, data_starts = np.append(starts, start), np.append(data_starts, start)
            lengths = np.append(lengths, len(chunk) - start)
        width = self.layout.record_length
        if self.record_format == "text":  # a short line reads as if padded with spaces
            records = gather(chunk, data_starts, width, fill=self._page.space).copy()
            records[np.arange(width)[None, :] >= lengths[:, None]] = self._page.space
            lengths = None
        else:
            records = gather(chunk, data_starts, width)
        table = self.decode(
            records, name, positions=offset + starts, lengths=lengths, header=framed.header,
            first_record=done, problems=problems,
        )  # fmt: skip
        consumed = end if framed.problem is not None else offset + framed.consumed  # nothing after a break
        return (
            records,
            table,
            consumed,
            done + len(starts),
            _resume(framed, consumed) | {k: v for k, v in state.items() if k == "segment_ids"},
        )

    def _frame(
        self, handle: io.FileIO, name: str, offset: int, end: int, limit: int, state: Mapping[str, Any]
    ) -> tuple[Framed, np.ndarray]:
        """Frame up to `limit` records from `offset`, reading more when one does not fit."""
        want = min(limit * (self.layout.record_length + 8), MAX_CHUNK_BYTES)
        want = min(end - offset, max(want, MAX_RDW_RECORD + 8))
        while True:
            chunk = read_exactly(handle, name, offset, want)
            at_eof = offset + want >= end
            framed = self._frame_chunk(chunk, limit, at_eof, state, offset)
            if len(framed.starts) or framed.problem is not None or at_eof:
                return framed, chunk
            want = min(end - offset, want * 2)  # a record or block longer than the chunk

    def _frame_chunk(
        self, chunk: np.ndarray, limit: int, at_eof: bool, state: Mapping[str, Any], offset: int
    ) -> Framed:
        if self.record_format == "rdw":
            return frame_rdw(chunk, limit, at_eof, self.rdw)
        if self.record_format == "vb":
            block_end = state.get("block_end")
            return frame_vb(
                chunk, limit, at_eof, self.rdw, self.bdw, None if block_end is None else block_end - offset
            )
        if self.record_format == "text":
            newline = 0x0A
            if self._page.ebcdic:  # LF (0x25), or NL (0x15) when only that one is there
                newline = 0x15 if (chunk == 0x15).any() and not (chunk == 0x25).any() else 0x25
            return frame_text(chunk, limit, at_eof, newline, 0x0D)
        sizes = odo_sizes(self.layout, self._page, self.options)
        word = "OCCURS DEPENDING ON count"
        if self._odo_scalar is not None and self._odo_minimum >= SCALAR_ODO_BYTES:  # a decode per record
            return walk(
                chunk, 0, len(chunk), limit, at_eof, sizes, 0, word, 1, scalar=self._odo_scalar(chunk)
            )
        return walk(chunk, 0, len(chunk), limit, at_eof, sizes, 0, word, 1, 1 << 16)  # a window of decodes

    def _segments(
        self, table: pa.Table, records: np.ndarray, hierarchy: Hierarchy | None, first: int
    ) -> pa.Table:
        segments = self.options.segments
        if segments is None:
            return table
        return apply_segments(table, records, self.layout, self._page, segments, hierarchy, first)


def _resume(framed: Framed, consumed: int) -> dict[str, Any]:
    if framed.block_end is None:
        return {}
    return {"block_end": consumed - framed.consumed + framed.block_end}


def _not_count(value: object) -> bool:
    return isinstance(value, bool) or not isinstance(value, int)


def read_exactly(handle: io.FileIO, name: str, offset: int, count: int) -> np.ndarray:
    """`count` bytes from `offset`; TransientError if the file got shorter meanwhile."""
    buffer = np.empty(count, dtype=np.uint8)
    view = memoryview(buffer)
    handle.seek(offset)
    filled = 0
    while filled < count:
        got = handle.readinto(view[filled:])
        if not got:
            raise TransientError("the file got shorter while it was read", where=name, hint="retry")
        filled += got
    return buffer
