"""Limits every file parser keeps, and the vectorized checks that enforce them on a table.

A hostile or broken file must not exhaust memory, the stack or the time of a run, and
must not slip a value through that the schema could not hold. Each file source takes
these limits from its settings (defaults in brackets):

    max_field_bytes   the longest value (text or bytes) a record may hold [1 MiB]; a
                      record with a longer one becomes an error row
    max_line_bytes    the longest line of a text file (CSV, JSON Lines) [16 MiB]
    max_depth         how deeply JSON values (and nested column types) may nest [64]
    max_file_bytes    the largest file read; a larger one fails with `BadInput` naming
                      it [no limit: files are streamed]

`value_problems` finds, column by column with Arrow kernels, the rows holding a value
longer than `max_field_bytes`, text that is not valid UTF-8, or a decimal with more
digits than its type declares; `split_rows` turns those rows into error rows
(`connectors.source_errors`) so the rest of the file still flows. Reasons name the
column and the rule, never the value.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from connectors.files.settings import SettingsReader
from connectors.source_errors import SOURCE_ERROR_COLUMNS, data_schema, error_rows, with_error_columns
from govbus.errors import BadConfiguration, BadInput

MIB = 1 << 20
DEFAULT_FIELD_BYTES = MIB
DEFAULT_LINE_BYTES = 16 * MIB
DEFAULT_DEPTH = 64
TEXT_LIMIT_SETTINGS = ("max_field_bytes", "max_line_bytes", "max_depth", "max_file_bytes")
"""The limit settings of text formats (CSV, JSON Lines)."""
BINARY_LIMIT_SETTINGS = ("max_field_bytes", "max_depth", "max_file_bytes")
"""The limit settings of binary formats (Parquet, Avro): they have no lines."""
RAW_LIMIT = 64 * 1024
"""The longest raw text kept for a record refused for its size (the file keeps the rest)."""
_UTF8_INDEX = re.compile(r"Invalid UTF8")


@dataclass(frozen=True)
class Limits:
    """The bounds of one file source (see the module doc)."""

    max_field_bytes: int = DEFAULT_FIELD_BYTES
    max_line_bytes: int = DEFAULT_LINE_BYTES
    max_depth: int = DEFAULT_DEPTH
    max_file_bytes: int | None = None

    def __post_init__(self) -> None:
        for name in ("max_field_bytes", "max_line_bytes", "max_depth"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise BadConfiguration("must be a positive whole number", where=name)
        if self.max_depth > 1000:
            raise BadConfiguration(
                "must be at most 1000 (deeper values overflow the parsers)", where="max_depth"
            )
        size = self.max_file_bytes
        if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 1):
            raise BadConfiguration(
                "must be a positive whole number of bytes, or null", where="max_file_bytes"
            )

    @classmethod
    def from_settings(cls, reader: SettingsReader, names: Sequence[str] = TEXT_LIMIT_SETTINGS) -> Limits:
        """The limits among `names` a source's settings give; the defaults for the others."""
        values: dict[str, Any] = {}
        for name in names:
            default = getattr(cls, name)
            if name == "max_file_bytes":
                value = reader.optional_number(name, minimum=1, maximum=float(1 << 50))
                if value is None:
                    continue
            else:
                top = 1000 if name == "max_depth" else float(1 << 40)
                value = reader.number(name, default, minimum=1, maximum=top)
            if value != int(value):
                raise BadConfiguration("must be a whole number", where=name)
            values[name] = int(value)
        return cls(**values)

    def check_file(self, path: Path, name: str) -> None:
        """Refuse a file larger than `max_file_bytes` before reading it."""
        if self.max_file_bytes is None:
            return
        try:
            size = path.stat().st_size
        except OSError:
            return  # the reader names the problem
        if size > self.max_file_bytes:
            raise BadInput(
                f"the file is larger than max_file_bytes ({self.max_file_bytes} bytes)",
                where=name,
                hint="raise max_file_bytes in the source's settings, or ask the sender to split the file",
            )


