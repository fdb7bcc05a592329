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
object", "… bytes not valid in utf-8", "… nests deeper than max_depth (64 levels)",
"… longer than max_line_bytes (16777216 bytes)" (its raw text is cut), "… postal_code:
longer than max_field_bytes (1048576 bytes)". Nesting is measured on the bytes before
pyarrow sees them (`connectors.files.json_depth`): a line nested 100,000 deep would
overflow the parser. A chunk that fails is split in halves until the failing lines stand
alone, so a bad line costs a few extra parses, not a Python loop over the file. Blank
lines are skipped. The limits are `connectors.files.bounds.Limits`.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.json as pj

from connectors.files.bounds import RAW_LIMIT, TEXT_LIMIT_SETTINGS, Limits, split_rows, value_problems
from connectors.files.json_depth import deep_lines
from connectors.rebatch import skip_records
from connectors.source_errors import error_rows, with_error_columns
from govbus.errors import TransientError

CHUNK_SIZE = 1 << 20
SETTINGS = ("directory", "pattern", "archive_directory", "settle_seconds", *TEXT_LIMIT_SETTINGS)
_JSON_SPACE = b" \t\r\n"
_NULL_LINE = re.compile(rb"\n[ \t\r]*null[ \t\r]*(?=\n|\Z)")  # a `null` line after the first


class JsonLinesFormat:
    """The `FileFormat` of JSON Lines files (see the module doc)."""

    kind = "jsonl"
    default_pattern = "*.jsonl"

    def __init__(self, limits: Limits | None = None) -> None:
        self.limits = limits or Limits()

    def records(self, path: Path, name: str, skip: int) -> Iterator[pa.Table]:
        """The file's records after the first `skip`, plus the error columns."""
        self.limits.check_file(path, name)
        return skip_records(_FileParser(path, name, self.limits).tables(), skip)


class _Overlong:
    """A line longer than max_line_bytes: its number and first bytes (the rest is skipped)."""

    def __init__(self, line: int, head: bytes) -> None:
        self.line, self.head = line, head


