"""File sinks: `CsvSink`, `JsonLinesSink`, `AvroSink` (one file per batch id, atomic).

Each writes `<directory>/<batch_id>.<csv|jsonl|avro>` through `connectors.atomic_files`:
a reader sees the whole file or none, and writing a batch id again replaces its file (a
retry never leaves a half file or a duplicate). The receipt lists (file name, sha256).

Values stay exact (see `connectors.files.text_columns` for the text forms): CSV and JSON Lines
write decimals as plain-digit text, timestamps as ISO-8601 UTC text, binary as hex;
CSV writes null as an empty field and the empty string as `""`. CSV refuses nested
columns (lists, structs, maps); JSON Lines writes them as JSON arrays and objects.
Avro files carry the schema (`connectors.files.avro_types`): decimal logical types, timestamps
in the column's unit (nanoseconds included), the `deflate` codec by default. fastavro
encodes row by row (there is no columnar Avro encoder), so AvroSink is the slowest.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from pathlib import Path

import fastavro
import pyarrow as pa
import pyarrow.csv as pcsv

from connectors.atomic_files import check_batch_id, write_atomically
from connectors.base import SinkReceipt
from connectors.files.avro_types import writing_plan
from connectors.files.text_columns import csv_table, json_lines
from govbus.errors import BadConfiguration, BadInput, TransientError

AVRO_CODECS = ("null", "deflate")


class _FileSink(ABC):
    """Shared: directory, batch id checks, the atomic write and the error mapping."""

    suffix = ""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        if not isinstance(directory, str | os.PathLike) or not str(directory):
            raise BadConfiguration("must be a directory path", where="directory")
        self._directory = Path(directory)

    def write(self, batch_id: str, data: pa.Table) -> SinkReceipt:
        """Write the batch's file; an existing file of the same batch id is replaced."""
        check_batch_id(batch_id)
        if not isinstance(data, pa.Table):
            raise BadInput("must be a pyarrow Table", where="data")
        name = f"{batch_id}.{self.suffix}"
        content = self._render(data, batch_id)
        try:
            path, digest = write_atomically(self._directory, name, lambda handle: handle.write(content))
        except OSError as exc:
            raise TransientError(
                f"cannot write the batch file ({type(exc).__name__})",
                where=str(self._directory),
                hint="check the directory exists, is writable and has free space",
            ) from None
        return SinkReceipt(batch_id=batch_id, rows=data.num_rows, location=str(path), files=((name, digest),))

    def close(self) -> None:  # noqa: B027 - deliberately a no-op for every file sink
        """Nothing to release: every write is complete when it returns."""

    @abstractmethod
    def _render(self, data: pa.Table, batch_id: str) -> bytes:
        """The file's whole content (a batch is bounded, so this is too)."""


class CsvSink(_FileSink):
    """Writes `<batch_id>.csv`: a header line, then one line per row (UTF-8)."""

    suffix = "csv"

    def __init__(self, directory: str | os.PathLike[str], *, delimiter: str = ",") -> None:
        super().__init__(directory)
        if not isinstance(delimiter, str) or len(delimiter) != 1 or delimiter in '"\r\n':
            raise BadConfiguration(
                "must be one character other than a quote or a line break", where="delimiter"
            )
        self._delimiter = delimiter

    def _render(self, data: pa.Table, batch_id: str) -> bytes:
        table = csv_table(data)
        options = pcsv.WriteOptions(include_header=True, delimiter=self._delimiter, quoting_style="needed")
        sink = pa.BufferOutputStream()
        try:
            pcsv.write_csv(table, sink, write_options=options)
        except pa.ArrowException:
            raise BadInput("the batch cannot be written as CSV", where=f"batch {batch_id}") from None
        return sink.getvalue().to_pybytes()


class JsonLinesSink(_FileSink):
    """Writes `<batch_id>.jsonl`: one JSON object per row (UTF-8)."""

    suffix = "jsonl"

    def _render(self, data: pa.Table, batch_id: str) -> bytes:
        try:
            return json_lines(data)
        except pa.ArrowException:
            raise BadInput("the batch cannot be written as JSON Lines", where=f"batch {batch_id}") from None


class AvroSink(_FileSink):
    """Writes `<batch_id>.avro`: an Avro object container file with the batch's schema."""

    suffix = "avro"

    def __init__(self, directory: str | os.PathLike[str], *, codec: str = "deflate") -> None:
        super().__init__(directory)
        if codec not in AVRO_CODECS:
            raise BadConfiguration(f"must be one of {', '.join(AVRO_CODECS)}", where="codec")
        self._codec = codec

    def _render(self, data: pa.Table, batch_id: str) -> bytes:
        avro_schema, plain = writing_plan(data.schema)
        try:
            rows = data.cast(plain).to_pylist(maps_as_pydicts="strict")
            parsed = fastavro.parse_schema(avro_schema)
            out = pa.BufferOutputStream()
            handle = pa.PythonFile(out, mode="w")
            fastavro.writer(handle, parsed, rows, codec=self._codec)
            handle.flush()
        except (pa.ArrowException, ValueError, TypeError, OverflowError):
            raise BadInput(
                "the batch cannot be written as Avro (a value does not fit its column's Avro type)",
                where=f"batch {batch_id}",
            ) from None
        return out.getvalue().to_pybytes()
