"""RFC 6962 Merkle roots, inclusion proofs and canonical record leaves."""

from __future__ import annotations

import hashlib

import pyarrow as pa
import pytest

from audit import inclusion_proof, merkle_root, record_leaf_hashes, record_merkle_root, verify_inclusion
from govbus.errors import BadInput

# The leaf inputs of the RFC 6962 reference test vectors (certificate-transparency).
INPUTS = [
    b"",
    b"\x00",
    b"\x10",
    b"\x20\x21",
    b"\x30\x31",
    b"\x40\x41\x42\x43",
    bytes(range(0x50, 0x58)),
    bytes(range(0x60, 0x70)),
]
KNOWN_ROOTS = {
    1: "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    2: "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    3: "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    4: "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    5: "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    6: "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    7: "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    8: "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
}
LEAVES = [hashlib.sha256(b"\x00" + data).digest() for data in INPUTS]


def _h(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _reference_root(leaves: list[bytes]) -> bytes:
    """RFC 6962 §2.1 literally: split at the largest power of two below n."""
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return _h(b"\x01" + _reference_root(leaves[:k]) + _reference_root(leaves[k:]))


def test_three_leaf_tree_by_hand() -> None:
    l0, l1, l2 = LEAVES[:3]
    by_hand = _h(b"\x01" + _h(b"\x01" + l0 + l1) + l2)
    assert merkle_root(LEAVES[:3]) == by_hand.hex() == KNOWN_ROOTS[3]


@pytest.mark.parametrize("size", range(1, 9))
def test_rfc6962_test_vectors(size: int) -> None:
    assert merkle_root(LEAVES[:size]) == KNOWN_ROOTS[size]
    assert _reference_root(LEAVES[:size]).hex() == KNOWN_ROOTS[size]


def test_empty_tree_and_larger_trees_match_reference() -> None:
    assert merkle_root([]) == hashlib.sha256(b"").hexdigest()
    leaves = [_h(b"\x00" + i.to_bytes(4, "big")) for i in range(37)]
    for size in (9, 16, 17, 31, 37):
        assert merkle_root(leaves[:size]) == _reference_root(leaves[:size]).hex()
    with pytest.raises(BadInput):
        merkle_root([b"short"])


def test_inclusion_proofs_verify_and_catch_lies() -> None:
    leaves = [_h(b"\x00" + i.to_bytes(4, "big")) for i in range(13)]
    for size in range(1, 14):
        root = merkle_root(leaves[:size])
        for index in range(size):
            proof = inclusion_proof(leaves[:size], index)
            assert verify_inclusion(leaves[index], index, size, proof, root)
            other = leaves[(index + 1) % 13]
            assert not verify_inclusion(other, index, size, proof, root)
            if size > 1:
                assert not verify_inclusion(leaves[index], (index + 1) % size, size, proof, root)
    assert not verify_inclusion(leaves[0], 0, 2, inclusion_proof(leaves[:2], 0), "00" * 32)


def test_leaf_is_sha256_of_prefixed_length_encoded_row() -> None:
    table = pa.table(
        {
            "id": pa.array([7, None], pa.int64()),
            "name": ["ab", None],
            "raw": pa.array([b"\x00:", b""], pa.binary()),
        }
    )
    expected = [_h(b"\x00" + b"1:7" + b"2:ab" + b"2:\x00:"), _h(b"\x00" + b"~" + b"~" + b"0:")]
    assert record_leaf_hashes(table) == expected


def test_encoding_is_unambiguous() -> None:
    def leaf(columns: dict[str, list[str | None]]) -> bytes:
        return record_leaf_hashes(pa.table(columns))[0]

    assert leaf({"x": ["a"], "y": ["bc"]}) != leaf({"x": ["ab"], "y": ["c"]})
    assert leaf({"x": [None]}) != leaf({"x": ["~"]})
    assert leaf({"x": [None]}) != leaf({"x": [""]})
    assert leaf({"x": ["1:a"], "y": [""]}) != leaf({"x": ["1"], "y": ["a"]})


def test_chunking_does_not_change_leaves() -> None:
    whole = pa.table({"a": list(range(10)), "b": [str(i) for i in range(10)]})
    chunked = pa.concat_tables([whole.slice(0, 3), whole.slice(3)])
    assert chunked.column(0).num_chunks == 2
    assert record_leaf_hashes(chunked) == record_leaf_hashes(whole)


def test_nested_columns_are_refused_by_name() -> None:
    with pytest.raises(BadInput) as caught:
        record_leaf_hashes(pa.table({"tags": [["a"]]}))
    assert caught.value.where == "column tags"


def test_record_merkle_root_is_the_root_of_the_record_leaves() -> None:
    n = 20_000
    table = pa.table(
        {
            "return_id": pa.array(range(n), pa.int64()),
            "national_id": [f"{i:011d}" for i in range(n)],
            "tax_year": pa.array([2023] * n, pa.int16()),
            "gross_income": [i * 1.5 for i in range(n)],
            "filing_status": ["SINGLE", None] * (n // 2),
            "updated_at": pa.array([1_700_000_000_000_000] * n, pa.timestamp("us", "UTC")),
        }
    )
    leaves = record_leaf_hashes(table)
    assert record_merkle_root(table) == merkle_root(leaves) == _reference_root(leaves).hex()
    assert record_merkle_root(table.slice(0, 0)) == hashlib.sha256(b"").hexdigest()
