"""Alerts reach a webhook and a mail server started by the test, from `govbus run` and the rules.

The four alerts of the issue: a failed run (a delivery that raises), an SLA breach (the
Tax Authority's data ten days old), a quarantine rate above the contract's threshold
(the sample's broken returns against rules that tolerate none), a checkpoint not made
in time (judged at a later instant). None carries a data value or the webhook's secret.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from exchange import Bus, ops
from exchange.demo import deployment as demo
from exchange.ops.checks import standing_alerts
from govbus.errors import BadConfiguration
from govbus.instants import utc_now
from tests.e2e.helpers import source_rows
from tests.exchange.ops.receivers import smtp_receiver, webhook_receiver

HOUSING = "housing.tax-income"


def _make_stale(home: Path) -> None:
    tax = sa.create_engine(f"sqlite:///{home / 'agencies' / 'tax' / 'tax.db'}")
    with tax.begin() as conn:
        older = "strftime('%Y-%m-%d %H:%M:%f000', updated_at, '-10 days')"
        conn.execute(sa.text(f"UPDATE income_returns SET updated_at = {older}"))
    tax.dispose()


def _fail_housing(batch_id: str) -> None:
    if batch_id.endswith("-" + HOUSING):
        raise RuntimeError("the housing agency's database went away")


def test_govbus_run_alerts_a_webhook_and_by_email(govbus_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with webhook_receiver() as (url, bodies), smtp_receiver() as (smtp, mails):
        monkeypatch.setenv("GOVBUS_ALERT_WEBHOOK_URL", url)
        monkeypatch.setenv("GOVBUS_ALERT_SMTP_URL", smtp)
        monkeypatch.setenv("GOVBUS_ALERT_EMAIL_TO", "ops@agency.example, oncall@agency.example")
        bus = Bus.open()
        try:
            demo.seed(bus, rows=400)
            _make_stale(govbus_home)
            bus.hooks.after_sink_write = _fail_housing
            results = bus.run(["tax.income"])
        finally:
            bus.close()
    assert results[0].failures.keys() == {HOUSING}
    kinds = {b["kind"]: b for b in bodies}
    assert set(kinds) == {ops.RUN_FAILED, ops.SLA_BREACH, ops.QUARANTINE_RATE}
    failed = kinds[ops.RUN_FAILED]
    assert (failed["dataset"], failed["step"], failed["subscription"]) == ("tax.income", "deliver", HOUSING)
    assert "unexpected RuntimeError" in failed["summary"]  # the class, not the message: it may hold data
    assert "went away" not in failed["summary"]
    assert "allowed P2D" in kinds[ops.SLA_BREACH]["summary"]
    assert "above the contract's 0.0%" in kinds[ops.QUARANTINE_RATE]["summary"]
    assert all(b["text"].startswith("GovBus ") for b in bodies)  # Slack-style hooks show `text`
    # One mail for the run, to both addresses, with every alert and their JSON.
    (mail,) = mails
    assert mail["To"] == "ops@agency.example, oncall@agency.example"
    assert "3 alert(s)" in mail["Subject"]
    body = mail.get_payload()[0].get_payload(decode=True).decode()
    assert "run_failed" in body and "sla_breach" in body and "quarantine_rate" in body
    attached = json.loads(mail.get_payload()[1].get_payload(decode=True))
    assert {a["kind"] for a in attached} == set(kinds)
    # No data value: no national id or return id of the source appears in any alert.
    text = json.dumps(bodies) + body
    values = {str(r["national_id"]) for r in source_rows(govbus_home)} | {
        str(r["return_id"]) for r in source_rows(govbus_home)
    }
    assert [v for v in values if v in text] == []


def test_a_checkpoint_not_made_in_time_and_standing_alerts(govbus_home: Path) -> None:
    bus = Bus.open()
    try:
        demo.seed(bus, rows=200)
        bus.run(["tax.income"])
        settings = ops.AlertSettings(checkpoint_max_age=dt.timedelta(hours=6))
        with bus.engine.connect() as conn:
            assert ops.checkpoint_alert(conn, settings.checkpoint_max_age) is None  # the run just made one
            late = ops.checkpoint_alert(conn, settings.checkpoint_max_age, utc_now() + dt.timedelta(hours=7))
        assert late is not None and late.kind == ops.CHECKPOINT_LATE
        assert "allowed 6h00m" in late.summary
        found = standing_alerts(bus.engine, bus.catalog, settings, utc_now() + dt.timedelta(days=3))
    finally:
        bus.close()
    kinds = [a.kind for a in found]
    assert kinds[0] == ops.CHECKPOINT_LATE
    assert (ops.SLA_BREACH, "tax.income") in {(a.kind, a.dataset) for a in found}


def test_the_contract_threshold_comes_from_mostly(govbus_home: Path) -> None:
    bus = Bus.open()
    try:
        contract = bus.catalog.dataset("tax.income").contract
    finally:
        bus.close()
    assert ops.quarantine_threshold(contract) == 0.0
    lenient = dataclasses.replace(
        contract,
        expectations=tuple(
            dataclasses.replace(e, kwargs={**e.kwargs, "mostly": 0.9}) for e in contract.expectations
        ),
    )
    assert ops.quarantine_threshold(lenient) == pytest.approx(0.1)
    assert ops.quarantine_alert(lenient, 100, 10) is None
    assert ops.quarantine_alert(lenient, 100, 11) is not None
    assert ops.quarantine_alert(contract, 0, 0) is None


def test_a_receiver_that_is_down_is_logged_and_the_secret_path_is_not(
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = ops.AlertSettings(webhook_url="http://127.0.0.1:1/hooks/SECRET-TOKEN-PATH", timeout=2)
    with caplog.at_level(logging.ERROR, logger="govbus.alerts"):
        failures = ops.send_alerts([ops.Alert(ops.RUN_FAILED, "stage of x failed")], settings)
    assert failures == ["webhook http://127.0.0.1:1: ConnectError"]
    assert "SECRET-TOKEN-PATH" not in caplog.text


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("GOVBUS_ALERT_WEBHOOK_URL", "ftp://hooks.example/x"),
        ("GOVBUS_ALERT_SMTP_URL", "mail.example:25"),
        ("GOVBUS_ALERT_CHECKPOINT_MAX_AGE", "soon"),
    ],
)
def test_bad_settings_name_the_variable(name: str, value: str) -> None:
    env = {name: value, "GOVBUS_ALERT_EMAIL_TO": "ops@agency.example"}
    with pytest.raises(BadConfiguration) as error:
        ops.AlertSettings.from_env(env)
    assert name in error.value.where


def test_durations_and_defaults() -> None:
    settings = ops.AlertSettings.from_env({"GOVBUS_ALERT_CHECKPOINT_MAX_AGE": "P1DT2H"})
    assert settings.checkpoint_max_age == dt.timedelta(days=1, hours=2)
    assert not settings.any_receiver
    assert ops.AlertSettings.from_env({}).checkpoint_max_age == dt.timedelta(hours=25)
    with pytest.raises(BadConfiguration, match="names no recipient"):
        ops.AlertSettings.from_env({"GOVBUS_ALERT_SMTP_URL": "smtp://mail.example"})


def test_govbus_alerts_check_and_test_send_to_the_webhook(
    govbus_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from exchange.cli.main import app

    bus = Bus.open()
    try:
        demo.seed(bus, rows=200)
        bus.run(["tax.income"])
    finally:
        bus.close()
    _make_stale(govbus_home)  # the source is stale, but the staged data is what counts: still fresh
    with webhook_receiver() as (url, bodies):
        monkeypatch.setenv("GOVBUS_ALERT_WEBHOOK_URL", url)
        quiet = CliRunner().invoke(app, ["alerts", "check"])
        assert quiet.exit_code == 0, quiet.output
        assert "nothing to alert about" in quiet.output and bodies == []
        monkeypatch.setenv("GOVBUS_ALERT_CHECKPOINT_MAX_AGE", "1")
        time.sleep(1.1)  # the run's checkpoint is now older than one second
        late = CliRunner().invoke(app, ["alerts", "check"])
        assert late.exit_code == 0, late.output
        sent = CliRunner().invoke(app, ["alerts", "test"])
        assert sent.exit_code == 0, sent.output
    assert [b["kind"] for b in bodies] == [ops.CHECKPOINT_LATE, "test"]
