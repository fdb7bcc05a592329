"""CSV drop files: `CsvFormat` reads them for `DropFolderSource`, every column as text.

Columns come out as strings (the exchange's conform step casts them to the schema's
types); `null_values` (default: the empty unquoted field) read as null, a quoted empty
field `""` as the empty string. pyarrow's streaming reader parses 1 MiB blocks, so memory
does not grow with the file.

A record that cannot be read does not fail the file: it becomes an error row
(`connectors.source_errors`) with a reason and position naming the physical line:

* wrong field count: "orders.csv line 17: expected 6 fields, found 5";
* a quoted value spanning lines while `newlines_in_values` is false (an unclosed quote
  swallows the lines up to the next quote): "… line 9: a quoted value runs over 3 lines";
* bytes that are not valid in `encoding`: "… line 4: bytes not valid in utf-8 at byte 812".

* a value longer than `max_field_bytes`: "… line 5: postal_code: longer than
  max_field_bytes (1048576 bytes)" (its raw text is cut at 64 KiB).

Lines without any value (blank, or only delimiters) are skipped. Each file is first
scanned once (`connectors.files.text_scan`): a line longer than `max_line_bytes` fails
the file with `BadInput` naming file:line (pyarrow cannot read past it), and a UTF-8
file that holds bad bytes, or a file in another encoding, is decoded through
`connectors.files.text_decoding` (slower, same rows); a valid UTF-8 file is parsed
straight from disk. The raw column holds the offending line(s) as text; bytes that do not
decode are backslash escapes. The limits are `connectors.files.bounds.Limits`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv

from connectors.files.bounds import RAW_LIMIT, TEXT_LIMIT_SETTINGS, Limits, value_problems
from connectors.files.csv_lines import Invalid, LineCounter, extra_lines
from connectors.files.settings import SettingsReader
from connectors.files.text_decoding import MARK, MARK_START, TranscodedFile, check_encoding, line_at, unmark
from connectors.files.text_scan import scan_text
from connectors.rebatch import skip_records
from connectors.source_errors import data_schema, error_rows, with_error_columns
from govbus.errors import BadConfiguration, BadInput

BLOCK_SIZE = 1 << 20
_MAX_BLOCK = 1 << 30  # pyarrow's blocks are addressed with 32-bit offsets
SETTINGS = (
    "directory",
    "pattern",
    "archive_directory",
    "settle_seconds",
    "encoding",
    "delimiter",
    "quote_char",
    "escape_char",
    "header",
    "columns",
    "null_values",
    "newlines_in_values",
    *TEXT_LIMIT_SETTINGS,
)


@dataclass(frozen=True)
class CsvOptions:
    """How the files are written. `columns` names the fields when `header` is false."""

    encoding: str = "utf-8"
    delimiter: str = ","
    quote_char: str | None = '"'
    escape_char: str | None = None
    header: bool = True
    columns: tuple[str, ...] | None = None
    null_values: tuple[str, ...] = ("",)
    newlines_in_values: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "encoding", check_encoding(self.encoding))
        if self.header and self.columns is not None:
            raise BadConfiguration("is only used when header is false", where="columns")
        if not self.header and not self.columns:
            raise BadConfiguration("must name the fields when the files have no header", where="columns")
        if self.columns is not None and len(set(self.columns)) != len(self.columns):
            raise BadConfiguration("must not name a field twice", where="columns")
        specials = [c for c in (self.delimiter, self.quote_char, self.escape_char) if c is not None]
        if len(set(specials)) != len(specials) or any(not c.isascii() for c in specials):
            raise BadConfiguration(
                "delimiter, quote and escape characters must be distinct ASCII characters",
                where="delimiter",
            )

    @classmethod
    def from_settings(cls, settings: SettingsReader) -> CsvOptions:
        """Read the CSV settings (`SETTINGS` lists them) with their defaults."""
        return cls(
            encoding=settings.text("encoding", "utf-8"),
            delimiter=settings.char("delimiter", ",") or ",",
            quote_char=settings.char("quote_char", '"', nullable=True),
            escape_char=settings.char("escape_char", None, nullable=True),
            header=settings.flag("header", True),
            columns=settings.texts("columns", None),
            null_values=settings.texts("null_values", [""]) or (),
            newlines_in_values=settings.flag("newlines_in_values", False),
        )


class _Undecodable(Exception):
    """The fast path met bytes that are not UTF-8: decode the file instead."""


class CsvFormat:
    """The `FileFormat` of CSV files (see the module doc)."""

    kind = "csv"
    default_pattern = "*.csv"

    def __init__(self, options: CsvOptions | None = None, limits: Limits | None = None) -> None:
        self.options = options or CsvOptions()
        self.limits = limits or Limits()

    def records(self, path: Path, name: str, skip: int) -> Iterator[pa.Table]:
        """The file's records after the first `skip`, as text columns plus error columns."""
        self.limits.check_file(path, name)
        utf8 = self.options.encoding in ("utf-8", "utf-8-sig")  # pyarrow reads UTF-8 (and skips a BOM)
        scan = scan_text(path, name, max_line_bytes=self.limits.max_line_bytes, check_utf8=utf8)
        # a block must hold the longest line; transcoding may triple a line's bytes
        longest = scan.longest_line * (1 if utf8 else 3)
        block = min(_MAX_BLOCK, max(BLOCK_SIZE, 1 << (2 * longest + 1).bit_length()))
        emitted = 0
        if utf8 and scan.utf8:
            try:
                parser = _FileParser(self.options, self.limits, path, name, decode=False, block=block)
                for table in skip_records(parser.tables(), skip):
                    emitted += table.num_rows
                    yield table
                return
            except _Undecodable:
                pass
        parser = _FileParser(self.options, self.limits, path, name, decode=True, block=block)
        yield from skip_records(parser.tables(), skip + emitted)


