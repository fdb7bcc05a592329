"""The alert memory: a condition is sent once, again after the repeat interval, once when it
resolves, and only the conditions a caller judged can resolve (on each state database)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from exchange import Bus, ops, state
from exchange.ops.alert_memory import settle
from tests.exchange.ops.receivers import webhook_receiver

T0 = dt.datetime(2026, 12, 7, 8, 0, tzinfo=dt.UTC)
HOUR = dt.timedelta(hours=1)
ALL = ops.judged_kinds((ops.SLA_BREACH, ops.RUN_FAILED, ops.CHECKPOINT_LATE))


def stale(dataset: str = "tax.income") -> ops.Alert:
    return ops.sla_alert(dataset, "newest data 3 days old, allowed 1 day")


def test_a_condition_is_sent_once_then_on_the_repeat_interval_then_resolved(bus: Bus) -> None:
    def at(hours: float, *alerts: ops.Alert) -> list[ops.Alert]:
        return settle(bus.engine, alerts, judged=ALL, repeat=4 * HOUR, now=T0 + hours * HOUR)

    [first] = at(0, stale())
    assert first.kind == ops.SLA_BREACH and "still firing" not in first.summary
    assert at(1, stale()) == [] and at(2, stale()) == []  # held back, counted
    [again] = at(4, stale())
    assert "still firing since 2026-12-07 08:00 UTC; 2 repeat(s) held back" in again.summary
    assert at(5, stale()) == []
    [resolved] = at(6)  # judged, not firing
    assert resolved.kind == "sla_breach_resolved" and resolved.dataset == "tax.income"
    assert "fired since 2026-12-07 08:00 UTC, 6.0 h" in resolved.summary
    assert at(7) == []  # resolved once
    [back] = at(7.5, stale())  # firing again after it resolved: a new notice at once
    assert back.kind == ops.SLA_BREACH and "still firing" not in back.summary
    with bus.engine.connect() as conn:
        rows = conn.execute(sa.select(state.alert_notices)).all()
    assert len(rows) == 1 and rows[0].held == 0 and rows[0].resolved_at is None
    assert "3 days" not in str(tuple(rows[0]))  # the memory holds what, never the message


def test_only_judged_conditions_resolve(bus: Bus) -> None:
    settle(bus.engine, [stale("tax.income"), stale("health.disability")], judged=ALL, now=T0)
    only_tax = ops.judged_kinds((ops.SLA_BREACH,), "tax.income")
    [resolved] = settle(bus.engine, [], judged=only_tax, now=T0 + HOUR)
    assert resolved.dataset == "tax.income"
    quarantine_only = ops.judged_kinds((ops.QUARANTINE_RATE,))
    assert settle(bus.engine, [], judged=quarantine_only, now=T0 + 2 * HOUR) == []


def test_without_a_receiver_nothing_is_recorded(bus: Bus) -> None:
    sent, failures = ops.notify(bus.engine, [stale()], ops.AlertSettings(), judged=ALL)
    assert (sent, failures) == ([], [])
    with bus.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(state.alert_notices)).scalar_one() == 0


def test_govbus_alerts_check_sends_a_standing_condition_once(
    govbus_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Cron runs `alerts check` every few minutes: a late checkpoint reaches the receiver once
    per repeat interval, and a resolution once the ledger has a fresh checkpoint."""
    from exchange.cli.main import app
    from exchange.demo import deployment as demo

    bus = Bus.open()
    try:
        demo.seed(bus, rows=100)
        bus.run(["tax.income"])
    finally:
        bus.close()
    with webhook_receiver() as (url, bodies):
        monkeypatch.setenv("GOVBUS_ALERT_WEBHOOK_URL", url)
        monkeypatch.setenv("GOVBUS_ALERT_CHECKPOINT_MAX_AGE", "1")
        import time

        time.sleep(1.1)
        for _ in range(3):
            result = CliRunner().invoke(app, ["alerts", "check"])
            assert result.exit_code == 0, result.output
        assert [b["kind"] for b in bodies] == [ops.CHECKPOINT_LATE]
        assert "held back" in result.output
        monkeypatch.setenv("GOVBUS_ALERT_CHECKPOINT_MAX_AGE", "PT1H")
        result = CliRunner().invoke(app, ["alerts", "check"])
        assert result.exit_code == 0, result.output
    assert [b["kind"] for b in bodies] == [ops.CHECKPOINT_LATE, "checkpoint_late_resolved"]


def test_runs_send_a_failing_delivery_once_and_its_recovery(
    govbus_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from exchange.demo import deployment as demo

    housing = "housing.tax-income"

    def fail_housing(batch_id: str) -> None:
        if batch_id.endswith("-" + housing):
            raise RuntimeError("the housing agency's database went away")

    with webhook_receiver() as (url, bodies):
        monkeypatch.setenv("GOVBUS_ALERT_WEBHOOK_URL", url)
        bus = Bus.open()
        try:
            demo.seed(bus, rows=120)
            bus.hooks.after_sink_write = fail_housing
            for _ in range(2):
                assert bus.run(["tax.income"])[0].failures.keys() == {housing}
            bus.hooks.after_sink_write = None
            assert bus.run(["tax.income"])[0].failures == {}
        finally:
            bus.close()
    kinds = [(b["kind"], b["subscription"]) for b in bodies if b["kind"].startswith("run_failed")]
    assert kinds == [("run_failed", housing), ("run_failed_resolved", housing)]


def test_a_run_that_raises_still_signs_its_checkpoint(govbus_home: Path) -> None:
    from exchange.demo import deployment as demo

    bus = Bus.open()
    try:
        demo.seed(bus, rows=60)

        def broken_commit(dataset_id: str) -> None:
            raise KeyError("an unexpected error in commit")

        with bus.engine.connect() as conn:
            before = conn.execute(sa.select(sa.func.count()).select_from(state_checkpoints())).scalar_one()
        bus.commit = broken_commit  # type: ignore[method-assign]
        with pytest.raises(KeyError):
            bus.run(["tax.income"])
        with bus.engine.connect() as conn:
            after = conn.execute(sa.select(sa.func.count()).select_from(state_checkpoints())).scalar_one()
    finally:
        bus.close()
    assert after == before + 1, "the deliveries made before the error are covered by a checkpoint"


def state_checkpoints() -> sa.Table:
    import audit

    return audit.AUDIT_METADATA.tables["ledger_checkpoints"]
