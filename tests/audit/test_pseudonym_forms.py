"""An audit pseudonym's two forms (ADR 0008) convert both ways, nulls and slices kept."""

from __future__ import annotations

import hashlib

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import audit
from audit.pseudonym_forms import raw_matrix
from govbus.errors import FatalError


def ref(n: int) -> str:
    return hashlib.sha256(str(n).encode()).hexdigest()


@settings(max_examples=100, deadline=None)
@given(st.lists(st.one_of(st.none(), st.integers(0, 50)), max_size=40), st.integers(0, 5))
def test_hex_and_raw_round_trip(values: list[int | None], cut: int) -> None:
    hexed = pa.array([None if n is None else ref(n) for n in values], pa.string())
    raw = audit.refs_as_raw(hexed)
    assert raw.type == audit.RAW_REF_TYPE
    assert raw.to_pylist() == [None if n is None else bytes.fromhex(ref(n)) for n in values]
    assert audit.refs_as_hex(raw).to_pylist() == hexed.to_pylist()
    # Slices (an offset into the buffers) and chunked columns convert the same.
    part = raw.slice(min(cut, len(raw)))
    assert audit.refs_as_hex(part).to_pylist() == hexed.slice(min(cut, len(raw))).to_pylist()
    chunked = pa.chunked_array([hexed[:cut], hexed[cut:]], pa.string())
    assert audit.refs_as_raw(chunked).to_pylist() == raw.to_pylist()
    assert audit.refs_as_raw(raw) is raw  # already raw: as it is


def test_raw_matrix_reads_either_form_and_refuses_damage() -> None:
    hexed = pa.array([ref(1), ref(2)])
    expected = np.frombuffer(bytes.fromhex(ref(1) + ref(2)), np.uint8).reshape(2, 32)
    assert (raw_matrix(hexed) == expected).all()
    assert (raw_matrix(audit.refs_as_raw(hexed)) == expected).all()
    assert (raw_matrix(audit.refs_as_raw(pa.array([ref(0), ref(1), ref(2)])).slice(1)) == expected).all()
    for damaged in ([ref(1)[:-1] + "g"], [ref(1)[:60]]):
        with pytest.raises(FatalError, match="not 64 hex digits"):
            audit.refs_as_raw(pa.array(damaged))


def test_lenient_conversion_makes_malformed_refs_null() -> None:
    got = audit.refs_as_raw(pa.array([ref(1), "r1", None, ref(2).upper(), ref(3)]), strict=False)
    assert got.to_pylist() == [bytes.fromhex(ref(1)), None, None, None, bytes.fromhex(ref(3))]