class _FileParser:
    """One pass over one file; keeps the record numbering and the pending bad records."""

    def __init__(
        self, options: CsvOptions, limits: Limits, path: Path, name: str, *, decode: bool, block: int
    ) -> None:
        self._options, self._path, self._name, self._decode = options, path, name, decode
        self._limits, self._block = limits, block
        self._invalid: list[Invalid] = []
        self._lines = LineCounter(first_record=2 if options.header else 1)
        self._stream: TranscodedFile | None = None

    def _source(self) -> Any:
        if not self._decode:
            return str(self._path)
        return TranscodedFile(self._path, self._options.encoding)

    def _parse_options(self) -> pcsv.ParseOptions:
        return pcsv.ParseOptions(
            delimiter=self._options.delimiter,
            quote_char=self._options.quote_char or False,
            double_quote=self._options.quote_char is not None,
            escape_char=self._options.escape_char or False,
            newlines_in_values=self._options.newlines_in_values,
            ignore_empty_lines=False,  # so that record numbers stay physical line numbers
            invalid_row_handler=self._collect,
        )

    def _collect(self, row: Any) -> str:
        text = row.text if row.text.strip("\r\n") else None  # None: a blank line, no error
        self._invalid.append((row.number, row.expected_columns, row.actual_columns, text))
        return "skip"

    def tables(self) -> Iterator[pa.Table]:
        try:
            names = list(self._options.columns) if self._options.columns else self._header()
            if names is None:
                return
            self._stream = self._source() if self._decode else None
            reader = pcsv.open_csv(
                self._stream or str(self._path),
                read_options=pcsv.ReadOptions(
                    use_threads=False,
                    block_size=self._block,
                    column_names=names,
                    skip_rows=1 if self._options.header else 0,
                ),
                parse_options=self._parse_options(),
                convert_options=pcsv.ConvertOptions(
                    column_types={column: pa.string() for column in names},
                    null_values=list(self._options.null_values),
                    strings_can_be_null=True,
                    quoted_strings_can_be_null=False,
                ),
            )
            for batch in reader:
                yield self._checked(pa.Table.from_batches([batch]))
            if self._invalid:
                yield self._checked(pa.Table.from_batches([], schema=reader.schema), final=True)
        except (pa.ArrowInvalid, UnicodeDecodeError):
            if not self._decode:
                raise _Undecodable from None
            raise BadInput(
                "cannot be read as CSV with the configured settings",
                where=self._name,
                hint="check encoding, delimiter, quote_char and newlines_in_values (a quoted value "
                "with line breaks may run longer than pyarrow's block: is a quote left open?)",
            ) from None
        finally:
            if self._stream is not None:
                self._stream.close()

    def _header(self) -> list[str] | None:
        source = self._source()
        try:
            reader = pcsv.open_csv(
                source,
                read_options=pcsv.ReadOptions(use_threads=False, block_size=self._block),
                parse_options=self._parse_options(),
            )
        except pa.ArrowInvalid as exc:
            if "Empty CSV file" in str(exc):
                return None
            raise
        finally:
            if isinstance(source, TranscodedFile):
                source.close()
        self._invalid.clear()  # the header pass's complaints are found again by the real pass
        names = reader.schema.names
        if len(set(names)) != len(names):
            raise BadInput(
                "the header names a column twice",
                where=self._name,
                hint="give every column its own name, or set header: false and list columns",
            )
        if self._decode and any(MARK_START in column for column in names):
            raise BadInput(
                "the header holds bytes that are not valid in the encoding",
                where=self._name,
                hint="fix the header line or the encoding setting",
            )
        return names

    def _checked(self, table: pa.Table, *, final: bool = False) -> pa.Table:
        """Split a parsed block into good rows and error rows (see the module doc)."""
        extras = extra_lines(table)
        marks = _first_marks(table) if self._decode and self._stream and self._stream.errors else None
        claimed = self._lines.claim(self._invalid, table.num_rows, final=final)
        numbers, lines = self._lines.advance(table.num_rows, extras, claimed)
        pairs = zip(claimed, numbers, strict=True)
        invalid = [(expected, found, text, line) for (_, expected, found, text), line in pairs if text]
        flagged = np.zeros(table.num_rows, dtype=bool)
        if not self._options.newlines_in_values:
            flagged |= extras > 0
        if marks is not None:
            flagged |= marks >= 0
        oversize = value_problems(table, self._limits)
        flagged |= oversize.codes >= 0
        empty = _empty_rows(table)
        if not invalid and not flagged.any() and empty is None:
            return with_error_columns(table)
        keep = ~flagged if empty is None else ~flagged & ~empty
        good = with_error_columns(table.filter(pa.array(keep)))
        reasons, positions, raws, order = [], [], [], []
        for row in np.flatnonzero(flagged):
            line = int(lines[row])
            if marks is not None and marks[row] >= 0:
                error = self._stream.errors[int(marks[row])]  # type: ignore[union-attr]
                reasons.append(
                    f"{self._name} line {error.line}: bytes not valid in "
                    f"{self._options.encoding} at byte {error.offset}"
                )
                raws.append(line_at(self._path, error.offset, self._options.encoding))
                line = error.line
            elif extras[row] > 0 and not self._options.newlines_in_values:
                reasons.append(
                    f"{self._name} line {line}: a quoted value runs over "
                    f"{int(extras[row]) + 1} lines (unclosed quote?)"
                )
                raws.append(_joined(table, int(row), self._options.delimiter))
            else:
                reasons.append(f"{self._name} line {line}: {oversize.reasons[oversize.codes[row]]}")
                raws.append(_joined(table, int(row), self._options.delimiter)[:RAW_LIMIT])
            positions.append(f"{self._name}:{line}")
            order.append(line)
        for expected, found, text, line in invalid:
            reasons.append(f"{self._name} line {line}: expected {expected} fields, found {found}")
            positions.append(f"{self._name}:{line}")
            raws.append(unmark(text, self._stream.errors) if self._stream else text)
            order.append(line)
        ranked = np.argsort(np.array(order), kind="stable")
        columns = ([items[i] for i in ranked] for items in (reasons, positions, raws))
        errors = error_rows(data_schema(good), *columns)
        return pa.concat_tables([good, errors])


