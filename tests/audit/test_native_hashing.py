"""The batch SHA-256/HMAC extension gives exactly the bytes of the pure-Python path, or refuses.

`govbus._sha256_batch` is built by `make install` (setup.py). Where it was not built the
bus falls back to hashlib; in CI it must be there, so the fast path is what is tested.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import random

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import audit
from audit import merkle
from consent.protect import pseudonyms
from govbus import batch_hashing

pytestmark = pytest.mark.skipif(
    not audit.NATIVE_HASHING and not os.environ.get("CI"),
    reason="govbus._sha256_batch was not built here (no C compiler or OpenSSL headers at install)",
)


@pytest.fixture
def native() -> object:
    assert audit.NATIVE_HASHING, "CI must build govbus._sha256_batch: see setup.py"
    return batch_hashing.native


@pytest.fixture
def pure(monkeypatch: pytest.MonkeyPatch) -> None:
    """The hashlib path, as on an install without the extension."""
    monkeypatch.setattr(batch_hashing, "native", None)


def _hashlib_leaves(table: pa.Table) -> list[bytes]:
    return [hashlib.sha256(row).digest() for row in merkle.canonical_records(table).to_pylist()]


def _random_table(rng: random.Random, rows: int) -> pa.Table:
    def maybe(values: list[object]) -> list[object]:
        return [None if rng.random() < 0.2 else v for v in values]

    return pa.table({
        "n": pa.array(maybe([rng.randint(-(2**63), 2**63 - 1) for _ in range(rows)]), pa.int64()),
        "s": pa.array(maybe(["".join(rng.choices("ab:~é\x00", k=rng.randint(0, 9))) for _ in range(rows)])),
        "b": pa.array(maybe([rng.randbytes(rng.randint(0, 40)) for _ in range(rows)]), pa.binary()),
        "long": pa.array(maybe([rng.randbytes(rng.choice([0, 4095, 4096, 9000])) for _ in range(rows)]),
                         pa.large_binary()),
        "f": pa.array(maybe([rng.uniform(-1e9, 1e9) for _ in range(rows)]), pa.float64()),
        "t": pa.array(maybe([rng.randint(0, 2**40) for _ in range(rows)]), pa.timestamp("us", "UTC")),
        "d": pa.array(maybe([rng.choice(["x", "yy"]) for _ in range(rows)])).dictionary_encode(),
        "flag": pa.array(maybe([rng.random() < 0.5 for _ in range(rows)]), pa.bool_()),
    })  # fmt: skip


@pytest.mark.parametrize("seed", range(6))
def test_native_leaves_and_root_equal_hashlib(native: object, seed: int) -> None:
    rng = random.Random(seed)
    table = _random_table(rng, rng.choice([1, 2, 3, 255, 256, 257, 1000]))
    expected = _hashlib_leaves(table)
    assert merkle.record_leaf_hashes(table) == expected
    assert merkle.record_merkle_root(table) == merkle._root(expected).hex()
    # Slices and chunks reach the extension as arrays with an offset.
    sliced = table.slice(1)
    assert merkle.record_leaf_hashes(sliced) == expected[1:]
    chunked = pa.concat_tables([table.slice(0, len(table) // 2), table.slice(len(table) // 2)])
    assert merkle.record_merkle_root(chunked) == merkle.record_merkle_root(table)


def test_fallback_path_gives_the_same_root(pure: None) -> None:
    table = _random_table(random.Random(9), 300)
    assert batch_hashing.native is None
    fallback = merkle.record_merkle_root(table)
    assert fallback == merkle._root(_hashlib_leaves(table)).hex()
    assert merkle.record_leaf_hashes(table) == _hashlib_leaves(table)


def test_fallback_root_matches_native_root(native: object, monkeypatch: pytest.MonkeyPatch) -> None:
    table = _random_table(random.Random(11), 500)
    native_root = merkle.record_merkle_root(table)
    monkeypatch.setattr(batch_hashing, "native", None)
    assert merkle.record_merkle_root(table) == native_root


@pytest.mark.parametrize("size", [1, 2, 3, 4, 5, 7, 8, 9, 255, 256, 257, 1023, 1025])
def test_native_tree_root_matches_the_python_tree(native: object, size: int) -> None:
    leaves = [hashlib.sha256(b"\x00" + i.to_bytes(4, "big")).digest() for i in range(size)]
    assert batch_hashing.native.tree_root(b"".join(leaves)) == merkle._root(leaves)  # type: ignore[attr-defined]


def test_zero_column_rows_hash_the_bare_prefix(native: object) -> None:
    table = pa.table({"x": [1, 2]}).drop_columns(["x"])
    assert merkle.record_leaf_hashes(table) == [hashlib.sha256(b"\x00").digest()] * 2


def test_bad_buffers_are_refused_not_read(native: object) -> None:
    ext = batch_hashing.native
    data = b"abcdef"
    good = np.array([0, 2, 6], dtype=np.int64)
    assert len(ext.record_hashes(b"\x00", [(data, good, None, 0)], 2)) == 64  # type: ignore[attr-defined]
    for offsets, count in (
        (np.array([0, 4, 2], dtype=np.int64), 2),  # decreasing
        (np.array([0, 2, 60], dtype=np.int64), 2),  # past the data
        (np.array([-1, 2, 6], dtype=np.int64), 2),  # before the data
        (np.array([0, 2], dtype=np.int64), 2),  # too few offsets
    ):
        with pytest.raises(ValueError, match="offsets"):
            ext.record_hashes(b"\x00", [(data, offsets, None, 0)], count)  # type: ignore[attr-defined]
    many = np.arange(10, dtype=np.int64) // 2
    for validity, bit_offset in ((b"\xff", 0), (b"\xff\xff", 8), (b"\xff\xff", -1)):
        with pytest.raises(ValueError, match="validity"):
            ext.record_hashes(b"\x00", [(b"abcde", many, validity, bit_offset)], 9)  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match="32-byte"):
        ext.tree_root(b"\x00" * 33)  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match="32-byte"):
        ext.tree_root(b"")  # type: ignore[attr-defined]


def test_fields_are_framed_as_the_spec_says(native: object) -> None:
    """`~` for a null, `<length>:` before a value (lengths of 1 to 5 digits), nulls read from
    the bitmap at its bit offset."""
    values = pa.array([b"", None, b"x" * 9, b"y" * 10, None, b"z" * 12345], pa.large_binary()).slice(1)
    data, offsets = batch_hashing.buffers(values)
    block = native.record_hashes(b"\x00", [(data, offsets, values.buffers()[0], values.offset)], 5)  # type: ignore[attr-defined]
    fields = [b"~", b"9:" + b"x" * 9, b"10:" + b"y" * 10, b"~", b"12345:" + b"z" * 12345]
    assert block == b"".join(hashlib.sha256(b"\x00" + f).digest() for f in fields)


def test_large_batch_equals_hashlib(native: object) -> None:
    n = 200_000
    table = pa.table({
        "id": pa.array(np.arange(n)),
        "name": pc.cast(pa.array(np.arange(n) * 7919), pa.string()),
    })  # fmt: skip
    assert merkle.record_merkle_root(table) == merkle._root(_hashlib_leaves(table)).hex()


@settings(max_examples=60, deadline=None)
@given(key=st.binary(min_size=16, max_size=200), messages=st.lists(st.binary(max_size=300), max_size=40))
def test_native_hmac_equals_hmac_digest(key: bytes, messages: list[bytes]) -> None:
    assert audit.NATIVE_HASHING
    values = pa.array(messages, pa.large_binary())
    block = pseudonyms._digest_block(key, values)
    assert [block[i : i + 32] for i in range(0, len(block), 32)] == [
        hmac.digest(key, m, "sha256") for m in messages
    ]


def test_native_hmac_reads_a_sliced_array_from_its_offset(native: object) -> None:
    values = pa.array([b"a", b"bb", b"ccc", b""], pa.large_binary()).slice(1)
    key = b"k" * 32
    assert pseudonyms._digest_block(key, values) == b"".join(
        hmac.digest(key, m, "sha256") for m in (b"bb", b"ccc", b"")
    )


def test_pseudonyms_are_the_same_with_and_without_the_extension(
    native: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = pa.array([f"{i:011d}" for i in range(5_000)] + [None, "00000000007"])
    key = b"audit-key-" * 4
    fast = pseudonyms.pseudonymize(ids, key)
    monkeypatch.setattr(batch_hashing, "native", None)
    slow = pseudonyms.pseudonymize(ids, key)
    assert fast.equals(slow)
    assert fast[0].as_py() == hmac.digest(key, b"00000000000", "sha256").hex()
    assert fast[5_000].as_py() is None and fast[5_001] == fast[7]


def test_native_hmac_refuses_bad_offsets(native: object) -> None:
    with pytest.raises(ValueError, match="offsets"):
        batch_hashing.native.hmac_rows(b"k" * 32, b"abc", np.array([0, 2, 1], np.int64), 2)  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match="offsets"):
        batch_hashing.native.hmac_rows(b"k" * 32, b"abc", np.array([0, 9], np.int64), 1)  # type: ignore[attr-defined]
