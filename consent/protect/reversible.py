"""Deterministic encryption (AES-SIV, RFC 5297) of fields the owner declares reversible
by a named recipient, a whole column at a time.

What a caller must know:

* The key is per (recipient, field): `KeyStore.field_key(recipient, field)` (64 bytes:
  AES-256-SIV). The field name is bound in as associated data, so a value moved to
  another column does not decrypt.
* Deterministic on purpose: equal values give equal ciphertexts under the same key, so
  the recipient can join and group on the column without decrypting; it also means the
  column shows which rows share a value (accepted for the fields this is declared for).
* A value is encrypted as its text (integers and decimals as decimal text, floats as
  pyarrow's shortest text, dates and timestamps as ISO text; binary as raw bytes); the
  result is a string column of base64. Nulls stay null. `decrypt_column` casts back to
  the type the caller names (the delivered schema's original type).
* Speed: like `pseudonymize`, one AES-SIV call per *distinct* value, gathered back with
  `take` — no per-row Python.
"""

from __future__ import annotations

import base64
import binascii

import pyarrow as pa
import pyarrow.compute as pc
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESSIV

from govbus.arrow_arrays import one_array
from govbus.errors import BadConfiguration, BadInput

_AD_LABEL = b"govbus/reversible/v1"
_KEY_BYTES = (32, 48, 64)


def _siv(key: bytes) -> AESSIV:
    if not isinstance(key, bytes | bytearray) or len(key) not in _KEY_BYTES:
        raise BadConfiguration(
            "an AES-SIV key must be 32, 48 or 64 bytes",
            where="reversible field key",
            hint="pass KeyStore.field_key(recipient, field)",
        )
    return AESSIV(bytes(key))


def _as_bytes(values: pa.Array, field: str) -> pa.Array:
    kind = values.type
    if pa.types.is_dictionary(kind):
        values, kind = values.cast(kind.value_type), kind.value_type
    if pa.types.is_binary(kind) or pa.types.is_large_binary(kind) or pa.types.is_fixed_size_binary(kind):
        return values.cast(pa.large_binary())
    if pa.types.is_nested(kind):
        raise BadInput("nested columns cannot be encrypted", where=f"field {field}")
    try:
        return values.cast(pa.large_string()).cast(pa.large_binary())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        raise BadInput(f"a {kind} column cannot be encrypted as text", where=f"field {field}") from None


def encrypt_column(values: pa.Array | pa.ChunkedArray, key: bytes, *, field: str) -> pa.Array:
    """AES-SIV ciphertexts (base64 strings) of `values`; equal values, equal ciphertexts."""
    siv = _siv(key)
    encoded = _as_bytes(one_array(values), field).dictionary_encode()
    ad = [_AD_LABEL, field.encode("utf-8")]
    distinct: list[bytes] = encoded.dictionary.to_pylist()
    sealed = [base64.b64encode(siv.encrypt(value, ad)).decode("ascii") for value in distinct]
    return pc.take(pa.array(sealed, pa.string()), encoded.indices)


def decrypt_column(
    values: pa.Array | pa.ChunkedArray, key: bytes, *, field: str, as_type: pa.DataType | None = None
) -> pa.Array:
    """The plaintexts of `encrypt_column`'s output, cast to `as_type` (default string).

    A value that does not decrypt under this key and field (tampered, another field's,
    another recipient's) is a BadInput naming the field, never the value.
    """
    siv = _siv(key)
    as_type = pa.string() if as_type is None else as_type
    column = one_array(values)
    if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
        raise BadInput("encrypted values must be a string column", where=f"field {field}")
    encoded = column.dictionary_encode()
    ad = [_AD_LABEL, field.encode("utf-8")]
    try:
        opened = [
            siv.decrypt(base64.b64decode(text, validate=True), ad) for text in encoded.dictionary.to_pylist()
        ]
    except (InvalidTag, binascii.Error, ValueError):
        raise BadInput(
            "a value does not decrypt with this recipient's key for this field",
            where=f"field {field}",
            hint="check the key, the field and that the file was not altered",
        ) from None
    plain = pc.take(pa.array(opened, pa.large_binary()), encoded.indices)
    if pa.types.is_binary(as_type) or pa.types.is_large_binary(as_type):
        return plain.cast(as_type)
    try:
        return plain.cast(pa.large_string()).cast(as_type)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        raise BadInput(f"decrypted values are not of type {as_type}", where=f"field {field}") from None
