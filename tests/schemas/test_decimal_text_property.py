"""Property: text → decimal is exactly Python's Decimal, or refused, on both cast paths."""

from __future__ import annotations

import decimal
from decimal import Decimal

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas import conform, parse_schema

NUMBER_TEXT = st.from_regex(
    r"[+-]?[0-9]{0,18}(\.[0-9]{0,6})?([eE][+-]?[0-9]{1,2})?", fullmatch=True
) | st.text(alphabet="0123456789.eE+- x", max_size=8)


def reference(text: str, precision: int, scale: int) -> Decimal | None:
    """What decimal(precision, scale) must hold for `text`: the exact value or nothing."""
    try:
        value = Decimal(text)
    except decimal.InvalidOperation:
        return None
    if not value.is_finite():
        return None
    if value != 0 and value.adjusted() >= precision - scale:
        return None  # too many integer digits
    with decimal.localcontext(decimal.Context(prec=200)):
        quantized = value.quantize(Decimal(1).scaleb(-scale))
    return quantized if quantized == value else None


def _schema(precision: int, scale: int) -> object:
    return parse_schema(
        {
            "type": "record",
            "name": "R",
            "fields": [
                {
                    "name": "v",
                    "type": {
                        "type": "bytes",
                        "logicalType": "decimal",
                        "precision": precision,
                        "scale": scale,
                    },
                }
            ],
        }
    )


@settings(max_examples=300, deadline=None, database=None)
@given(
    texts=st.lists(NUMBER_TEXT, min_size=1, max_size=6),
    scale=st.integers(0, 4),
    around=st.sampled_from(["", "1e5", "2E-1"]),
)
def test_text_to_decimal_matches_python_decimal(texts: list[str], scale: int, around: str) -> None:
    """Also for a slice of a longer column, whose neighbours (outside the slice) may hold an
    exponent that must not change how the slice's texts are read."""
    precision = 10
    schema = _schema(precision, scale)
    column = pa.array([around, *texts, around], pa.string()).slice(1, len(texts))
    result = conform(pa.table({"v": column}), schema)
    expected = [reference(text, precision, scale) for text in texts]
    assert result.table.column("v").to_pylist() == expected
    bad_rows = [row for row, value in enumerate(expected) if value is None]
    assert result.issues.column("row").to_pylist() == bad_rows
