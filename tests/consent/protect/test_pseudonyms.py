"""pseudonymize: keyed, deterministic, null-preserving, vectorized."""

from __future__ import annotations

import hmac

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consent import KeyStore, pseudonymize
from consent.protect.pseudonyms import hmac_sha256_many
from govbus.errors import BadConfiguration, BadInput


def test_equal_inputs_equal_outputs_and_nulls_stay(keystore: KeyStore) -> None:
    key = keystore.pseudonym_key("benefits", "BENEFIT_ELIGIBILITY")
    out = pseudonymize(pa.array(["12345678901", None, "10987654321", "12345678901"]), key)
    assert out.type == pa.string()
    values = out.to_pylist()
    assert values[0] == values[3] != values[2]
    assert values[1] is None
    assert values[0] == hmac.digest(key, b"12345678901", "sha256").hex()
    assert all(len(v) == 64 for v in values if v is not None)


def test_recipients_get_unrelated_pseudonyms(keystore: KeyStore) -> None:
    ids = pa.array([f"{i:011d}" for i in range(100)])
    benefits = pseudonymize(ids, keystore.pseudonym_key("benefits", "BENEFIT_ELIGIBILITY"))
    stats = pseudonymize(ids, keystore.pseudonym_key("statistics", "BENEFIT_ELIGIBILITY"))
    assert set(benefits.to_pylist()).isdisjoint(stats.to_pylist())


def test_chunked_integer_and_dictionary_inputs_agree_with_strings() -> None:
    key = b"k" * 32
    as_text = pseudonymize(pa.array(["7", "8", None]), key)
    chunked = pseudonymize(pa.chunked_array([[7], [8, None]], pa.int64()), key)
    dictionary = pseudonymize(pa.array(["7", "8", None]).dictionary_encode(), key)
    assert chunked.equals(as_text) and dictionary.equals(as_text)
    assert len(pseudonymize(pa.chunked_array([], pa.string()), key)) == 0


def test_bad_key_and_bad_type_are_refused() -> None:
    with pytest.raises(BadConfiguration):
        pseudonymize(pa.array(["a"]), b"short")
    with pytest.raises(BadInput, match="pseudonymized"):
        pseudonymize(pa.array([1.5]), b"k" * 32)


@settings(max_examples=50, deadline=None)
@given(key=st.binary(min_size=16, max_size=200), messages=st.lists(st.binary(max_size=80)))
def test_fast_hmac_equals_hmac_digest(key: bytes, messages: list[bytes]) -> None:
    expected = [hmac.digest(key, m, "sha256") for m in messages]
    assert hmac_sha256_many(key, messages) == expected


def test_every_distinct_value_gets_its_own_pseudonym() -> None:
    ids = pa.array([f"{i:011d}" for i in range(200_000)])
    out = pseudonymize(ids, b"k" * 32)
    assert len(set(out.to_pylist())) == 200_000
    assert out[123_456].as_py() == hmac.digest(b"k" * 32, b"00000123456", "sha256").hex()
