"""RFC 6962 Merkle trees over a delivered batch's records, and inclusion proofs.

A ledger entry records the Merkle root of the records it sent, so a later proof can show
that one record (say, a citizen's) was in that delivery without revealing the others.

Canonical record bytes (what a leaf hashes): each column in table order is cast to text
with pyarrow's cast (binary columns stay raw bytes; timestamps are written in UTC as
`YYYY-MM-DD HH:MM:SS[.fraction]` without a zone) and written as `<byte length>:<bytes>`,
or `~` for null; the fields are concatenated with no separator. The length prefix makes
the encoding unambiguous whatever the values hold. The column *names* are not part of a
leaf: a ledger entry that records a root must also record the field list.
Leaf hash = SHA-256(0x00 || record bytes); node = SHA-256(0x01 || left || right).

How it is computed (not what): column by column, never a Python object per record. With
the C batch hasher (`govbus.batch_hashing`), the fields are framed and hashed in C from
each column's value bytes and validity bitmap (`record_hashes`), and integers, decimals
(precision <= 18, scale <= 6), timestamps and dates are written as text straight from
their value buffers (`_native_text`), the same bytes as the cast, which the other types
and the pure-Python path still use; tests/audit/test_merkle_text.py,
tests/audit/test_native_hashing.py and the spec vectors hold the paths equal.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Sequence
from types import ModuleType

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from govbus import batch_hashing
from govbus.errors import BadInput

_EMPTY_ROOT = hashlib.sha256(b"").hexdigest()
_BYTES = pa.large_binary()
# "0:" ... "4095:": a value's length prefix by lookup (a cast to text costs 5x more).
_PREFIXED = 4096


@functools.cache
def _length_prefixes() -> pa.Array:
    """`b"0:"` … `b"4095:"`, built on first use: `pa.array` at import would load pandas."""
    return pa.array([f"{i}:".encode() for i in range(_PREFIXED)], _BYTES)


@functools.cache
def _scalar(value: bytes) -> pa.Scalar:
    return pa.scalar(value, _BYTES)


def _raw_values(column: pa.Array | pa.ChunkedArray, name: str) -> pa.Array:
    """A column's values as the bytes a leaf holds (large_binary, nulls kept)."""
    values = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    kind = values.type
    if pa.types.is_dictionary(kind):
        values = values.cast(kind.value_type)
        kind = values.type
    if pa.types.is_timestamp(kind) and kind.tz is not None:
        values = values.cast(pa.timestamp(kind.unit))  # same UTC instant; 10x faster to text
        kind = values.type
    if pa.types.is_nested(kind):
        raise BadInput(
            "nested columns cannot be hashed as records",
            where=f"column {name}",
            hint="flatten the column before delivery",
        )
    if (text := _native_text(values, kind)) is not None:
        return text
    try:
        if (
            pa.types.is_binary(kind)
            or pa.types.is_large_binary(kind)
            or pa.types.is_fixed_size_binary(kind)
            or pa.types.is_binary_view(kind)
            or pa.types.is_string(kind)
            or pa.types.is_large_string(kind)
        ):
            return values.cast(_BYTES)
        return values.cast(pa.large_string()).cast(_BYTES)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise BadInput(f"column of type {kind} cannot be written as text", where=f"column {name}") from exc


_FRACTION_DIGITS = {"s": 0, "ms": 3, "us": 6, "ns": 9}
_INT64_MAX = 2**63 - 1


def _native_text(values: pa.Array, kind: pa.DataType) -> pa.Array | None:
    """The text a cast to string writes, from the value buffer by the C helper; None when it
    does not apply (no extension, a type or value it leaves to pyarrow's cast).

    Same bytes as `values.cast(pa.large_string())` for what it accepts: integers, decimal128
    of precision <= 18 and scale 0..6 (plain notation, which pyarrow uses up to scale 6),
    timezone-less timestamps and date32 of the years 1..9999 (tests/audit/test_merkle_text.py).
    """
    native = batch_hashing.native
    if native is None or not hasattr(native, "int_text") or values.offset or not len(values):
        return None
    count = len(values)
    if pa.types.is_integer(kind):
        if pa.types.is_uint64(kind) and (pc.max(values).as_py() or 0) > _INT64_MAX:
            return None
        ints = values if pa.types.is_int64(kind) else values.cast(pa.int64())
        if ints.offset:
            return None
        data, offsets = native.int_text(ints.buffers()[1], count, 0)
    elif pa.types.is_decimal128(kind) and kind.precision <= 18 and 0 <= kind.scale <= 6:
        # The unscaled value is the low little-endian word of each 16-byte decimal.
        words = np.frombuffer(values.buffers()[1], np.int64, 2 * count)[0::2]
        data, offsets = native.int_text(np.ascontiguousarray(words), count, kind.scale)
    elif (pa.types.is_timestamp(kind) and kind.tz is None) or pa.types.is_date32(kind):
        date_only = pa.types.is_date32(kind)
        digits = 0 if date_only else _FRACTION_DIGITS[kind.unit]
        data = native.time_text(values.buffers()[1], count, digits, date_only)
        if data is None:
            return None
        width = len(data) // count
        offsets = np.arange(0, (count + 1) * width, width, dtype=np.int64)
    else:
        return None
    validity = values.buffers()[0] if values.null_count else None
    return pa.Array.from_buffers(
        _BYTES, count, [validity, pa.py_buffer(offsets), pa.py_buffer(data)], null_count=values.null_count
    )


