"""`FixedWidthFormat`: how a fixed-width mainframe file becomes bounded Arrow tables.

It is the `FileFormat` of fixed-width files for `connectors.files.drop_folder.DropFolderSource`
(`kind`, `default_pattern`, `records(path, name, skip)`), and the reader behind
`connectors.mainframe.fixed_width.FixedWidthSource` (one file).

The file is read in chunks of whole records (about `chunk_records` of them, at most
`MAX_CHUNK_BYTES`; memory does not grow with the file), each decoded on whole columns by
`connectors.mainframe.record_decode.decode_records`. Records are fixed-length (`"fixed"`: the
copybook's length, or `record_length` when records carry trailing bytes the copybook
does not describe) or variable-length with RDWs (`"rdw"`, see
`connectors.mainframe.record_framing`; bytes after the copybook's length are ignored).

Every table carries the error columns of `connectors.source_errors`: a record that does
not decode is a row with its reason, position and raw bytes; it never fails the read. A
fixed-length file whose size is not a multiple of the record length ends with one
rejected "truncated record"; a broken RDW makes the rest of the file one rejected record.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa

from connectors.mainframe.code_pages import ENCODINGS
from connectors.mainframe.copybook import load_copybook
from connectors.mainframe.record_decode import decode_records
from connectors.mainframe.record_framing import MAX_RDW_RECORD, RDW_LENGTH, frame_rdw, gather
from connectors.mainframe.record_layout import RecordLayout
from govbus.errors import BadConfiguration, BadInput, TransientError

RECORD_FORMATS = ("fixed", "rdw")
MAX_CHUNK_BYTES = 64 << 20
"""A read never takes more than this (or one record, if longer): batches of long records
are smaller than batch_size rather than larger in memory."""


class FixedWidthFormat:
    """Decodes fixed-width files with one record layout (a copybook path or a layout)."""

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
    ) -> None:
        if encoding not in ENCODINGS:
            raise BadConfiguration(
                "unknown encoding", where="encoding", hint=f"one of {', '.join(ENCODINGS)}"
            )
        if record_format not in RECORD_FORMATS:
            raise BadConfiguration("unknown record format", where="record_format", hint="fixed or rdw")
        if isinstance(copybook, RecordLayout):
            self.layout = copybook
        elif isinstance(copybook, str | os.PathLike) and str(copybook):
            self.layout = load_copybook(copybook, naming=naming)
        else:
            raise BadConfiguration("must be a copybook path", where="copybook")
        self.record_length = self.layout.record_length
        if record_length is not None:
            if record_format != "fixed":
                raise BadConfiguration("applies to fixed-length records only", where="record_length")
            if (
                isinstance(record_length, bool)
                or not isinstance(record_length, int)
                or record_length < self.layout.record_length
            ):
                raise BadConfiguration(
                    f"must be an integer of at least the copybook's {self.layout.record_length} bytes",
                    where="record_length",
                )
            self.record_length = record_length
        if isinstance(chunk_records, bool) or not isinstance(chunk_records, int) or chunk_records < 1:
            raise BadConfiguration("must be a positive integer", where="chunk_records")
        self.encoding = encoding
        self.record_format = record_format
        self._chunk_records = chunk_records

    @property
    def schema(self) -> pa.Schema:
        """The schema of every table: the layout's fields, then the error columns."""
        return self.decode(np.zeros((0, self.layout.record_length), dtype=np.uint8), "-").schema

    def records(self, path: Path, name: str, skip: int) -> Iterator[pa.Table]:
        """The file's records after the first `skip`, in tables of at most `chunk_records`."""
        try:
            handle = open(path, "rb", buffering=0)  # closed by the `with` below
        except OSError as exc:
            raise BadInput(f"cannot open the file ({type(exc).__name__})", where=name) from None
        with handle:
            size = os.fstat(handle.fileno()).st_size
            offset, done = self.skip(handle, name, skip, size)
            for table, _, _ in self.tables(handle, name, offset, done, size, self._chunk_records):
                yield table

    def skip(self, handle: io.FileIO, name: str, count: int, size: int) -> tuple[int, int]:
        """(offset, records) after the first `count` records, framing RDWs without decoding."""
        if self.record_format == "fixed":
            records = min(count, -(-size // self.record_length))
            return min(records * self.record_length, size), records
        offset = done = 0
        while done < count and offset < size:
            chunk, at_eof = self._rdw_chunk(handle, name, offset, size, count - done)
            framed = frame_rdw(chunk, count - done, at_eof)
            offset += framed.consumed
            done += len(framed.starts) + (framed.problem is not None)
        return offset, done

    def tables(
        self, handle: io.FileIO, name: str, offset: int, done: int, size: int, batch_size: int
    ) -> Iterator[tuple[pa.Table, int, int]]:
        """(table, offset after it, records done) for each chunk from `offset` to the end."""
        while offset < size:
            if self.record_format == "fixed":
                table, offset, done = self._fixed(handle, name, offset, done, size, batch_size)
            else:
                table, offset, done = self._rdw(handle, name, offset, done, size, batch_size)
            yield table, offset, done

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
        """`decode_records` with this format's layout and code page (same keywords)."""
        return decode_records(
            records, self.layout, self.encoding, file=name, positions=positions, lengths=lengths,
            header=header, first_record=first_record, problems=problems,
        )  # fmt: skip

    def _fixed(
        self, handle: io.FileIO, name: str, offset: int, done: int, size: int, batch_size: int
    ) -> tuple[pa.Table, int, int]:
        length = self.record_length
        count = min(batch_size, (size - offset) // length, max(1, MAX_CHUNK_BYTES // length))
        if count == 0:  # the last record is shorter than the record length
            data = read_exactly(handle, name, offset, size - offset)
            problem = f"truncated record, {len(data)} of {length} bytes"
            table = self.decode(
                data.reshape(1, -1),
                name,
                positions=np.array([offset]),
                first_record=done,
                problems={0: problem},
            )
            return table, size, done + 1
        data = read_exactly(handle, name, offset, count * length).reshape(count, length)
        positions = offset + length * np.arange(count, dtype=np.int64)
        return (
            self.decode(data, name, positions=positions, first_record=done),
            offset + count * length,
            done + count,
        )

    def _rdw(
        self, handle: io.FileIO, name: str, offset: int, done: int, size: int, batch_size: int
    ) -> tuple[pa.Table, int, int]:
        chunk, at_eof = self._rdw_chunk(handle, name, offset, size, batch_size)
        framed = frame_rdw(chunk, batch_size, at_eof)
        starts, lengths, problems = framed.starts, framed.lengths, {}
        data_starts = starts + RDW_LENGTH
        if framed.problem is not None:  # its raw bytes shown from the broken RDW on
            start, reason = framed.problem
            problems[len(starts)] = reason
            starts, data_starts = np.append(starts, start), np.append(data_starts, start)
            lengths = np.append(lengths, len(chunk) - start)
        records = gather(chunk, data_starts, self.layout.record_length)
        table = self.decode(
            records, name, positions=offset + starts, lengths=lengths, header=RDW_LENGTH,
            first_record=done, problems=problems,
        )  # fmt: skip
        return table, offset + framed.consumed, done + len(starts)

    def _rdw_chunk(
        self, handle: io.FileIO, name: str, offset: int, size: int, records: int
    ) -> tuple[np.ndarray, bool]:
        """Bytes from `offset` for about `records` records (always room for the largest one)."""
        guess = min(records * (self.layout.record_length + RDW_LENGTH), MAX_CHUNK_BYTES)
        want = min(size - offset, max(guess, MAX_RDW_RECORD))
        chunk = read_exactly(handle, name, offset, want)
        if not len(chunk):
            raise BadInput("no record could be framed", where=f"{name}: byte {offset}")
        return chunk, offset + want >= size


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
