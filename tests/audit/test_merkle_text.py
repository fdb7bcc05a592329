"""The C text forms of Merkle leaves are pyarrow's cast to text, byte for byte (issue 18).

`audit.merkle` writes integers, decimals, timestamps and dates as text from their value
buffers in C (`govbus/_sha256_batch.c`: `int_text`, `time_text`) instead of through
pyarrow's cast. The leaf encoding is specified (docs/spec/): these tests compare the C
path with the cast, value by value and root by root, on every type the sinks deliver,
with nulls, edges of each range, sliced and chunked arrays, and what the C path must
leave to pyarrow (years outside 1..9999, decimals with scale > 6 or precision > 18).
"""

from __future__ import annotations

import datetime as dt
import decimal

import numpy as np
import pyarrow as pa
import pytest

from audit import merkle
from govbus import batch_hashing

pytestmark = pytest.mark.skipif(
    batch_hashing.native is None or not hasattr(batch_hashing.native, "int_text"),
    reason="the C batch hasher was not built",
)

_RNG = np.random.default_rng(18)


def _cast_text(values: pa.Array) -> list[bytes | None]:
    """What merkle wrote before the C path: pyarrow's cast to text (timestamps made naive)."""
    kind = values.type
    if pa.types.is_timestamp(kind) and kind.tz is not None:
        values = values.cast(pa.timestamp(kind.unit))
    return values.cast(pa.large_string()).cast(pa.large_binary()).to_pylist()


def _with_nulls(values: list, every: int = 7) -> list:
    return [None if i % every == 3 else v for i, v in enumerate(values)]


def _ints(kind: pa.DataType) -> pa.Array:
    info = np.iinfo(kind.to_pandas_dtype())
    edges = [int(info.min), int(info.min) + 1, -1, 0, 1, 9, 10, 99, 100, int(info.max) - 1, int(info.max)]
    edges = [e for e in edges if info.min <= e <= info.max]
    rand = _RNG.integers(info.min, info.max, 500, dtype=kind.to_pandas_dtype(), endpoint=True).tolist()
    return pa.array(_with_nulls(edges + rand), kind)


INT_TYPES = [pa.int8(), pa.int16(), pa.int32(), pa.int64(), pa.uint8(), pa.uint16(), pa.uint32(), pa.uint64()]


def _decimals(precision: int, scale: int) -> pa.Array:
    top = 10**precision - 1
    unscaled = [0, 1, -1, 5, -5, 10, -10, top, -top, 10 ** (precision - 1), -(10 ** (precision - 1))]
    unscaled += [int(x) for x in _RNG.integers(-min(top, 2**62), min(top, 2**62), 300)]
    unscaled = [u for u in unscaled if abs(u) <= top]
    with decimal.localcontext() as context:
        context.prec = 60
        values = [str(decimal.Decimal(u) / 10**scale) for u in unscaled]
    return pa.array(_with_nulls(values), pa.string()).cast(pa.decimal128(precision, scale))


DECIMALS = [(1, 0), (5, 0), (9, 2), (14, 2), (18, 6), (18, 0), (12, 4), (10, 7), (19, 2), (38, 10), (5, 5)]


def _instants(unit: str, tz: str | None) -> pa.Array:
    per_second = {"s": 1, "ms": 10**3, "us": 10**6, "ns": 10**9}[unit]
    # The ns range is 1677..2262; the others reach the years 1 and 9999.
    lo, hi = (-(2**63) + 1, 2**63 - 1) if unit == "ns" else (-62135596800, 253402300799)
    days = [
        dt.datetime(2000, 2, 29),
        dt.datetime(1900, 3, 1),
        dt.datetime(1969, 12, 31, 23, 59, 59),
        dt.datetime(1970, 1, 1),
        dt.datetime(2026, 1, 5, 6),
        dt.datetime(2100, 2, 28, 23, 59, 59),
    ]
    seconds = [int((d - dt.datetime(1970, 1, 1)).total_seconds()) for d in days]
    values = [s * per_second + f for s in seconds for f in (0, 1, per_second - 1)]
    if unit != "ns":
        values += [lo * per_second, hi * per_second + per_second - 1]
    else:
        values += [lo, hi]
    values += [int(v) for v in _RNG.integers(max(lo, -(2**62)), min(hi, 2**62), 400) if unit == "ns"]
    values += [int(v) * per_second for v in _RNG.integers(lo, hi, 400)] if unit != "ns" else []
    return pa.array(_with_nulls(values), pa.timestamp(unit, tz=tz))


def _dates() -> pa.Array:
    lo, hi = -719162, 2932896  # 0001-01-01, 9999-12-31
    values = [lo, hi, -1, 0, 1, 11016, 10956] + [int(v) for v in _RNG.integers(lo, hi, 400)]
    return pa.array(_with_nulls(values), pa.int32()).cast(pa.date32())