def _column_parts(column: pa.Array | pa.ChunkedArray, name: str) -> tuple[pa.Array, pa.Array]:
    """(`<len>:` or `~`, value bytes or empty) per row: two large_binary arrays without nulls."""
    raw = _raw_values(column, name)
    lengths = pc.binary_length(raw)
    longest = pc.max(lengths).as_py()
    if longest is None or longest < _PREFIXED:
        prefixes = _length_prefixes().take(lengths)
    else:
        text = lengths.cast(pa.large_string()).cast(_BYTES)
        prefixes = pc.binary_join_element_wise(text, pa.scalar(b":", _BYTES), _scalar(b""))
    if raw.null_count:
        return pc.fill_null(prefixes, _scalar(b"~")), pc.fill_null(raw, _scalar(b""))
    return prefixes, raw


def _record_parts(table: pa.Table) -> list[pa.Array]:
    return [
        part
        for i in range(table.num_columns)
        for part in _column_parts(table.column(i), table.schema.field(i).name)
    ]


def canonical_records(table: pa.Table) -> pa.Array:
    """Each row's leaf input, 0x00 prefix included (large_binary), built column-wise."""
    if table.num_columns == 0:
        return pa.array([b"\x00"] * table.num_rows, _BYTES)
    return pc.binary_join_element_wise(pa.scalar(b"\x00", _BYTES), *_record_parts(table), _scalar(b""))


def _leaf_block(native: ModuleType, table: pa.Table) -> bytes:
    """All leaf hashes, 32 bytes each in row order (the extension's path).

    The extension writes the `<len>:` prefixes and `~` nulls itself from each column's
    raw values and validity bitmap; `_column_parts` builds the same fields with pyarrow for
    `canonical_records`, and the tests hold the two equal.
    """
    columns = []
    for i in range(table.num_columns):
        raw = _raw_values(table.column(i), table.schema.field(i).name)
        data, offsets = batch_hashing.buffers(raw)
        validity = raw.buffers()[0] if raw.null_count else None
        columns.append((data, offsets, validity, raw.offset))
    return native.record_hashes(b"\x00", columns, table.num_rows)


def record_leaf_hashes(table: pa.Table) -> list[bytes]:
    """RFC 6962 leaf hash of every row of `table` (32 bytes each, in row order)."""
    if (native := batch_hashing.native) is not None:
        block = _leaf_block(native, table)
        return [block[i : i + 32] for i in range(0, len(block), 32)]
    sha256 = hashlib.sha256
    return [sha256(row).digest() for row in canonical_records(table).to_pylist()]


def record_leaf_block(table: pa.Table) -> bytes:
    """Every row's leaf hash, 32 bytes each in row order, back to back (b"" for no rows).

    For a caller that needs both the root (`block_merkle_root`) and the leaves themselves
    (a manifest's sorted leaves): the records are hashed once.
    """
    if table.num_rows == 0:
        return b""
    if (native := batch_hashing.native) is not None:
        return _leaf_block(native, table)
    return b"".join(record_leaf_hashes(table))


def block_merkle_root(block: bytes) -> str:
    """`merkle_root` of a `record_leaf_block` (hex; the empty tree for b"")."""
    if not block:
        return _EMPTY_ROOT
    if (native := batch_hashing.native) is not None:
        return native.tree_root(block).hex()
    return _root([block[i : i + 32] for i in range(0, len(block), 32)]).hex()


def record_merkle_root(table: pa.Table) -> str:
    """`merkle_root(record_leaf_hashes(table))` without a Python object per record."""
    if table.num_rows == 0:
        return _EMPTY_ROOT
    if (native := batch_hashing.native) is not None:
        return native.tree_root(_leaf_block(native, table)).hex()
    return merkle_root(record_leaf_hashes(table))


def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _root(leaves: Sequence[bytes]) -> bytes:
    """Bottom-up tree; promoting an odd last node equals RFC 6962's power-of-two split."""
    level = list(leaves)
    sha256 = hashlib.sha256
    while len(level) > 1:
        paired = [sha256(b"\x01" + level[i] + level[i + 1]).digest() for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    return level[0]


def _check_leaves(leaves: Sequence[bytes]) -> None:
    if any(not isinstance(leaf, bytes) or len(leaf) != 32 for leaf in leaves):
        raise BadInput(
            "every leaf must be a 32-byte hash", where="leaves", hint="pass the output of record_leaf_hashes"
        )


def merkle_root(leaves: Sequence[bytes]) -> str:
    """RFC 6962 Merkle tree hash (hex) of leaf hashes; the empty tree is SHA-256(b"")."""
    _check_leaves(leaves)
    if not leaves:
        return _EMPTY_ROOT
    if (native := batch_hashing.native) is not None:
        return native.tree_root(b"".join(leaves)).hex()
    return _root(leaves).hex()


def _largest_power_of_two_below(n: int) -> int:
    return 1 << ((n - 1).bit_length() - 1)


def inclusion_proof(leaves: Sequence[bytes], index: int) -> list[bytes]:
    """RFC 6962 audit path of leaf `index` (sibling hashes, bottom-up)."""
    _check_leaves(leaves)
    if not 0 <= index < len(leaves):
        raise BadInput("leaf index is outside the tree", where="index")
    path: list[bytes] = []
    lo, hi, m = 0, len(leaves), index
    while hi - lo > 1:
        k = _largest_power_of_two_below(hi - lo)
        if m < k:
            path.append(_root(leaves[lo + k : hi]))
            hi = lo + k
        else:
            path.append(_root(leaves[lo : lo + k]))
            lo, m = lo + k, m - k
    return path[::-1]


def verify_inclusion(leaf: bytes, index: int, size: int, proof: Sequence[bytes], root_hex: str) -> bool:
    """True if `proof` shows `leaf` at `index` of a tree of `size` leaves with this root.

    The algorithm of RFC 9162 §2.1.3.2 (the same tree as RFC 6962).
    """
    if not 0 <= index < size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = _node(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = _node(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r.hex() == root_hex
