"""Fuzzing the Avro drop-file reader against fastavro itself (issue 16's fuzz suite).

Random records (texts that may exceed `max_field_bytes`, decimals, optional values,
arrays) in random blocks and codecs, read from a random resume point; then the same
files with bytes flipped or cut short. Every good row must be the record fastavro
reads, in order, and exactly the records holding a value over the limit become error
rows; a file fastavro cannot read is a `BadInput` naming it. No other exception.
"""

from __future__ import annotations

import io
from decimal import Decimal
from pathlib import Path
from typing import Any

import fastavro
import pytest
from hypothesis import given
from hypothesis import strategies as st

from connectors import SOURCE_ERROR, SOURCE_POSITION, SOURCE_RAW, AvroFormat, Limits
from govbus.errors import BadInput
from tests.connectors.fuzz_budget import fuzz

EXAMPLES = 150
LIMITS = Limits(max_field_bytes=8)
SCHEMA = fastavro.parse_schema(
    {
        "type": "record",
        "name": "R",
        "fields": [
            {"name": "id", "type": "long"},
            {"name": "note", "type": "string"},
            {
                "name": "amount",
                "type": {"type": "bytes", "logicalType": "decimal", "precision": 6, "scale": 2},
            },
            {"name": "maybe", "type": ["null", "string"]},
            {"name": "tags", "type": {"type": "array", "items": "string"}},
        ],
    }
)
records = st.fixed_dictionaries(
    {
        "id": st.integers(-(2**63), 2**63 - 1),
        "note": st.text(alphabet="ab é€\x00", max_size=10),
        "amount": st.integers(-999_999, 999_999).map(lambda n: Decimal(n).scaleb(-2)),
        "maybe": st.one_of(st.none(), st.text(alphabet="xy", max_size=10)),
        "tags": st.lists(st.text(alphabet="q", max_size=10), max_size=3),
    }
)


def write(values: list[dict[str, Any]], codec: str, interval: int) -> bytes:
    out = io.BytesIO()
    fastavro.writer(out, SCHEMA, values, codec=codec, sync_interval=interval)
    return out.getvalue()


def fits(record: dict[str, Any]) -> bool:
    texts = [record["note"], record["maybe"] or "", *record["tags"]]
    return all(len(text.encode()) <= LIMITS.max_field_bytes for text in texts)


def read(path: Path, skip: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    good, errors = [], []
    for table in AvroFormat(LIMITS).records(path, "f.avro", skip):
        for row in table.to_pylist():
            (errors if row[SOURCE_ERROR] is not None else good).append(row)
    return good, errors


@fuzz(EXAMPLES)
@given(
    values=st.lists(records, max_size=25),
    codec=st.sampled_from(["null", "deflate"]),
    interval=st.integers(16, 400),
    skip=st.integers(0, 30),
)
def test_avro_delivers_exactly_the_records_fastavro_reads_that_fit(
    tmp_path_factory: pytest.TempPathFactory,
    values: list[dict[str, Any]],
    codec: str,
    interval: int,
    skip: int,
) -> None:
    path = tmp_path_factory.mktemp("avro") / "f.avro"
    path.write_bytes(write(values, codec, interval))
    with open(path, "rb") as handle:
        expected = list(fastavro.reader(handle))[skip:]
    good, errors = read(path, skip)
    blank = {SOURCE_ERROR: None, SOURCE_POSITION: None, SOURCE_RAW: None}
    assert good == [{**record, **blank} for record in expected if fits(record)]
    numbers = [skip + i + 1 for i, record in enumerate(expected) if not fits(record)]
    assert [int(e[SOURCE_POSITION].split("#")[1]) for e in errors] == numbers


@fuzz(EXAMPLES)
@given(
    values=st.lists(records, min_size=1, max_size=10),
    flips=st.lists(st.tuples(st.floats(0.0, 0.999), st.integers(1, 255)), max_size=4),
    cut=st.one_of(st.none(), st.floats(0.0, 0.999)),
)
def test_a_damaged_avro_file_reads_as_fastavro_reads_it_or_is_a_bad_input(
    tmp_path_factory: pytest.TempPathFactory,
    values: list[dict[str, Any]],
    flips: list[tuple[float, int]],
    cut: float | None,
) -> None:
    data = bytearray(write(values, "null", 100))
    for where, mask in flips:
        data[int(len(data) * where)] ^= mask
    if cut is not None:
        data = data[: int(len(data) * cut)]
    path = tmp_path_factory.mktemp("avro") / "f.avro"
    path.write_bytes(bytes(data))
    try:
        with open(path, "rb") as handle:
            expected: list[dict[str, Any]] | None = list(fastavro.reader(handle))
    except Exception:  # whatever fastavro raises, the reader must refuse the file
        expected = None
    refused: BadInput | None = None
    try:
        good, errors = read(path, 0)
    except BadInput as exc:
        refused = exc
    if refused is not None:
        assert str(refused).startswith("f.avro: ")
        return
    assert expected is not None, "a file fastavro cannot read was read"
    assert len(good) + len(errors) == len(expected)
    blank = {SOURCE_ERROR: None, SOURCE_POSITION: None, SOURCE_RAW: None}
    assert all(row in [{**record, **blank} for record in expected] for row in good)
