"""Typed ledger payloads: the same bytes as the untyped dicts they replace, and clear errors."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from audit import (
    CatalogChange,
    CatalogChangedEntry,
    DeliveryEntry,
    QuarantineDiscardEntry,
    QuarantineReplayEntry,
    QuarantineViewEntry,
    canonical_json,
)
from govbus.errors import FatalError, GovBusError

# A delivery payload exactly as exchange/run/deliver.py built it before DeliveryEntry existed.
OLD_PLAIN: dict[str, Any] = {
    "dataset": "tax.income",
    "contract_version": "1.2.0",
    "schema_sha256": "a" * 64,
    "subscription": "housing.tax-income",
    "recipient": "housing",
    "purpose": "HOUSING_ALLOWANCE",
    "basis": "consent",
    "policy_version": "0123456789abcdef",
    "consents_used": 4,
    "batch_id": "tax.income.7.x1y2-00001-housing.tax-income",
    "rows_delivered": 5,
    "rows_denied": 2,
    "denials": {"no consent": 2},
    "fields": ["national_id", "gross_income", "subject_pseudonym"],
    "pseudonym_key_id": None,
    "merkle_root": "b" * 64,
    "files": [],
    "manifest_sha256": None,
}
OLD_FILES: dict[str, Any] = {
    **OLD_PLAIN,
    "pseudonym_key_id": "k-2026",
    "files": [["batch.parquet.enc", "c" * 64], ["batch-2.parquet.enc", "d" * 64]],
    "manifest_sha256": "e" * 64,
    "reversible_fields": ["national_id"],
    "encrypted_files": True,
}


def _plain() -> DeliveryEntry:
    return DeliveryEntry(
        dataset="tax.income",
        contract_version="1.2.0",
        schema_sha256="a" * 64,
        subscription="housing.tax-income",
        recipient="housing",
        purpose="HOUSING_ALLOWANCE",
        basis="consent",
        policy_version="0123456789abcdef",
        consents_used=4,
        batch_id="tax.income.7.x1y2-00001-housing.tax-income",
        rows_delivered=5,
        rows_denied=2,
        denials={"no consent": 2},
        fields=("national_id", "gross_income", "subject_pseudonym"),
        pseudonym_key_id=None,
        merkle_root="b" * 64,
        files=(),
        manifest_sha256=None,
    )


def _with_files() -> DeliveryEntry:
    return DeliveryEntry(
        **{
            **_plain().__dict__,
            "pseudonym_key_id": "k-2026",
            "files": (("batch.parquet.enc", "c" * 64), ("batch-2.parquet.enc", "d" * 64)),
            "manifest_sha256": "e" * 64,
            "reversible_fields": ("national_id",),
            "encrypted_files": True,
        }
    )


@pytest.mark.parametrize(("entry", "old"), [(_plain(), OLD_PLAIN), (_with_files(), OLD_FILES)])
def test_a_delivery_entry_is_the_old_payload_exactly_and_round_trips(entry: DeliveryEntry, old: dict) -> None:
    payload = entry.to_payload()
    assert payload == old
    # Same JSON types too (== would let a tuple pass for a list): the hashed text is the same.
    assert canonical_json(payload) == canonical_json(old)
    assert DeliveryEntry.from_payload(old) == entry
    assert DeliveryEntry.from_payload(payload).to_payload() == old
    assert DeliveryEntry.KIND == "delivery"


def test_the_optional_keys_are_left_out_unless_used() -> None:
    payload = _plain().to_payload()
    assert "reversible_fields" not in payload and "encrypted_files" not in payload
    only_encrypted = DeliveryEntry(**{**_plain().__dict__, "encrypted_files": True}).to_payload()
    assert only_encrypted == {**OLD_PLAIN, "encrypted_files": True}


def test_the_record_is_frozen_and_does_not_share_its_lists() -> None:
    entry = _plain()
    with pytest.raises(AttributeError):
        entry.rows_delivered = 6  # type: ignore[misc]
    payload = entry.to_payload()
    payload["fields"].append("extra")
    payload["denials"]["extra"] = 1
    assert entry.to_payload() == OLD_PLAIN


@pytest.mark.parametrize("key", sorted(OLD_PLAIN))
def test_a_missing_key_is_named_in_a_govbus_error(key: str) -> None:
    payload = {k: v for k, v in OLD_PLAIN.items() if k != key}
    with pytest.raises(FatalError) as raised:
        DeliveryEntry.from_payload(payload, seq=42)
    assert isinstance(raised.value, GovBusError) and not isinstance(raised.value, KeyError)
    assert raised.value.where == f"ledger entry 42 (delivery): {key}"
    assert f"'{key}' is missing" in raised.value.message


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("dataset", None),
        ("contract_version", 1),
        ("rows_delivered", "5"),
        ("rows_denied", True),
        ("consents_used", 1.0),
        ("denials", {"no consent": "2"}),
        ("fields", "national_id"),
        ("pseudonym_key_id", 7),
        ("files", [["only-a-name"]]),
        ("manifest_sha256", ["e"]),
        ("reversible_fields", []),
        ("reversible_fields", "national_id"),
        ("encrypted_files", False),
    ],
)
def test_an_ill_typed_key_is_named_and_its_value_is_not(key: str, value: Any) -> None:
    payload = {**copy.deepcopy(OLD_PLAIN), key: value}
    with pytest.raises(FatalError) as raised:
        DeliveryEntry.from_payload(payload)
    assert raised.value.where == f"delivery entry: {key}"
    assert raised.value.message.startswith(f"payload key '{key}' must ")


def test_a_payload_that_is_not_an_object_is_refused() -> None:
    with pytest.raises(FatalError, match="not a JSON object"):
        DeliveryEntry.from_payload(["dataset"], seq=3)  # type: ignore[arg-type]


def test_keys_a_newer_writer_added_are_ignored() -> None:
    assert DeliveryEntry.from_payload({**OLD_PLAIN, "future": 1}) == _plain()


# -- the other kinds the exchange appends -------------------------------------------------

OLD_OTHERS: list[tuple[type, dict[str, Any]]] = [
    (
        QuarantineViewEntry,
        {
            "viewer": "alice",
            "reason": "ticket 12",
            "datasets": ["tax.income"],
            "quarantine_ids": [3, 1],
            "fields": ["national_id"],
        },
    ),
    (
        QuarantineDiscardEntry,
        {"by": "alice", "reason": "duplicate", "datasets": ["tax.income"], "quarantine_ids": [4]},
    ),
    (
        QuarantineReplayEntry,
        {
            "dataset": "tax.income",
            "by": "alice",
            "stage_id": None,
            "contract_version": "1.2.0",
            "schema_sha256": "a" * 64,
            "replayed": [],
            "still_quarantined": [5, 6],
            "superseded": [],
            "unreadable": [7],
        },
    ),
    (
        CatalogChangedEntry,
        {
            "format": "govbus-catalog/1",
            "catalog_sha256": "f" * 64,
            "previous_sha256": None,
            "changes": [
                {"item": "agency:tax", "change": "added", "old_sha256": None, "new_sha256": "1" * 64},
                {
                    "item": "subscription:s",
                    "change": "changed",
                    "old_sha256": "2" * 64,
                    "new_sha256": "3" * 64,
                    "fields_added": ["gross_income"],
                    "fields_removed": [],
                },
            ],
            "items": {"agency:tax": "1" * 64, "subscription:s": "3" * 64},
            "fields": {"subscription:s": ["national_id", "gross_income"]},
        },
    ),
]


@pytest.mark.parametrize(("record", "old"), OLD_OTHERS, ids=lambda x: getattr(x, "KIND", ""))
def test_the_other_kinds_round_trip_to_the_same_bytes(record: type, old: dict[str, Any]) -> None:
    typed = record.from_payload(old)
    assert typed.to_payload() == old
    assert canonical_json(typed.to_payload()) == canonical_json(old)


def test_a_catalog_change_names_the_key_inside_the_list() -> None:
    old = copy.deepcopy(OLD_OTHERS[-1][1])
    del old["changes"][1]["fields_removed"]
    with pytest.raises(FatalError) as raised:
        CatalogChangedEntry.from_payload(old, seq=9)
    assert raised.value.where == "ledger entry 9 (catalog.changed): changes[1].fields_removed"
    change = CatalogChangedEntry.from_payload(OLD_OTHERS[-1][1]).changes[1]
    assert change == CatalogChange("subscription:s", "changed", "2" * 64, "3" * 64, ("gross_income",), ())