def _first_marks(table: pa.Table) -> np.ndarray:
    """Per row, the index of the first decoding-error mark in any column, or -1."""
    first = np.full(table.num_rows, -1, dtype=np.int64)
    for column in table.columns:
        found = pc.extract_regex(column, MARK.pattern.replace("(", "(?P<n>", 1))
        numbers = pc.struct_field(found, "n")
        has = pc.fill_null(pc.is_valid(found), False).to_numpy(zero_copy_only=False)
        if not has.any():
            continue
        values = np.where(has, pc.cast(pc.fill_null(numbers, "0"), pa.int64()).to_numpy(), -1)
        first = np.where((first < 0) | ((values >= 0) & (values < first)), values, first)
    return first


def _empty_rows(table: pa.Table) -> np.ndarray | None:
    """Rows with no value at all (blank lines, or only delimiters), or None if there are none."""
    if table.num_columns == 0 or table.num_rows == 0 or table.column(0).null_count == 0:
        return None
    empty = pc.is_null(table.column(0))
    for column in table.columns[1:]:
        if column.null_count == 0:
            return None
        empty = pc.and_(empty, pc.is_null(column))
    mask = empty.to_numpy()
    return mask if mask.any() else None


def _joined(table: pa.Table, row: int, delimiter: str) -> str:
    values = table.slice(row, 1).to_pylist()[0].values()
    return delimiter.join("" if value is None else value for value in values)
