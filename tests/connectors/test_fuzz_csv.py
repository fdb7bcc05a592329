"""Fuzzing the CSV reader against Python's `csv` module (issue 16's fuzz suite).

Random files from an alphabet of delimiters, quotes, line breaks, multi-byte UTF-8 and
bytes that are not UTF-8 (small limits, so the bounds are hit too). For each: no
exception but `BadInput`, no "Exception ignored" on stderr, no hang, and every row
delivered as good is one the reference reader (`csv`, on the text the file holds) gives
— with null read as the empty field — no longer than `max_field_bytes`.
"""

from __future__ import annotations

import csv
import io
from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connectors import SOURCE_ERROR, SOURCE_POSITION, SOURCE_RAW, CsvFormat, CsvOptions, Limits
from govbus.errors import BadInput
from tests.connectors.fuzz_budget import fuzz

EXAMPLES = 300
LIMITS = Limits(max_field_bytes=12, max_line_bytes=60, max_depth=8)
PIECES = ["a", "b", "1", "é", "€", ",", ",", '"', '""', "\n", "\n", "\r\n", "\r", " ", "\xff", "\xc3", "x,y"]

FUZZ = fuzz(EXAMPLES)


def _bytes(piece: str) -> bytes:
    return piece.encode("latin-1") if piece in ("\xff", "\xc3") else piece.encode("utf-8")


files = st.lists(st.sampled_from(PIECES), max_size=40).map(
    lambda parts: b"a,b\n" + b"".join(map(_bytes, parts))
)


def reference_rows(data: bytes, width: int) -> Counter[tuple[str, ...]]:
    """The rows Python's csv module reads from the file's text (undecodable bytes kept apart)."""
    text = data.decode("utf-8", errors="surrogateescape")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    return Counter(tuple(row) for row in rows[1:] if len(row) == width)


@pytest.mark.filterwarnings("error::pytest.PytestUnraisableExceptionWarning")
@FUZZ
@given(data=files)
def test_csv_delivers_only_what_the_csv_module_reads(
    tmp_path_factory: pytest.TempPathFactory, data: bytes
) -> None:
    path = tmp_path_factory.mktemp("csv") / "f.csv"
    path.write_bytes(data)
    try:
        tables = list(CsvFormat(CsvOptions(), LIMITS).records(path, "f.csv", 0))
    except BadInput:
        return  # a clear refusal naming the file (a line over max_line_bytes, a bad header)
    expected = reference_rows(data, 2)
    for table in tables:
        for row in table.to_pylist():
            if row[SOURCE_ERROR] is not None:
                assert row[SOURCE_POSITION].startswith("f.csv:")
                assert row[SOURCE_ERROR].startswith("f.csv line ")
                continue
            values = tuple("" if row[name] is None else row[name] for name in ("a", "b"))
            assert expected[values] > 0, (data, values)
            expected[values] -= 1
            assert all(len(value.encode()) <= LIMITS.max_field_bytes for value in values)
            assert row[SOURCE_RAW] is None
