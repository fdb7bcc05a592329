"""JSON Lines drop files: `JsonLinesFormat` reads them for `DropFolderSource`.

One JSON object per line, UTF-8 (as RFC 8259 requires). The file is read in chunks of
about 1 MiB cut at line ends and each chunk is parsed by `pyarrow.json`, so memory does
not grow with the file. Types are JSON's, as pyarrow infers them per chunk: integers →
int64, other numbers → float64 (only ~15 significant digits survive: write exact
decimals as strings, as `JsonLinesSink` does), objects → structs, arrays → lists. A
top-level value pyarrow would read as a timestamp ("2024-05-01", "2024-05-01 08:00:00")
is kept as the text it was, so the conform step sees what the file said.

A line that cannot be read does not fail the file: it becomes an error row
(`connectors.source_errors`): "events.jsonl line 17: not valid JSON", "… not a JSON
object", "… bytes not valid in utf-8". A chunk that fails is split in halves until the
failing lines stand alone, so a bad line costs a few extra parses, not a Python loop over
the file. Blank lines are skipped.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.json as pj

from connectors.rebatch import skip_records
from connectors.source_errors import error_rows, with_error_columns
from govbus.errors import TransientError

CHUNK_SIZE = 1 << 20
SETTINGS = ("directory", "pattern", "archive_directory", "settle_seconds")


class JsonLinesFormat:
    """The `FileFormat` of JSON Lines files (see the module doc)."""

    kind = "jsonl"
    default_pattern = "*.jsonl"

    def records(self, path: Path, name: str, skip: int) -> Iterator[pa.Table]:
        """The file's records after the first `skip`, plus the error columns."""
        return skip_records(_FileParser(path, name).tables(), skip)


class _FileParser:
    def __init__(self, path: Path, name: str) -> None:
        self._path, self._name = path, name
        self._text_columns: dict[str, pa.DataType] = {}  # top-level fields kept as text

    def tables(self) -> Iterator[pa.Table]:
        line = 1
        for chunk in self._chunks():
            yield from self._parse(chunk, line)
            line += chunk.count(b"\n")

    def _chunks(self) -> Iterator[bytes]:
        try:
            with open(self._path, "rb") as handle:
                rest = b""
                while block := handle.read(CHUNK_SIZE):
                    data = rest + block
                    cut = data.rfind(b"\n") + 1
                    if cut == 0:
                        rest = data  # a line longer than a chunk: read on
                        continue
                    rest = data[cut:]
                    yield data[:cut]
                if rest:
                    yield rest
        except OSError as exc:
            raise TransientError(f"cannot read the file ({type(exc).__name__})", where=self._name) from None

    def _parse(self, data: bytes, first_line: int) -> list[pa.Table]:
        """Tables of the lines in `data` (which starts at line `first_line`)."""
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            return self._undecodable(data, first_line)
        table = self._read(data)
        if table is not None:
            return [with_error_columns(table)] if table.num_rows else []
        lines = data.rstrip(b"\n").count(b"\n") + 1
        if lines == 1:
            return [self._bad_line(data, first_line)] if data.strip() else []
        middle = data.find(b"\n", len(data) // 2)
        if middle < 0 or middle == len(data) - 1:
            middle = data.rfind(b"\n", 0, len(data) - 1)
        left, right = data[: middle + 1], data[middle + 1 :]
        return self._parse(left, first_line) + self._parse(right, first_line + left.count(b"\n"))

    def _read(self, data: bytes) -> pa.Table | None:
        """`data` parsed, or None if pyarrow refuses it; top-level timestamps stay text."""
        options = pj.ReadOptions(use_threads=False, block_size=max(len(data) + 64, 1 << 16))
        attempts = [self._text_columns, {}] if self._text_columns else [self._text_columns]
        for text_columns in attempts:
            parse = pj.ParseOptions(
                explicit_schema=pa.schema(text_columns) if text_columns else None,
                unexpected_field_behavior="infer",
            )
            try:
                table = pj.read_json(io.BytesIO(data), read_options=options, parse_options=parse)
            except pa.ArrowInvalid as exc:
                if "Empty JSON file" in str(exc):
                    return pa.table({})
                continue
            stamps = {f.name: pa.string() for f in table.schema if pa.types.is_timestamp(f.type)}
            if stamps and text_columns is self._text_columns:
                self._text_columns.update(stamps)
                return self._read(data)
            return table
        return None

    def _undecodable(self, data: bytes, first_line: int) -> list[pa.Table]:
        """A chunk holding bytes that are not UTF-8: parse around the lines that hold them."""
        tables: list[pa.Table] = []
        start = 0
        lines = data.split(b"\n")
        for i, line in enumerate(lines):
            try:
                line.decode("utf-8")
            except UnicodeDecodeError:
                good = b"\n".join(lines[start:i])
                if good.strip():
                    tables += self._parse(good + b"\n", first_line + start)
                tables.append(self._bad_line(line, first_line + i))
                start = i + 1
        rest = b"\n".join(lines[start:])
        if rest.strip():
            tables += self._parse(rest, first_line + start)
        return tables

    def _bad_line(self, line: bytes, number: int) -> pa.Table:
        text = line.rstrip(b"\r\n")
        try:
            value = json.loads(text.decode("utf-8"))
        except UnicodeDecodeError:
            problem = "bytes not valid in utf-8"
        except ValueError:
            problem = "not valid JSON"
        else:
            problem = "a JSON object pyarrow cannot read" if isinstance(value, dict) else "not a JSON object"
        return error_rows(
            pa.schema([]),
            [f"{self._name} line {number}: {problem}"],
            [f"{self._name}:{number}"],
            [text.decode("utf-8", errors="backslashreplace")],
        )
