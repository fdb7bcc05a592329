"""decide and minimize: statute first, then consents, vectorized; deny by default."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pytest
import sqlalchemy as sa

from consent import (
    CONSENT_BASIS,
    ConsentRegister,
    KeyStore,
    Statute,
    decide,
    minimize,
    policy_version,
)
from govbus.errors import BadConfiguration, BadInput

AT = datetime(2024, 6, 1, tzinfo=UTC)
SCOPE = {"dataset": "tax.income", "recipient": "benefits", "purpose": "BENEFIT_ELIGIBILITY"}
STATUTE = Statute(
    id="SBA-ACT-12",
    law="Social Benefits Act §12(3)",
    fields=("a", "b"),
    valid_from=datetime(2020, 1, 1, tzinfo=UTC),
    valid_until=datetime(2025, 1, 1, tzinfo=UTC),
    **SCOPE,
)
CONSENTS = pa.table({"subject_ref": ["r1", "r3"], "consent_id": ["c1", "c3"]})


def test_statute_in_force_allows_every_row() -> None:
    refs = pa.array(["r1", None, "r2"])
    decision = decide(refs, statute=STATUTE, consents=None, at=AT, **SCOPE)
    assert decision.basis == "SBA-ACT-12"
    assert decision.allowed.to_pylist() == [True, True, True]
    assert (decision.allowed_count, decision.denied_count) == (3, 0)
    assert decision.consent_ids is None


def test_statute_out_of_force_or_scope_falls_back_to_consent() -> None:
    refs = pa.array(["r1", "r2", "r3"])
    expired = decide(refs, statute=STATUTE, consents=CONSENTS, at=datetime(2025, 1, 1, tzinfo=UTC), **SCOPE)
    assert expired.basis == CONSENT_BASIS
    assert expired.allowed.to_pylist() == [True, False, True]
    wider = decide(refs, statute=STATUTE, consents=None, at=AT, fields=["a", "c"], **SCOPE)
    assert wider.basis == CONSENT_BASIS and wider.allowed_count == 0
    other = decide(
        refs,
        statute=STATUTE,
        consents=None,
        at=AT,
        dataset="tax.income",
        recipient="statistics",
        purpose="BENEFIT_ELIGIBILITY",
    )
    assert other.denied_count == 3


def test_consent_decision_is_per_row() -> None:
    refs = pa.chunked_array([["r3", None, "r2"], ["r1", "r3"]])
    decision = decide(refs, statute=None, consents=CONSENTS, at=AT, **SCOPE)
    assert isinstance(decision.allowed, pa.BooleanArray)
    assert decision.allowed.to_pylist() == [True, False, False, True, True]
    assert decision.consent_ids is not None
    assert decision.consent_ids.to_pylist() == ["c3", None, None, "c1", "c3"]
    assert (decision.allowed_count, decision.denied_count) == (3, 2)
    assert decision.consents_used == 2  # c3 twice, c1 once


def test_statute_needs_only_the_row_count() -> None:
    decision = decide(None, statute=STATUTE, consents=None, at=AT, rows=4, **SCOPE)
    assert decision.allowed.to_pylist() == [True] * 4
    assert decision.consents_used == 0
    lapsed = decide(
        None, statute=STATUTE, consents=None, rows=2, **SCOPE, at=datetime(2030, 1, 1, tzinfo=UTC)
    )
    assert lapsed.allowed.to_pylist() == [False, False] and lapsed.denied_count == 2
    with pytest.raises(BadInput):
        decide(None, statute=STATUTE, consents=None, at=AT, **SCOPE)


def test_no_consents_denies_everything() -> None:
    decision = decide(pa.array(["r1", "r2"]), statute=None, consents=None, at=AT, **SCOPE)
    assert decision.allowed.to_pylist() == [False, False]
    assert decision.denied_count == 2


def test_register_and_decide_together(engine: sa.Engine, keystore: KeyStore) -> None:
    register = ConsentRegister(keystore.audit_key())
    with engine.begin() as conn:
        granted = register.grant(conn, "11111111111", fields=["a"], valid_from=AT, **SCOPE)
        revoked = register.grant(conn, "22222222222", fields=["a"], valid_from=AT, **SCOPE)
        register.revoke(conn, revoked, at=AT + timedelta(hours=1))
        batch = pa.table(
            {"national_id": ["22222222222", "11111111111", "33333333333"], "a": [1, 2, 3], "b": [4, 5, 6]}
        )
        at = AT + timedelta(hours=2)
        consents = register.active(conn, fields=["a"], at=at, **SCOPE)
    decision = decide(
        register.subject_refs(batch.column("national_id")), statute=None, consents=consents, at=at, **SCOPE
    )
    assert decision.allowed.to_pylist() == [False, True, False]
    assert decision.consent_ids is not None
    assert decision.consent_ids.to_pylist() == [None, granted, None]
    delivered = minimize(decision.select(batch), ["a"])
    assert delivered.to_pydict() == {"a": [2]}


def test_minimize_selects_in_order_and_refuses_unknown_fields() -> None:
    table = pa.table({"a": [1], "b": [2], "c": [3]})
    assert minimize(table, ["c", "a"]).column_names == ["c", "a"]
    with pytest.raises(BadConfiguration, match="field d is not in the batch"):
        minimize(table, ["a", "d"])
    with pytest.raises(BadConfiguration, match="twice"):
        minimize(table, ["a", "a"])


def test_select_refuses_another_batch() -> None:
    decision = decide(pa.array(["r1"]), statute=None, consents=CONSENTS, at=AT, **SCOPE)
    with pytest.raises(BadInput):
        decision.select(pa.table({"a": [1, 2]}))


def test_policy_version_fingerprints_the_rule() -> None:
    base = policy_version(fields=["a"], statute=STATUTE, **SCOPE)
    assert base.startswith("sha256:") and base == policy_version(fields=["a"], statute=STATUTE, **SCOPE)
    assert base != policy_version(fields=["a", "b"], statute=STATUTE, **SCOPE)
    assert base != policy_version(fields=["a"], statute=replace(STATUTE, fields=("a",)), **SCOPE)
    assert base != policy_version(fields=["a"], statute=None, **SCOPE)


def test_select_copies_only_what_leaves() -> None:
    table = pa.table({"a": [1, 2, 3], "b": [4, 5, 6], "secret": [7, 8, 9]})
    everyone = decide(None, statute=STATUTE, consents=None, at=AT, rows=3, **SCOPE)
    assert everyone.select(table, ["a"]).column_names == ["a"]
    assert everyone.select(table) is table  # all allowed: no copy
    some = decide(pa.array(["r3", "rx", "r1"]), statute=None, consents=CONSENTS, at=AT, **SCOPE)
    assert some.select(table, ["b", "a"]).to_pydict() == {"b": [4, 6], "a": [1, 3]}
    nobody = decide(pa.array(["rx"] * 3), statute=None, consents=CONSENTS, at=AT, **SCOPE)
    assert nobody.select(table).num_rows == 0 and nobody.select(table).schema == table.schema
