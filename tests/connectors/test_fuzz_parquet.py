"""Fuzzing the Parquet drop-file reader against pyarrow's own reading (issue 16's fuzz suite).

Random tables — text that may not be UTF-8, decimals that may exceed their declared
precision, values that may exceed `max_field_bytes`, nulls, lists — in random row
groups, read from a random resume point; then the same files cut short. Every good
row must be the row pyarrow reads, in order; exactly the rows breaking a rule (checked
here value by value in Python, the reference) become error rows; a cut file is a
`BadInput` naming it. No other exception, no hang.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given
from hypothesis import strategies as st

from connectors import SOURCE_ERROR, SOURCE_POSITION, SOURCE_RAW, Limits, ParquetFormat
from govbus.errors import BadInput
from tests.connectors.fuzz_budget import fuzz

EXAMPLES = 150
LIMITS = Limits(max_field_bytes=8)
BOUND = Decimal("1000.00")  # decimal(5, 2)

texts = st.one_of(st.none(), st.binary(max_size=10), st.text(alphabet="aé€", max_size=5).map(str.encode))
amounts = st.one_of(st.none(), st.integers(-(10**9), 10**9).map(lambda n: Decimal(n).scaleb(-2)))
rows = st.tuples(
    texts, amounts, st.one_of(st.none(), st.lists(st.text(alphabet="ab", max_size=10), max_size=3))
)


def table_of(values: list[tuple[Any, ...]]) -> pa.Table:
    raw = pa.array([v[0] for v in values], pa.binary())
    text = pa.Array.from_buffers(pa.string(), len(raw), raw.buffers(), raw.null_count)
    wide = pa.array([v[1] for v in values], pa.decimal128(38, 2))
    amount = pa.Array.from_buffers(pa.decimal128(5, 2), len(wide), wide.buffers(), wide.null_count)
    return pa.table({"s": text, "d": amount, "l": pa.array([v[2] for v in values], pa.list_(pa.string()))})


def reference(path: Path) -> list[tuple[dict[str, Any], bool]]:
    """Each row as pyarrow reads it (text as bytes), and whether it keeps every rule."""
    table = pq.read_table(path)
    plain = table.cast(
        pa.schema([("s", pa.binary()), ("d", pa.decimal128(38, 2)), ("l", pa.list_(pa.string()))])
    )
    checked = []
    for row in plain.to_pylist():
        text, amount, items = row["s"], row["d"], row["l"] or []
        fine = (text is None or (_utf8(text) and len(text) <= 8)) and (amount is None or abs(amount) < BOUND)
        fine = fine and all(len(item.encode()) <= 8 for item in items if item is not None)
        checked.append(
            ({"s": text.decode() if fine and text is not None else text, "d": amount, "l": row["l"]}, fine)
        )
    return checked


def _utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


@fuzz(EXAMPLES)
@given(values=st.lists(rows, max_size=30), group=st.integers(1, 8), skip=st.integers(0, 35))
def test_parquet_delivers_exactly_the_rows_pyarrow_reads_that_keep_the_rules(
    tmp_path_factory: pytest.TempPathFactory, values: list[tuple[Any, ...]], group: int, skip: int
) -> None:
    path = tmp_path_factory.mktemp("parquet") / "f.parquet"
    pq.write_table(table_of(values), path, row_group_size=group)
    expected = reference(path)[skip:]
    good, errors = [], []
    for table in ParquetFormat(LIMITS).records(path, "f.parquet", skip):
        for row in table.to_pylist():
            (errors if row[SOURCE_ERROR] is not None else good).append(row)
    assert good == [
        {**row, SOURCE_ERROR: None, SOURCE_POSITION: None, SOURCE_RAW: None} for row, fine in expected if fine
    ]
    assert len(errors) == sum(1 for _, fine in expected if not fine)
    numbers = [skip + i + 1 for i, (_, fine) in enumerate(expected) if not fine]
    assert sorted(int(e[SOURCE_POSITION].split("#")[1]) for e in errors) == numbers
    assert all(e[SOURCE_ERROR].startswith("f.parquet record ") for e in errors)


@fuzz(EXAMPLES)
@given(
    values=st.lists(rows, min_size=1, max_size=10), cut=st.floats(0.0, 0.999), prefix=st.binary(max_size=8)
)
def test_a_cut_or_prefixed_parquet_file_is_a_bad_input_naming_it(
    tmp_path_factory: pytest.TempPathFactory, values: list[tuple[Any, ...]], cut: float, prefix: bytes
) -> None:
    path = tmp_path_factory.mktemp("parquet") / "f.parquet"
    pq.write_table(table_of(values), path)
    data = path.read_bytes()
    path.write_bytes(prefix + data[: int(len(data) * cut)])
    with pytest.raises(BadInput, match=r"^f\.parquet: "):
        list(ParquetFormat(LIMITS).records(path, "f.parquet", 0))
