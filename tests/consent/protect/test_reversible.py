"""AES-SIV deterministic encryption of reversible fields: round trips, keys, binding, speed."""

from __future__ import annotations

import datetime as dt
import decimal

import pyarrow as pa
import pytest

import consent.protect.reversible as reversible
from consent import KeyStore, decrypt_column, encrypt_column
from govbus.errors import BadConfiguration, BadInput

COLUMNS = {
    "postal_code": pa.array(["1010", None, "2020", "1010", ""]),
    "tax_due": pa.array(
        [
            decimal.Decimal("12.50"),
            None,
            decimal.Decimal("0.00"),
            decimal.Decimal("12.50"),
            decimal.Decimal("-3.10"),
        ],
        pa.decimal128(12, 2),
    ),
    "tax_year": pa.array([2024, 2023, None, 2024, 2022], pa.int32()),
    "ratio": pa.array([0.1, 1e300, None, 0.1, -2.5]),
    "born": pa.array(
        [dt.date(1980, 1, 2), None, dt.date(2001, 12, 31), dt.date(1980, 1, 2), dt.date(1970, 1, 1)]
    ),
    "updated_at": pa.array(
        [
            dt.datetime(2025, 1, 1, 12, 0, 0, 123456),
            None,
            None,
            dt.datetime(2025, 1, 1, 12, 0, 0, 123456),
            dt.datetime(1999, 12, 31),
        ],
        pa.timestamp("us"),
    ),
    "blob": pa.array([b"\x00\xff", None, b"", b"\x00\xff", b"x"]),
}


@pytest.mark.parametrize("name", sorted(COLUMNS))
def test_round_trip_keeps_values_type_and_nulls(keystore: KeyStore, name: str) -> None:
    values = COLUMNS[name]
    key = keystore.field_key("benefits", name)
    sealed = encrypt_column(values, key, field=name)
    assert sealed.type == pa.string() and sealed.null_count == values.null_count
    as_list = sealed.to_pylist()
    assert as_list[0] == as_list[3] and as_list[0] != as_list[4]  # deterministic per value
    plain = [v for v in values.to_pylist() if v is not None]
    assert not any(str(v) in (s or "") for v in plain if len(str(v)) >= 5 for s in as_list)
    back = decrypt_column(pa.chunked_array([sealed[:2], sealed[2:]]), key, field=name, as_type=values.type)
    assert back.type == values.type and back.to_pylist() == values.to_pylist()


def test_keys_are_per_recipient_and_field_and_stable(keystore: KeyStore) -> None:
    values = COLUMNS["postal_code"]
    mine = encrypt_column(values, keystore.field_key("benefits", "postal_code"), field="postal_code")
    again = encrypt_column(values, keystore.field_key("benefits", "postal_code"), field="postal_code")
    other = keystore.field_key("housing", "postal_code")
    assert mine.equals(again)
    assert mine[0].as_py() != encrypt_column(values, other, field="postal_code")[0].as_py()
    with pytest.raises(BadInput, match="does not decrypt") as caught:
        decrypt_column(mine, other, field="postal_code")  # another recipient's key
    assert "1010" not in str(caught.value)
    key = keystore.field_key("benefits", "postal_code")
    with pytest.raises(BadInput, match="does not decrypt"):
        decrypt_column(mine, key, field="municipality_code")  # moved to another column
    forged = pa.array([mine[0].as_py()[:-4] + "AAA="])
    with pytest.raises(BadInput, match="does not decrypt"):
        decrypt_column(forged, key, field="postal_code")
    rotated = keystore.field_key("benefits", "postal_code", key_id="k2")
    assert rotated != key and len(rotated) == 64


def test_one_cipher_call_per_distinct_value(keystore: KeyStore, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = {"n": 0}
    real = reversible.AESSIV

    class Counting:
        def __init__(self, key: bytes) -> None:
            self._siv = real(key)

        def encrypt(self, data: bytes, ad: list[bytes]) -> bytes:
            calls["n"] += 1
            return self._siv.encrypt(data, ad)

    monkeypatch.setattr(reversible, "AESSIV", Counting)
    values = pa.array([f"{i % 1000:04d}" for i in range(100_000)])
    sealed = encrypt_column(values, keystore.field_key("benefits", "postal_code"), field="postal_code")
    assert calls["n"] == 1000 and len(sealed) == 100_000


def test_bad_keys_and_columns_are_refused(keystore: KeyStore) -> None:
    with pytest.raises(BadConfiguration):
        encrypt_column(pa.array(["a"]), b"short", field="f")
    with pytest.raises(BadInput, match="nested"):
        encrypt_column(pa.array([[1]]), keystore.field_key("r", "f"), field="f")
    with pytest.raises(BadInput, match="string column"):
        decrypt_column(pa.array([1]), keystore.field_key("r", "f"), field="f")