CASES = (
    [pytest.param(_ints(k), id=str(k)) for k in INT_TYPES]
    + [pytest.param(_decimals(p, s), id=f"decimal128({p},{s})") for p, s in DECIMALS]
    + [
        pytest.param(_instants(u, tz), id=f"timestamp[{u},{tz}]")
        for u in ("s", "ms", "us", "ns")
        for tz in (None, "UTC", "Europe/Oslo")
    ]
    + [pytest.param(_dates(), id="date32")]
)


@pytest.mark.parametrize("values", CASES)
def test_c_text_is_the_cast_text(values: pa.Array) -> None:
    expected = _cast_text(values)
    assert merkle._raw_values(values, "c").to_pylist() == expected
    for start, length in ((1, 50), (3, len(values) - 3), (len(values) - 1, 1)):  # sliced: offsets
        part = values.slice(start, length)
        assert merkle._raw_values(part, "c").to_pylist() == _cast_text(part)
    chunked = pa.chunked_array([values.slice(0, 10), values.slice(10)])
    assert merkle._raw_values(chunked, "c").to_pylist() == expected


@pytest.mark.parametrize("values", CASES)
def test_the_c_path_takes_the_common_types_and_leaves_the_rest(values: pa.Array) -> None:
    kind = values.type
    plain = values.cast(pa.timestamp(kind.unit)) if pa.types.is_timestamp(kind) else values
    taken = merkle._native_text(plain, plain.type) is not None
    leaves = pa.types.is_uint64(kind) or (
        pa.types.is_decimal(kind) and (kind.precision > 18 or kind.scale > 6)
    )
    assert taken != leaves


def test_years_outside_1_to_9999_are_left_to_pyarrow() -> None:
    beyond = pa.array([0, 253402300800 * 10**6], pa.timestamp("us"))  # 10000-01-01
    assert merkle._native_text(beyond, beyond.type) is None
    before = pa.array([-62135596801], pa.timestamp("s"))  # 0000-12-31 23:59:59
    assert merkle._native_text(before, before.type) is None
    assert merkle._raw_values(before, "c").to_pylist() == _cast_text(before)


def _table() -> pa.Table:
    n = 600
    long_text = "é" * 3000  # 6000 bytes: longer than the 4095-byte prefix table
    return pa.table(
        {
            "id": pa.array([f"R{i:09d}" for i in range(n)]),
            "empty": pa.array(_with_nulls([""] * n, 5)),
            "long": pa.array(_with_nulls([long_text + str(i) for i in range(n)], 11)),
            "unicode": pa.array(["Åsa Øster 東京 🙂"] * n),
            "binary": pa.array([bytes([i % 256]) * (i % 9) for i in range(n)], pa.binary()),
            "year": pa.array(_with_nulls(list(range(n))), pa.int64()),
            "small": pa.array(range(n), pa.int16()),
            "amount": _decimals(14, 2).slice(0, n)
            if len(_decimals(14, 2)) >= n
            else pa.concat_arrays([_decimals(14, 2)] * 3).slice(0, n),
            "at": pa.concat_arrays([_instants("us", "UTC")] * 2).slice(0, n),
            "day": pa.concat_arrays([_dates()] * 2).slice(0, n),
            "ratio": pa.array(_RNG.random(n)),
            "flag": pa.array(_with_nulls([i % 2 == 0 for i in range(n)])),
            "status": pa.array(["SINGLE", "JOINT"] * (n // 2)).dictionary_encode(),
        }
    )


def _root_and_leaves(table: pa.Table) -> tuple[str, list[bytes], str, bytes]:
    block = merkle.record_leaf_block(table)
    return (
        merkle.record_merkle_root(table),
        merkle.record_leaf_hashes(table),
        merkle.block_merkle_root(block),
        block,
    )


def test_roots_and_leaves_equal_the_cast_path(monkeypatch: pytest.MonkeyPatch) -> None:
    table = _table()
    with_c = _root_and_leaves(table)
    assert with_c[0] == with_c[2] and b"".join(with_c[1]) == with_c[3]
    monkeypatch.setattr(merkle, "_native_text", lambda values, kind: None)
    by_cast = _root_and_leaves(table)
    monkeypatch.setattr(batch_hashing, "native", None)
    pure = _root_and_leaves(table)
    assert with_c == by_cast == pure
    assert merkle.block_merkle_root(merkle.record_leaf_block(table.slice(0, 0))) == merkle.merkle_root([])
    for rows in ((0, 1), (17, 200), (599, 1)):
        assert merkle.record_merkle_root(table.slice(*rows)) == merkle.merkle_root(
            merkle.record_leaf_hashes(table.slice(*rows))
        )
