"""The consent model over time: boundaries, pause windows, expiry, revoke and re-grant, replay."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pytest
import sqlalchemy as sa

from audit import Ledger
from consent import ACTIVE, EXPIRED, PAUSED, PENDING, REVOKED, ConsentRegister, KeyStore, decide
from consent.register.timeline import NO_CONSENT
from govbus.errors import BadInput

T0 = datetime(2024, 1, 1, tzinfo=UTC)
US = timedelta(microseconds=1)
SCOPE = {"recipient": "benefits", "dataset": "health.disability", "purpose": "BENEFIT_ELIGIBILITY"}
FIELDS = ["disability_grade"]
ALICE, BOB, CAROL, DAN, ERIN, FRANK, GRACE = (f"{n:011d}" for n in range(1, 8))


def _active_ids(
    register: ConsentRegister, conn: sa.Connection, at: datetime, known_at: datetime | None = None
) -> set[str]:
    table = register.active(conn, fields=FIELDS, at=at, known_at=known_at, **SCOPE)
    return set(table.column("consent_id").to_pylist())


def test_validity_is_half_open_to_the_microsecond(engine: sa.Engine, keystore: KeyStore) -> None:
    register = ConsentRegister(keystore.audit_key())
    with engine.begin() as conn:
        cid = register.grant(
            conn, ALICE, fields=FIELDS, valid_from=T0, valid_until=T0 + timedelta(days=1), **SCOPE
        )
    with engine.connect() as conn:
        assert _active_ids(register, conn, T0 - US) == set()
        assert _active_ids(register, conn, T0) == {cid}  # valid_from is inclusive
        assert _active_ids(register, conn, T0 + timedelta(days=1) - US) == {cid}
        assert _active_ids(register, conn, T0 + timedelta(days=1)) == set()  # until exclusive
        timeline = register.timeline(conn, fields=FIELDS, **SCOPE)
    states = {
        at: timeline.states(at).column("state").to_pylist() for at in (T0 - US, T0, T0 + timedelta(days=1))
    }
    assert states == {T0 - US: [PENDING], T0: [ACTIVE], T0 + timedelta(days=1): [EXPIRED]}


def test_valid_until_exactly_now_is_no_longer_in_force(engine: sa.Engine, keystore: KeyStore) -> None:
    register = ConsentRegister(keystore.audit_key())
    now = datetime.now(UTC)
    with engine.begin() as conn:
        cid = register.grant(
            conn, ALICE, fields=FIELDS, valid_from=now - timedelta(days=3), valid_until=now, **SCOPE
        )
        refs = register.subject_refs(pa.array([ALICE]))
        at_now = register.active(conn, fields=FIELDS, at=now, **SCOPE)
        before = register.active(conn, fields=FIELDS, at=now - US, **SCOPE)
    assert decide(refs, statute=None, consents=at_now, at=now, **SCOPE).allowed_count == 0
    decision = decide(refs, statute=None, consents=before, at=now - US, **SCOPE)
    assert decision.consent_ids is not None and decision.consent_ids.to_pylist() == [cid]


def test_pause_window_is_answered_at_any_past_instant(engine: sa.Engine, keystore: KeyStore) -> None:
    ledger = Ledger.from_keystore(keystore)
    register = ConsentRegister(keystore.audit_key(), ledger=ledger)
    t1, t2 = T0 + timedelta(days=10), T0 + timedelta(days=20)
    with engine.begin() as conn:
        cid = register.grant(conn, ALICE, fields=FIELDS, valid_from=T0, **SCOPE)
        assert register.pause(conn, cid, at=t1) is True
        assert register.pause(conn, cid, at=t1 + US) is False  # paused already: no-op
        assert register.resume(conn, cid, at=t2) is True
        assert register.resume(conn, cid) is False
    with engine.connect() as conn:
        assert _active_ids(register, conn, t1 - US) == {cid}
        assert _active_ids(register, conn, t1) == set()
        assert _active_ids(register, conn, t2 - US) == set()
        assert _active_ids(register, conn, t2) == {cid}
        history = register.history(conn, cid)
        record = register.get(conn, cid)
        kinds = [e.kind for e in ledger.entries(conn)]
    assert [(h.event, h.version) for h in history] == [("given", 1), ("paused", 2), ("resumed", 3)]
    assert [h.at for h in history[1:]] == [t1, t2]
    assert record is not None and (record.status, record.version) == (ACTIVE, 3)
    assert kinds == ["consent.given", "consent.paused", "consent.resumed"]


def test_open_pause_and_status(engine: sa.Engine, keystore: KeyStore) -> None:
    register = ConsentRegister(keystore.audit_key())
    with engine.begin() as conn:
        cid = register.grant(conn, ALICE, fields=FIELDS, valid_from=T0, **SCOPE)
        register.pause(conn, cid, at=T0 + timedelta(days=1))
    with engine.connect() as conn:
        assert _active_ids(register, conn, T0 + timedelta(days=400)) == set()
        record = register.get(conn, cid)
        timeline = register.timeline(conn, fields=FIELDS, **SCOPE)
    assert record is not None and record.status == PAUSED
    assert timeline.states(T0 + timedelta(days=2)).column("state").to_pylist() == [PAUSED]


def test_expiry_marks_active_and_paused_and_blocks_pausing(engine: sa.Engine, keystore: KeyStore) -> None:
    register = ConsentRegister(keystore.audit_key())
    end = T0 + timedelta(days=5)
    with engine.begin() as conn:
        a = register.grant(conn, ALICE, fields=FIELDS, valid_from=T0, valid_until=end, **SCOPE)
        b = register.grant(conn, BOB, fields=FIELDS, valid_from=T0, valid_until=end, **SCOPE)
        register.grant(conn, CAROL, fields=FIELDS, valid_from=T0, **SCOPE)
        register.pause(conn, b, at=T0 + timedelta(days=1))
        assert register.expire_due(conn, at=end - US) == 0
        assert register.expire_due(conn, at=end) == 2
        assert register.expire_due(conn, at=end) == 0  # housekeeping is idempotent
    with engine.begin() as conn:
        assert [register.get(conn, i).status for i in (a, b)] == [EXPIRED, EXPIRED]  # type: ignore[union-attr]
        assert [e for e, _ in register.events(conn, a)] == ["given", "expired"]
        with pytest.raises(BadInput, match="expired consent cannot be paused"):
            register.pause(conn, a)
        with pytest.raises(BadInput, match="cannot be resumed"):
            register.resume(conn, a)


def test_revoked_then_regranted(engine: sa.Engine, keystore: KeyStore) -> None:
    register = ConsentRegister(keystore.audit_key())
    t1, t2 = T0 + timedelta(days=10), T0 + timedelta(days=15)
    with engine.begin() as conn:
        old = register.grant(conn, ALICE, fields=FIELDS, valid_from=T0, **SCOPE)
        register.revoke(conn, old, at=t1)
        new = register.grant(conn, ALICE, fields=FIELDS, valid_from=t2, **SCOPE)
        with pytest.raises(BadInput, match="revoked consent cannot be resumed"):
            register.resume(conn, old)
    with engine.connect() as conn:
        assert _active_ids(register, conn, t1 - US) == {old}
        assert _active_ids(register, conn, t1) == set()
        assert _active_ids(register, conn, t2 - US) == set()
        assert _active_ids(register, conn, t2) == {new}
        timeline = register.timeline(conn, fields=FIELDS, **SCOPE)
        refs = register.subject_refs(pa.array([ALICE]))
    assert dict(
        zip(
            timeline.states(t2).column("consent_id").to_pylist(),
            timeline.states(t2).column("state").to_pylist(),
            strict=True,
        )
    ) == {old: REVOKED, new: ACTIVE}
    # Between the two, the reason shown is the consent closest to allowing: the new one.
    assert timeline.denial_reasons(refs, pa.array([False]), t2 - US) == {"consent not yet valid": 1}
    assert timeline.denial_reasons(refs, pa.array([False]), t1) == {"consent not yet valid": 1}


def test_changes_take_effect_in_order_and_refusals_write_nothing(
    engine: sa.Engine, keystore: KeyStore
) -> None:
    register = ConsentRegister(keystore.audit_key())
    with engine.begin() as conn:
        cid = register.grant(conn, ALICE, fields=FIELDS, valid_from=T0, **SCOPE)
        register.pause(conn, cid, at=T0 + timedelta(days=5))
        with pytest.raises(BadInput, match="before its last change"):
            register.revoke(conn, cid, at=T0 + timedelta(days=4))
        # Refused: the same transaction goes on, with nothing half-written.
        record = register.get(conn, cid)
        assert record is not None and (record.status, record.version) == (PAUSED, 2)
        assert [e for e, _ in register.events(conn, cid)] == ["given", "paused"]
        assert register.revoke(conn, cid, at=T0 + timedelta(days=5)) is True


def test_replay_uses_only_what_was_known_then(engine: sa.Engine, keystore: KeyStore) -> None:
    """A revocation entered late with an earlier effect does not rewrite what was decided."""
    register = ConsentRegister(keystore.audit_key())
    now = datetime.now(UTC)
    with engine.begin() as conn:
        cid = register.grant(conn, ALICE, fields=FIELDS, valid_from=now - timedelta(days=10), **SCOPE)
    with engine.connect() as conn:
        granted_recorded = register.history(conn, cid)[0].recorded_at
    with engine.begin() as conn:
        register.revoke(conn, cid, at=now - timedelta(days=5))
    then = now - timedelta(days=3)
    with engine.connect() as conn:
        assert _active_ids(register, conn, then) == set()  # what we know now
        assert _active_ids(register, conn, then, known_at=granted_recorded) == {cid}
        assert _active_ids(register, conn, then, known_at=granted_recorded - US) == set()


def test_denial_reasons_by_subject(engine: sa.Engine, keystore: KeyStore) -> None:
    register = ConsentRegister(keystore.audit_key())
    at = T0 + timedelta(days=30)
    with engine.begin() as conn:
        register.grant(conn, ALICE, fields=FIELDS, valid_from=T0, **SCOPE)  # allows
        paused = register.grant(conn, BOB, fields=FIELDS, valid_from=T0, **SCOPE)
        register.pause(conn, paused, at=T0 + timedelta(days=1))
        register.grant(
            conn, CAROL, fields=FIELDS, valid_from=T0, valid_until=T0 + timedelta(days=2), **SCOPE
        )  # expired
        register.grant(conn, DAN, fields=["other_field"], valid_from=T0, **SCOPE)
        register.grant(conn, ERIN, fields=FIELDS, valid_from=at + timedelta(days=1), **SCOPE)
        register.revoke(
            conn,
            register.grant(conn, GRACE, fields=FIELDS, valid_from=T0, **SCOPE),
            at=T0 + timedelta(days=3),
        )
        timeline = register.timeline(conn, fields=FIELDS, **SCOPE)
        subjects = pa.array([ALICE, BOB, CAROL, DAN, ERIN, FRANK, None, BOB, GRACE])
        refs = register.subject_refs(subjects)
    decision = decide(refs, statute=None, consents=timeline.active(at), at=at, **SCOPE)
    assert decision.allowed.to_pylist() == [True] + [False] * 8
    assert timeline.denial_reasons(refs, decision.allowed, at) == {
        "consent paused": 2,
        "consent expired": 1,
        "consent does not cover the fields": 1,
        "consent not yet valid": 1,
        "consent revoked": 1,
        NO_CONSENT: 2,
    }
    # The same batch's refs in the raw form (as staged, ADR 0008): the same decision and reasons.
    raw = register.subject_refs(subjects, raw=True)
    by_raw = decide(raw, statute=None, consents=timeline.active_index(at), at=at, **SCOPE)
    assert by_raw.allowed.to_pylist() == decision.allowed.to_pylist()
    assert by_raw.consent_ids is not None and decision.consent_ids is not None
    assert by_raw.consent_ids.to_pylist() == decision.consent_ids.to_pylist()
    assert timeline.denial_reasons(raw, by_raw.allowed, at) == timeline.denial_reasons(
        refs, decision.allowed, at
    )


def test_terms_are_kept_and_checked(engine: sa.Engine, keystore: KeyStore) -> None:
    register = ConsentRegister(keystore.audit_key())
    chosen = "6f1c1d2e-0000-4000-8000-000000000001"
    with engine.begin() as conn:
        cid = register.grant(
            conn,
            ALICE,
            fields=FIELDS,
            valid_from=T0,
            data_life="P1Y",
            frequency="P1D",
            collection_method="paper-form",
            evidence="form 2024/17",
            consent_id=chosen,
            **SCOPE,
        )
        assert cid == chosen
        record = register.get(conn, cid)
        assert record is not None
        assert (record.data_life, record.frequency, record.collection_method) == ("P1Y", "P1D", "paper-form")
        assert record.updated_at == record.created_at
        for bad in (
            {"data_life": "one year"},
            {"frequency": "daily"},
            {"collection_method": "Paper Form"},
            {"evidence": "a\nb"},
            {"consent_id": "not-a-uuid"},
            {"consent_id": chosen},
        ):
            with pytest.raises(BadInput) as caught:
                register.grant(conn, BOB, fields=FIELDS, **SCOPE, **bad)  # type: ignore[arg-type]
            assert BOB not in str(caught.value)
        assert len(register.list_for_subject(conn, BOB)) == 0


def test_empty_scope_has_empty_answers(engine: sa.Engine, keystore: KeyStore) -> None:
    register = ConsentRegister(keystore.audit_key())
    with engine.connect() as conn:
        timeline = register.timeline(conn, fields=FIELDS, **SCOPE)
        assert register.active(conn, fields=FIELDS, at=T0, **SCOPE).num_rows == 0
    assert len(timeline) == 0 and timeline.states(T0).num_rows == 0
    refs = register.subject_refs(pa.array([ALICE]))
    assert timeline.denial_reasons(refs, pa.array([False]), T0) == {NO_CONSENT: 1}
