"""Arrow columns as exact text, vectorized: for the CSV and JSON Lines sinks.

The text forms (what the file sources and the conform step read back exactly):

    decimals     plain digits, scale kept: "1.50", "0.0000000001" (never an exponent)
    timestamps   ISO-8601 in UTC with the column's precision: "2024-05-01T08:00:00.250000Z";
                 a zone-less (local) timestamp has no "Z"
    dates, times "2024-05-01", "08:00:00.250000"
    floats       shortest round-trip text ("0.1", "1e+21"); in JSON, inf/nan are strings
    binary       lowercase hex
    booleans     true / false

`csv_table` turns a batch into string/number/boolean columns `pyarrow.csv` writes as
such; `json_lines` renders a batch as JSON Lines bytes, nested lists, structs and maps
included, with Arrow string kernels (no Python loop over rows).
"""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from govbus.errors import BadInput

_HEX = np.array([list(f"{i:02x}".encode()) for i in range(256)], dtype=np.uint8)
_EMPTY = np.zeros(0, dtype=np.uint8)
_UUID_GROUPS = ((0, 8), (8, 12), (12, 16), (16, 20), (20, 32))
_SHORT_ESCAPES = {"\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def csv_table(table: pa.Table) -> pa.Table:
    """The batch with every column in a form `pyarrow.csv` writes exactly (see module doc)."""
    columns = []
    for field, column in zip(table.schema, table.columns, strict=True):
        array = column.combine_chunks()
        if pa.types.is_dictionary(array.type):
            array = array.dictionary_decode()
        if pa.types.is_nested(array.type):
            raise BadInput(
                f"a column of type {array.type} cannot be written as CSV",
                where=field.name,
                hint="deliver nested data as JSON Lines, Avro or Parquet",
            )
        keep = (
            pa.types.is_integer(array.type)
            or pa.types.is_floating(array.type)
            or pa.types.is_boolean(array.type)
        )
        columns.append(array if keep or pa.types.is_null(array.type) else text(array))
    return pa.Table.from_arrays(columns, names=table.column_names)


def text(array: pa.Array) -> pa.Array:
    """A scalar column as exact text (nulls stay null)."""
    kind = array.type
    if pa.types.is_timestamp(kind):
        return _iso_timestamp(array)
    if pa.types.is_decimal(kind):
        return _plain_decimal(array)
    if pa.types.is_binary(kind) or pa.types.is_large_binary(kind) or pa.types.is_fixed_size_binary(kind):
        return _hex(array)
    return pc.cast(array, pa.string())


def _iso_timestamp(array: pa.Array) -> pa.Array:
    """Arrow stores UTC instants: dropping the zone gives UTC wall time, which Arrow's own
    (fast, zone-free) cast prints as "2024-05-01 08:00:00.250000"; make that ISO-8601."""
    wall = pc.cast(array, pa.timestamp(array.type.unit)) if array.type.tz is not None else array
    iso = pc.replace_substring(pc.cast(wall, pa.string()), " ", "T", max_replacements=1)
    return pc.binary_join_element_wise(iso, "Z", "") if array.type.tz is not None else iso


def _plain_decimal(array: pa.Array) -> pa.Array:
    """Arrow writes small decimals with an exponent ("0E-10"); rewrite those (once per
    distinct value) in plain digits."""
    strings = pc.cast(array, pa.string())
    exponent = pc.fill_null(pc.match_substring(strings, "E"), False)
    if not pc.any(exponent).as_py():
        return strings
    odd = pc.unique(pc.filter(strings, exponent))
    plain = pa.array([format(Decimal(value), "f") for value in odd.to_pylist()], pa.string())
    replaced = pc.take(plain, pc.index_in(strings, value_set=odd))
    return pc.if_else(exponent, replaced, strings)


def uuid_text(array: pa.Array) -> pa.Array:
    """UUIDs (Arrow's uuid extension or 16-byte binary) as 8-4-4-4-12 lowercase text."""
    if isinstance(array.type, pa.BaseExtensionType):
        array = array.storage
    digits = _hex(array)
    groups = [pc.utf8_slice_codeunits(digits, start, stop) for start, stop in _UUID_GROUPS]
    return pc.binary_join_element_wise(*groups, "-")


def _hex(array: pa.Array) -> pa.Array:
    """Lowercase hex of each value, built from the value bytes at once with numpy."""
    if not pa.types.is_binary(array.type):
        array = pc.cast(array, pa.binary())
    if len(array) == 0:
        return pa.array([], pa.string())
    offsets = np.frombuffer(array.buffers()[1], dtype=np.int32)[array.offset : array.offset + len(array) + 1]
    data = array.buffers()[2]
    raw = np.frombuffer(data, dtype=np.uint8)[offsets[0] : offsets[-1]] if data is not None else _EMPTY
    hexed = _HEX[raw].reshape(-1)
    validity = None if array.null_count == 0 else pc.is_valid(array).buffers()[1]
    return pa.StringArray.from_buffers(
        len(array), pa.py_buffer(((offsets - offsets[0]) * 2).astype(np.int32)), pa.py_buffer(hexed), validity
    )


def json_lines(table: pa.Table) -> bytes:
    """The batch as JSON Lines: one object per row, keys in column order, "\\n"-ended."""
    if table.num_rows == 0:
        return b""
    parts: list[pa.Array | str] = []
    for i, (name, column) in enumerate(zip(table.column_names, table.columns, strict=True)):
        parts.append(("{" if i == 0 else ",") + _json_string_literal(name) + ":")
        parts.append(json_values(column.combine_chunks()))
    parts.append("}\n" if parts else "{}\n")
    if len(parts) == 1:
        return b"{}\n" * table.num_rows
    lines = pc.binary_join_element_wise(*parts, "")
    offsets = np.frombuffer(lines.buffers()[1], dtype=np.int32)
    return lines.buffers()[2].to_pybytes()[offsets[lines.offset] : offsets[lines.offset + len(lines)]]


def json_values(array: pa.Array) -> pa.Array:
    """Each value as JSON text; null → "null"."""
    kind = array.type
    if pa.types.is_dictionary(kind):
        return json_values(array.dictionary_decode())
    if pa.types.is_null(kind):
        return pa.array(["null"] * len(array), pa.string())
    if pa.types.is_boolean(kind):
        encoded = pc.if_else(array, "true", "false")
    elif pa.types.is_integer(kind):
        encoded = pc.cast(array, pa.string())
    elif pa.types.is_floating(kind):
        strings = pc.cast(array, pa.string())
        encoded = pc.if_else(pc.is_finite(array), strings, _quoted(strings))
    elif pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_string_view(kind):
        encoded = _quoted(pc.cast(array, pa.string()))
    elif pa.types.is_struct(kind):
        encoded = _json_struct(array)
    elif pa.types.is_map(kind):
        encoded = _json_map(array)
    elif pa.types.is_list(kind) or pa.types.is_large_list(kind):
        encoded = _json_list(array, json_values(pc.list_flatten(array)))
    else:  # decimals, timestamps, dates, times, binary: quoted exact text
        encoded = _quoted(text(array))
    return pc.fill_null(encoded, "null")


def _quoted(strings: pa.Array) -> pa.Array:
    """JSON string literals of `strings` (escaping only when some value needs it)."""
    quotes, controls = _special_bytes(strings)
    if quotes:
        strings = pc.replace_substring(strings, "\\", "\\\\")
        strings = pc.replace_substring(strings, '"', '\\"')
    if controls:
        for code in range(32):
            char = chr(code)
            strings = pc.replace_substring(strings, char, _SHORT_ESCAPES.get(char, f"\\u{code:04x}"))
    return pc.binary_join_element_wise('"', strings, '"', "")


def _special_bytes(strings: pa.Array) -> tuple[bool, bool]:
    """Does any value hold a quote or backslash; any a control character? (One look at the
    value bytes with numpy, not a regular expression per value.)"""
    if len(strings) == 0 or strings.buffers()[2] is None:
        return False, False
    offsets = np.frombuffer(strings.buffers()[1], dtype=np.int32)
    low, high = int(offsets[strings.offset]), int(offsets[strings.offset + len(strings)])
    values = np.frombuffer(strings.buffers()[2], dtype=np.uint8)[low:high]
    return bool(((values == 0x22) | (values == 0x5C)).any()), bool((values < 0x20).any())


def _json_string_literal(name: str) -> str:
    escaped = name.replace("\\", "\\\\").replace('"', '\\"')
    for code in range(32):
        escaped = escaped.replace(chr(code), _SHORT_ESCAPES.get(chr(code), f"\\u{code:04x}"))
    return f'"{escaped}"'


def _json_list(lists: pa.Array, items: pa.Array, open_: str = "[", close: str = "]") -> pa.Array:
    """`open_` + the JSON texts `items` of each list joined by commas + `close`."""
    lengths = pc.fill_null(pc.list_value_length(lists), 0).to_numpy(zero_copy_only=False)
    starts = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32)
    joined = pc.binary_join(pa.ListArray.from_arrays(pa.array(starts), items, mask=pc.is_null(lists)), ",")
    return pc.binary_join_element_wise(open_, joined, close, "")


def _json_struct(array: pa.Array) -> pa.Array:
    parts: list[pa.Array | str] = []
    for i, field in enumerate(array.type):
        parts.append(("{" if i == 0 else ",") + _json_string_literal(field.name) + ":")
        parts.append(json_values(pc.struct_field(array, [i])))
    if not parts:
        return pc.if_else(pc.is_valid(array), "{}", None)
    parts.append("}")
    return pc.if_else(pc.is_valid(array), pc.binary_join_element_wise(*parts, ""), None)


def _json_map(array: pa.Array) -> pa.Array:
    entry = pa.struct([("key", array.type.key_type), ("value", array.type.item_type)])
    lists = array.cast(pa.list_(entry))
    entries = pc.list_flatten(lists)  # the slice's entries, null maps skipped
    keys = pc.struct_field(entries, [0])
    pairs = pc.binary_join_element_wise(
        json_values(keys if pa.types.is_string(keys.type) else text(keys)),
        ":",
        json_values(pc.struct_field(entries, [1])),
        "",
    )
    return _json_list(lists, pairs, "{", "}")