class _FileParser:
    def __init__(self, path: Path, name: str, limits: Limits) -> None:
        self._path, self._name, self._limits = path, name, limits
        self._text_columns: dict[str, pa.DataType] = {}  # top-level fields kept as text

    def tables(self) -> Iterator[pa.Table]:
        for piece, line in self._chunks():
            if isinstance(piece, _Overlong):
                problem = f"longer than max_line_bytes ({self._limits.max_line_bytes} bytes)"
                yield self._error(piece.line, problem, piece.head.decode("utf-8", errors="backslashreplace"))
            else:
                yield from self._parse(piece, line)

    def _chunks(self) -> Iterator[tuple[bytes | _Overlong, int]]:
        """(chunk of whole lines, its first line number), or (`_Overlong`, its line)."""
        limit = self._limits.max_line_bytes
        line = 1
        try:
            with open(self._path, "rb") as handle:
                rest = b""
                skipping: _Overlong | None = None  # inside an overlong line: drop to its end
                while block := handle.read(CHUNK_SIZE):
                    if skipping is not None:
                        end = block.find(b"\n")
                        if end < 0:
                            continue
                        yield skipping, skipping.line
                        line, skipping, block = line + 1, None, block[end + 1 :]
                    data = rest + block
                    cut = data.rfind(b"\n") + 1
                    if cut:
                        yield data[:cut], line
                        line += data.count(b"\n", 0, cut)
                    rest = data[cut:]
                    if len(rest) > limit:  # a line longer than the limit: keep its head only
                        skipping, rest = _Overlong(line, rest[:RAW_LIMIT]), b""
                if skipping is not None:
                    yield skipping, skipping.line
                elif rest:
                    yield rest, line
        except OSError as exc:
            raise TransientError(f"cannot read the file ({type(exc).__name__})", where=self._name) from None

    def _parse(self, data: bytes, first_line: int) -> list[pa.Table]:
        """Tables of the lines in `data` (which starts at line `first_line`)."""
        bad = self._bounds(data)
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            return self._around(data, first_line, bad, utf8=True)
        if bad:
            return self._around(data, first_line, bad, utf8=False)
        table = self._read(data)
        if table is not None and table.num_rows == _object_lines(data):
            return [self._bounded(table, data, first_line)] if table.num_rows else []
        lines = data.rstrip(b"\n").count(b"\n") + 1
        if lines == 1:
            return [self._bad_line(data, first_line)] if data.strip(_JSON_SPACE) else []
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

    def _bounds(self, data: bytes) -> dict[int, str]:
        """The lines of `data` (0-based) over max_line_bytes or max_depth, and why."""
        limits = self._limits
        raw = np.frombuffer(data, dtype=np.uint8)
        ends = np.append(np.flatnonzero(raw == 0x0A), raw.size)
        lengths = np.diff(np.concatenate(([-1], ends))) - 1
        bad = {
            int(i): f"longer than max_line_bytes ({limits.max_line_bytes} bytes)"
            for i in np.flatnonzero(lengths > limits.max_line_bytes)
        }
        for i in deep_lines(data, limits.max_depth).tolist():
            bad.setdefault(int(i), f"nests deeper than max_depth ({limits.max_depth} levels)")
        # pyarrow reads a `null` line as a row of nulls (and crashes on a chunk of only such lines)
        newlines = ends[:-1]
        first = data[: int(newlines[0]) if newlines.size else len(data)]
        if first.strip(_JSON_SPACE) == b"null":
            bad.setdefault(0, "not a JSON object")
        for match in _NULL_LINE.finditer(data):
            bad.setdefault(int(np.searchsorted(newlines, match.start())) + 1, "not a JSON object")
        return bad

    def _around(self, data: bytes, first_line: int, bad: dict[int, str], *, utf8: bool) -> list[pa.Table]:
        """A chunk holding lines out of bounds (`bad`: index → why) or, if `utf8`, bytes that
        are not UTF-8: those lines become error rows, the stretches between are parsed."""
        tables: list[pa.Table] = []
        start = 0
        lines = data.split(b"\n")
        for i, line in enumerate(lines):
            problem = bad.get(i)
            if problem is None and utf8:
                try:
                    line.decode("utf-8")
                except UnicodeDecodeError:
                    problem = "bytes not valid in utf-8"
            if problem is None:
                continue
            good = b"\n".join(lines[start:i])
            if good.strip(_JSON_SPACE):
                tables += self._parse(good + b"\n", first_line + start)
            raw = line[:RAW_LIMIT].rstrip(b"\r").decode("utf-8", errors="backslashreplace")
            tables.append(self._error(first_line + i, problem, raw))
            start = i + 1
        rest = b"\n".join(lines[start:])
        if rest.strip(_JSON_SPACE):
            tables += self._parse(rest, first_line + start)
        return tables

    def _bounded(self, table: pa.Table, data: bytes, first_line: int) -> pa.Table:
        """The parsed chunk with rows holding a value over max_field_bytes as error rows."""
        problems = value_problems(table, self._limits)
        if not problems.any:
            return with_error_columns(table)
        lines = data.split(b"\n")
        filled = [i for i, line in enumerate(lines) if line.strip(_JSON_SPACE)]
        rows = np.flatnonzero(problems.codes >= 0)
        numbers = [first_line + filled[r] if len(filled) == table.num_rows else first_line for r in rows]
        raws = [
            lines[filled[r]][:RAW_LIMIT].rstrip(b"\r").decode("utf-8", errors="backslashreplace")
            if len(filled) == table.num_rows
            else None
            for r in rows
        ]
        heads = [f"{self._name} line {n}" for n in numbers]
        return split_rows(table, problems, heads, [f"{self._name}:{n}" for n in numbers], raws)

    def _bad_line(self, line: bytes, number: int) -> pa.Table:
        text = line.rstrip(b"\r\n")
        try:
            value = json.loads(text.decode("utf-8"))
        except UnicodeDecodeError:
            problem = "bytes not valid in utf-8"
        except (ValueError, RecursionError):
            problem = "not valid JSON"
        else:
            problem = "a JSON object pyarrow cannot read" if isinstance(value, dict) else "not a JSON object"
        return self._error(number, problem, text.decode("utf-8", errors="backslashreplace"))

    def _error(self, number: int, problem: str, raw: str) -> pa.Table:
        """One error row for line `number`."""
        return error_rows(
            pa.schema([]), [f"{self._name} line {number}: {problem}"], [f"{self._name}:{number}"], [raw]
        )


def _object_lines(data: bytes) -> int:
    """Lines holding a `{` (counted with numpy). Every row pyarrow reads comes from such a
    line, one each; more rows than lines means a line held two values (pyarrow reads
    `{"a":1}{"a":2}` as two rows, which `json` refuses), and the chunk is split."""
    raw = np.frombuffer(data, dtype=np.uint8)
    braces = np.flatnonzero(raw == 0x7B)
    if braces.size == 0:
        return 0
    lines = np.searchsorted(np.flatnonzero(raw == 0x0A), braces)
    return int(np.count_nonzero(np.diff(lines))) + 1