def type_depth(kind: pa.DataType) -> int:
    """How deeply a type nests (a scalar: 0, a list of scalars: 1, ...)."""
    if isinstance(kind, pa.BaseExtensionType):
        kind = kind.storage_type
    if pa.types.is_dictionary(kind):
        return type_depth(kind.value_type)
    if kind.num_fields == 0:
        return 0
    return 1 + max(type_depth(kind.field(i).type) for i in range(kind.num_fields))


def check_type_depth(schema: pa.Schema, limits: Limits, name: str) -> None:
    """Refuse a file whose column types nest deeper than `max_depth` (names the file)."""
    for field in schema:
        if type_depth(field.type) > limits.max_depth:
            raise BadInput(
                f"a column nests deeper than max_depth ({limits.max_depth} levels)",
                where=name,
                hint="raise max_depth in the source's settings, or ask the sender to flatten the data",
            )


@dataclass
class ValueProblems:
    """Per row, the index of its first problem in `reasons` (-1: none)."""

    codes: np.ndarray
    reasons: list[str]

    @property
    def any(self) -> bool:
        """Does any row have a problem?"""
        return bool((self.codes >= 0).any())

    def add(self, mask: np.ndarray, reason: str) -> None:
        """Record `reason` for the rows of `mask` that have no problem yet."""
        if not mask.any():
            return
        fresh = mask & (self.codes < 0)
        if fresh.any():
            self.codes[fresh] = len(self.reasons)
            self.reasons.append(reason)


def value_problems(
    table: pa.Table, limits: Limits, *, utf8: bool = False, decimals: bool = False
) -> ValueProblems:
    """The rows holding a value over `max_field_bytes`; with `utf8`, text that is not valid
    UTF-8; with `decimals`, decimals with more digits than their type declares."""
    problems = ValueProblems(np.full(table.num_rows, -1, dtype=np.int64), [])
    if table.num_rows == 0:
        return problems
    for index, field in enumerate(table.schema):
        if field.name in SOURCE_ERROR_COLUMNS:
            continue
        column = table.column(index)
        offset = 0
        for chunk in column.chunks:
            for mask, reason in _bad_elements(chunk, field.name, limits, utf8, decimals):
                full = np.zeros(table.num_rows, dtype=bool)
                full[offset : offset + len(chunk)] = mask
                problems.add(full, reason)
            offset += len(chunk)
    return problems


def _bad_elements(
    array: pa.Array, name: str, limits: Limits, utf8: bool, decimals: bool
) -> list[tuple[np.ndarray, str]]:
    """(mask over `array`, reason) for each rule some element of `array` breaks."""
    found: list[tuple[np.ndarray, str]] = []
    kind = array.type
    if len(array) == 0 or array.null_count == len(array):
        return found
    if isinstance(kind, pa.BaseExtensionType):
        return _bad_elements(array.storage, name, limits, utf8, decimals)
    if pa.types.is_dictionary(kind):
        return _bad_elements(array.dictionary_decode(), name, limits, utf8, decimals)
    t = pa.types
    if t.is_string(kind) or t.is_large_string(kind) or t.is_binary(kind) or t.is_large_binary(kind):
        too_long = _longer_than(array, limits.max_field_bytes)
        if too_long is not None:
            found.append((too_long, f"{name}: longer than max_field_bytes ({limits.max_field_bytes} bytes)"))
        if utf8 and (t.is_string(kind) or t.is_large_string(kind)):
            invalid = _invalid_utf8(array)
            if invalid is not None:
                found.append((invalid, f"{name}: text that is not valid UTF-8"))
    elif t.is_fixed_size_binary(kind):
        if kind.byte_width > limits.max_field_bytes:
            valid = pc.is_valid(array).to_numpy(zero_copy_only=False)
            found.append((valid, f"{name}: longer than max_field_bytes ({limits.max_field_bytes} bytes)"))
    elif t.is_decimal(kind) and decimals:
        over = _beyond_precision(array)
        if over is not None:
            found.append((over, f"{name}: more digits than decimal({kind.precision}, {kind.scale}) allows"))
    elif t.is_struct(kind):
        for i in range(kind.num_fields):
            child = pc.struct_field(array, [i])
            found += _bad_elements(child, f"{name}.{kind.field(i).name}", limits, utf8, decimals)
    elif t.is_map(kind):
        entry = pa.struct([("key", kind.key_type), kind.item_field.with_name("value")])
        return _bad_elements(array.cast(pa.list_(entry)), name, limits, utf8, decimals)
    elif t.is_list(kind) or t.is_large_list(kind) or t.is_fixed_size_list(kind):
        flat = pc.list_flatten(array)
        parents = pc.list_parent_indices(array).to_numpy(zero_copy_only=False)
        for mask, reason in _bad_elements(flat, f"{name}[]", limits, utf8, decimals):
            rows = np.zeros(len(array), dtype=bool)
            rows[parents[mask]] = True
            found.append((rows, reason))
    return found


