"""Keyed pseudonyms of identifiers, a whole column at a time.

A pseudonym is HMAC-SHA256(key, utf-8 bytes of the value) as 64 lower-case hex digits.
The same value under the same key always gives the same pseudonym, so a recipient can
join its own deliveries; two recipients' keys differ, so their copies do not join.
Integers are pseudonymized as their decimal text, so 123 and "123" agree.

Speed: no per-row Python. Where govbus._sha256_batch was built (setup.py), every value
is HMACed by OpenSSL with the GIL released (about 0.12 s per million) and the hex text is
wrapped as a string array as it stands. Without it, the column is dictionary-encoded so
that hashlib runs once per distinct value (about 1 s per million), and the result is
gathered back with `take`.
"""

from __future__ import annotations

import binascii
import hashlib

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from govbus import batch_hashing
from govbus.arrow_arrays import one_array
from govbus.errors import BadConfiguration, BadInput

MIN_KEY_BYTES = 16
_HEX_LEN = 64


def _as_binary(values: pa.Array) -> pa.Array:
    """The column as bytes to hash (strings as utf-8, integers as decimal text)."""
    kind = values.type
    if pa.types.is_dictionary(kind):
        values = values.cast(kind.value_type)
        kind = values.type
    if pa.types.is_integer(kind):
        values = values.cast(pa.string())
    elif not (
        pa.types.is_string(kind)
        or pa.types.is_large_string(kind)
        or pa.types.is_binary(kind)
        or pa.types.is_large_binary(kind)
        or pa.types.is_string_view(kind)
        or pa.types.is_binary_view(kind)
    ):
        raise BadInput(
            "only string, binary or integer identifiers can be pseudonymized",
            where=f"column of type {kind}",
            hint="conform the subject field to a string first",
        )
    return values.cast(pa.large_binary())


def hmac_sha256_many(key: bytes, messages: list[bytes]) -> list[bytes]:
    """HMAC-SHA256 (RFC 2104) of each message: equal to `hmac.digest(key, m, "sha256")`.

    The keyed inner and outer SHA-256 states are computed once and copied per message,
    which is about twice as fast as calling `hmac.digest` each time.
    """
    block = hashlib.sha256().block_size
    padded = (hashlib.sha256(key).digest() if len(key) > block else bytes(key)).ljust(block, b"\0")
    inner_copy = hashlib.sha256(bytes(b ^ 0x36 for b in padded)).copy
    outer_copy = hashlib.sha256(bytes(b ^ 0x5C for b in padded)).copy

    def one(message: bytes) -> bytes:
        inner = inner_copy()
        inner.update(message)
        outer = outer_copy()
        outer.update(inner.digest())
        return outer.digest()

    return list(map(one, messages))


def _digest_block(key: bytes, values: pa.Array) -> bytes:
    """The HMACs of a large_binary array, 32 bytes each, back to back.

    The extension hashes a null slot as the (empty) bytes it covers, so a caller passing
    nulls must mask those results; the hashlib path takes no nulls (a dictionary).
    """
    if (native := batch_hashing.native) is None:
        return b"".join(hmac_sha256_many(key, values.to_pylist()))
    data, offsets = batch_hashing.buffers(values)
    return native.hmac_rows(key, data, offsets, len(values))


def _hex_strings(block: bytes) -> pa.Array:
    """A string array of the digests' hex: one hex text and computed offsets, no copy per row."""
    text = binascii.hexlify(block)
    count = len(block) // 32
    if len(text) < 2**31:
        offsets = np.arange(0, _HEX_LEN * (count + 1), _HEX_LEN, dtype=np.int32)
        kind = pa.string()
    else:
        offsets = np.arange(0, _HEX_LEN * (count + 1), _HEX_LEN, dtype=np.int64)
        kind = pa.large_string()
    # hex is ASCII, so the text is valid utf-8 as it stands
    return pa.Array.from_buffers(kind, count, [None, pa.py_buffer(offsets), pa.py_buffer(text)])


def pseudonymize(values: pa.Array | pa.ChunkedArray, key: bytes, *, raw: bool = False) -> pa.Array:
    """HMAC-SHA256 pseudonyms (64 hex digits) of `values`; nulls stay null.

    `key` is a derived key (`KeyStore.pseudonym_key`, `KeyStore.audit_key`), never the
    master key. The result has the same length and order as `values`. With `raw`, each
    pseudonym is its 32 bytes (`pa.binary(32)`, `audit.pseudonym_forms`), for a column
    the bus keeps rather than shows.
    """
    if not isinstance(key, bytes | bytearray) or len(key) < MIN_KEY_BYTES:
        raise BadConfiguration(
            f"a pseudonym key must be at least {MIN_KEY_BYTES} bytes",
            where="pseudonymize(key)",
            hint="pass a key derived by KeyStore, not a literal",
        )
    data = _as_binary(one_array(values))
    form = _raw_digests if raw else _hex_strings
    if batch_hashing.native is not None:  # hashing every row costs less than finding the distinct ones
        hashed = form(_digest_block(bytes(key), data))
        if data.null_count:
            return pc.if_else(pc.is_valid(data), hashed, pa.scalar(None, hashed.type))
        return hashed
    encoded = data.dictionary_encode()  # nulls stay null indices
    return pc.take(form(_digest_block(bytes(key), encoded.dictionary)), encoded.indices)


def _raw_digests(block: bytes) -> pa.Array:
    """The digests as a `pa.binary(32)` array over the block as it stands (no copy)."""
    return pa.Array.from_buffers(pa.binary(32), len(block) // 32, [None, pa.py_buffer(block)])