def _longer_than(array: pa.Array, limit: int) -> np.ndarray | None:
    """Per element, is it longer than `limit` bytes? None when none is (the usual case,
    told from the offsets alone: one NumPy pass, no Arrow kernel)."""
    wide = pa.types.is_large_string(array.type) or pa.types.is_large_binary(array.type)
    item = np.dtype(np.int64 if wide else np.int32)
    offsets = np.frombuffer(array.buffers()[1], item, len(array) + 1, array.offset * item.itemsize)
    lengths = np.diff(offsets)
    if not len(lengths) or int(lengths.max()) <= limit:
        return None
    longer = lengths > limit
    if array.null_count:  # a null's slot may span bytes (rarely): it holds no value
        longer &= array.is_valid().to_numpy(zero_copy_only=False)
    return longer if longer.any() else None


def _invalid_utf8(array: pa.Array) -> np.ndarray | None:
    """Per element, is its text invalid UTF-8? None when all of it is valid (the usual
    case: one full validation in C). Bad stretches are found by halving."""
    try:
        array.validate(full=True)
        return None
    except pa.ArrowInvalid as exc:
        if not _UTF8_INDEX.search(str(exc)):
            raise
    mask = np.zeros(len(array), dtype=bool)
    stack = [(0, len(array))]
    while stack:
        start, stop = stack.pop()
        piece = array.slice(start, stop - start)
        try:
            piece.validate(full=True)
            continue
        except pa.ArrowInvalid:
            pass
        if stop - start == 1:
            mask[start] = True
            continue
        middle = (start + stop) // 2
        stack += [(start, middle), (middle, stop)]
    return mask


def _beyond_precision(array: pa.Array) -> np.ndarray | None:
    """Per element, does the decimal hold more integer digits than its type declares?

    The stored values are read as the widest decimal of the same storage (a cast would
    check the precision and fail on the very values looked for), then compared with
    10^(precision - scale).
    """
    kind = array.type
    widest = {4: 9, 8: 18, 16: 38, 32: 76}.get(kind.byte_width)
    if widest is None or kind.precision >= widest:
        return None  # the storage cannot hold more digits than declared
    storage = {4: pa.decimal32, 8: pa.decimal64, 16: pa.decimal128, 32: pa.decimal256}[kind.byte_width]
    try:
        stored = pa.Array.from_buffers(
            storage(widest, kind.scale), len(array), array.buffers(), array.null_count, array.offset
        )
        wide = stored.cast(pa.decimal256(76, kind.scale))
        bound = pa.scalar(Decimal(10) ** (kind.precision - kind.scale), wide.type)
        over = pc.greater_equal(pc.abs(wide), bound)
    except (pa.ArrowException, ArithmeticError):
        return None
    mask = pc.fill_null(over, False).to_numpy(zero_copy_only=False)
    return mask if mask.any() else None


def split_rows(
    table: pa.Table,
    problems: ValueProblems,
    heads: Sequence[str],
    positions: Sequence[str],
    raws: Sequence[str | None],
) -> pa.Table:
    """`table` (no error columns yet) with the rows `problems` flags turned into error rows.

    `heads[i]`, `positions[i]` and `raws[i]` describe the i-th flagged row (in row order):
    its reason is `"<head>: <rule>"`. Good rows keep their order and come first.
    """
    flagged = problems.codes >= 0
    good = with_error_columns(table.filter(pa.array(~flagged)))
    codes = problems.codes[flagged]
    reasons = [f"{head}: {problems.reasons[code]}" for head, code in zip(heads, codes, strict=True)]
    errors = error_rows(data_schema(good), reasons, list(positions), list(raws))
    return pa.concat_tables([good.cast(errors.schema), errors])  # error rows make every field nullable


def record_texts(table: pa.Table, rows: np.ndarray) -> list[str]:
    """The given rows as JSON-like text for the raw column (bytes that are not UTF-8 as
    backslash escapes; each text cut at `RAW_LIMIT` characters)."""
    if len(rows) == 0:
        return []
    columns = [i for i, field in enumerate(table.schema) if field.name not in SOURCE_ERROR_COLUMNS]
    picked = table.select(columns).take(pa.array(rows, pa.int64()))
    safe = pa.schema([field.with_type(_bytes_for_text(field.type)) for field in picked.schema])
    try:
        values = [dict(zip(picked.column_names, row, strict=True)) for row in _rows(picked.cast(safe))]
    except (pa.ArrowException, ValueError, UnicodeDecodeError, OverflowError):
        return ["" for _ in rows]  # the raw text is a courtesy: the file itself is kept
    texts = []
    for record in values:
        text = json.dumps(record, default=_plain, ensure_ascii=False)
        texts.append(text if len(text) <= RAW_LIMIT else text[:RAW_LIMIT] + "…")
    return texts


def _rows(table: pa.Table) -> list[tuple[Any, ...]]:
    """The rows as tuples of Python values (columns may share a name)."""
    if table.num_columns == 0:
        return [()] * table.num_rows
    return list(zip(*(column.to_pylist() for column in table.columns), strict=True))


def _bytes_for_text(kind: pa.DataType) -> pa.DataType:
    """`kind` with every text type replaced by bytes (read without UTF-8 checks)."""
    t = pa.types
    if t.is_string(kind):
        return pa.binary()
    if t.is_large_string(kind):
        return pa.large_binary()
    if t.is_dictionary(kind):
        return _bytes_for_text(kind.value_type)
    if t.is_decimal(kind):  # the widest of its storage: values beyond the precision show as stored
        widest = {4: (pa.decimal32, 9), 8: (pa.decimal64, 18), 16: (pa.decimal128, 38)}
        make, digits = widest.get(kind.byte_width, (pa.decimal256, 76))
        return make(digits, kind.scale)
    if isinstance(kind, pa.BaseExtensionType):
        return _bytes_for_text(kind.storage_type)
    if t.is_struct(kind):
        fields = [kind.field(i) for i in range(kind.num_fields)]
        return pa.struct([field.with_type(_bytes_for_text(field.type)) for field in fields])
    if t.is_list(kind):
        return pa.list_(kind.value_field.with_type(_bytes_for_text(kind.value_type)))
    if t.is_large_list(kind):
        return pa.large_list(kind.value_field.with_type(_bytes_for_text(kind.value_type)))
    if t.is_map(kind):
        item = kind.item_field.with_type(_bytes_for_text(kind.item_type))
        return pa.map_(_bytes_for_text(kind.key_type), item)
    return kind


def _plain(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="backslashreplace")
    if isinstance(value, Decimal | datetime | date | time):
        return str(value)
    return repr(value)
