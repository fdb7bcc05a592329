"""Alerts: a failed run, an SLA breach, a quarantine rate above the contract's threshold, a
ledger checkpoint not made in time — sent to a webhook and/or by email.

Who sends them: `govbus run` at the end of each dataset's exchange, the DAG tasks (a task
that failed for good through its failure callback, `stage` for the quarantine rate,
`freshness` for the SLA) and `govbus alerts check` (cron) for what only shows while
nothing runs: a checkpoint grown old, data gone stale. An operator chooses receivers
with environment variables (`AlertSettings.from_env`); with none set nothing is sent.

An alert says what happened where, with counts and durations: never a data value, a
subject identifier, a connector setting or a receiver's secret. A receiver that cannot
be reached is logged (its scheme and host only) and never fails the run that alerted:
an alert is a side effect, not a step.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import re
import smtplib
import ssl
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any
from urllib.parse import parse_qs, urlsplit

import sqlalchemy as sa
from sqlalchemy.engine import Connection

import audit
import contracts
from govbus.errors import BadConfiguration
from govbus.instants import utc_now

__all__ = [
    "CHECKPOINT_LATE",
    "QUARANTINE_RATE",
    "RUN_FAILED",
    "SLA_BREACH",
    "Alert",
    "AlertSettings",
    "checkpoint_alert",
    "failed_alert",
    "parse_age",
    "quarantine_alert",
    "quarantine_threshold",
    "send_alerts",
    "sla_alert",
]

log = logging.getLogger("govbus.alerts")

RUN_FAILED = "run_failed"
SLA_BREACH = "sla_breach"
QUARANTINE_RATE = "quarantine_rate"
CHECKPOINT_LATE = "checkpoint_late"


@dataclass(frozen=True)
class Alert:
    """One alert: its `kind`, where (dataset, step, subscription) and a one-line summary."""

    kind: str
    summary: str
    dataset: str | None = None
    step: str | None = None
    subscription: str | None = None
    at: dt.datetime = field(default_factory=utc_now)

    def to_json(self) -> dict[str, Any]:
        """The webhook body; `text` makes Slack, Mattermost and Teams-style hooks show it as is."""
        return {
            "source": "govbus",
            "kind": self.kind,
            "dataset": self.dataset,
            "step": self.step,
            "subscription": self.subscription,
            "summary": self.summary,
            "at": self.at.isoformat(),
            "text": f"GovBus {self.kind}: {self.summary}",
        }


@dataclass(frozen=True)
class AlertSettings:
    """Where alerts go and when a checkpoint is late (see `from_env` for the variables)."""

    webhook_url: str = ""
    smtp_url: str = ""
    smtp_user: str = ""
    smtp_password: str = ""
    email_from: str = ""
    email_to: tuple[str, ...] = ()
    checkpoint_max_age: dt.timedelta = dt.timedelta(hours=25)
    timeout: float = 10.0
    repeat_interval: dt.timedelta = dt.timedelta(hours=4)
    """How long a condition that keeps firing stays quiet after it was sent (`alert_memory`)."""

    @property
    def any_receiver(self) -> bool:
        """True when a webhook or an email receiver is configured."""
        return bool(self.webhook_url or (self.smtp_url and self.email_to))

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> AlertSettings:
        """GOVBUS_ALERT_WEBHOOK_URL; GOVBUS_ALERT_SMTP_URL (`smtp://host:25`, `smtps://host:465`,
        `smtp://host:587?starttls=true`) with _SMTP_USER / _SMTP_PASSWORD, GOVBUS_ALERT_EMAIL_FROM
        and _EMAIL_TO (comma-separated); GOVBUS_ALERT_CHECKPOINT_MAX_AGE (seconds or an ISO 8601
        duration such as PT25H, the default); GOVBUS_ALERT_TIMEOUT (seconds, default 10);
        GOVBUS_ALERT_REPEAT (how long a condition that keeps firing stays quiet after it was
        sent: seconds or an ISO 8601 duration, default PT4H)."""
        env = os.environ if env is None else env
        webhook = env.get("GOVBUS_ALERT_WEBHOOK_URL", "").strip()
        if webhook and urlsplit(webhook).scheme not in ("http", "https"):
            raise BadConfiguration(
                "is not an http(s) URL",
                where="environment variable GOVBUS_ALERT_WEBHOOK_URL",
                hint="give the receiver's https:// URL, or unset it",
            )
        smtp = env.get("GOVBUS_ALERT_SMTP_URL", "").strip()
        to = tuple(a.strip() for a in env.get("GOVBUS_ALERT_EMAIL_TO", "").split(",") if a.strip())
        if smtp:
            if urlsplit(smtp).scheme not in ("smtp", "smtps") or not urlsplit(smtp).hostname:
                raise BadConfiguration(
                    "is not an smtp:// or smtps:// URL with a host",
                    where="environment variable GOVBUS_ALERT_SMTP_URL",
                    hint="e.g. smtp://relay.example:587?starttls=true; "
                    "credentials go in GOVBUS_ALERT_SMTP_USER and _PASSWORD",
                )
            if not to:
                raise BadConfiguration(
                    "names no recipient while GOVBUS_ALERT_SMTP_URL is set",
                    where="environment variable GOVBUS_ALERT_EMAIL_TO",
                    hint="list the addresses, separated by commas",
                )
        max_age = parse_age(env.get("GOVBUS_ALERT_CHECKPOINT_MAX_AGE", ""), "GOVBUS_ALERT_CHECKPOINT_MAX_AGE")
        timeout = parse_age(env.get("GOVBUS_ALERT_TIMEOUT", ""), "GOVBUS_ALERT_TIMEOUT")
        repeat = parse_age(env.get("GOVBUS_ALERT_REPEAT", ""), "GOVBUS_ALERT_REPEAT")
        return cls(
            webhook_url=webhook,
            smtp_url=smtp,
            smtp_user=env.get("GOVBUS_ALERT_SMTP_USER", ""),
            smtp_password=env.get("GOVBUS_ALERT_SMTP_PASSWORD", ""),
            email_from=env.get("GOVBUS_ALERT_EMAIL_FROM", "").strip() or "govbus@localhost",
            email_to=to,
            checkpoint_max_age=max_age or cls.checkpoint_max_age,
            timeout=timeout.total_seconds() if timeout else cls.timeout,
            repeat_interval=repeat or cls.repeat_interval,
        )


_ISO = re.compile(r"^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$")


def parse_age(text: str, variable: str) -> dt.timedelta | None:
    """Whole seconds (`90000`) or an ISO 8601 duration of days and time (`P1DT1H`); "" is None."""
    text = text.strip().upper()
    if not text:
        return None
    if text.isdigit() and int(text) > 0:
        return dt.timedelta(seconds=int(text))
    match = _ISO.match(text)
    if match and text not in ("P", "PT") and any(match.groups()):
        days, hours, minutes, seconds = (int(g or 0) for g in match.groups())
        age = dt.timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
        if age > dt.timedelta(0):
            return age
    raise BadConfiguration(
        "is not a positive number of seconds or an ISO 8601 duration",
        where=f"environment variable {variable}",
        hint="e.g. 3600 or PT1H",
    )


# -- the rules ----------------------------------------------------------------------------


def failed_alert(dataset: str, step: str, message: str, subscription: str | None = None) -> Alert:
    """A step failed for good (`message`: a GovBus message, or an exception's class name only)."""
    what = f"{step} of {dataset}" + (f" to {subscription}" if subscription else "")
    return Alert(RUN_FAILED, f"{what} failed: {message}", dataset, step, subscription)


def sla_alert(dataset: str, message: str) -> Alert:
    """The dataset broke its contract's SLA (`message` names the rule, counts and durations)."""
    return Alert(SLA_BREACH, f"dataset {dataset}, SLA: {message}", dataset, "stage")


def quarantine_threshold(contract: contracts.Contract) -> float:
    """The share of a stage's rows the contract lets fail: the most any of its rules allows.

    A contract states its tolerance with Great Expectations' `mostly` on row-level rules
    (`mostly: 0.98`: up to 2 % of rows may break this rule). A rule without `mostly`
    tolerates none, and neither does a contract without row-level rules (its schema is a
    promise too); so the threshold is 1 - the smallest `mostly`, 0 when no rule sets one.
    """
    allowed = [
        round(1.0 - float(e.kwargs.get("mostly", 1.0)), 9)  # 1 - 0.9 is 0.0999...: not stricter than said
        for e in contract.expectations
        if e.type != "expect_table_row_count_to_be_between"
    ]
    return max(allowed, default=0.0)


def quarantine_alert(contract: contracts.Contract, rows_read: int, rows_quarantined: int) -> Alert | None:
    """An alert when a stage quarantined a larger share of its rows than the contract allows."""
    if rows_read <= 0 or rows_quarantined <= 0:
        return None
    rate, threshold = rows_quarantined / rows_read, quarantine_threshold(contract)
    if rate <= threshold:
        return None
    summary = (
        f"dataset {contract.id}: {rows_quarantined} of {rows_read} row(s) quarantined "
        f"({rate:.1%}), above the contract's {threshold:.1%}"
    )
    return Alert(QUARANTINE_RATE, summary, contract.id, "stage")


def checkpoint_alert(conn: Connection, max_age: dt.timedelta, now: dt.datetime | None = None) -> Alert | None:
    """An alert when the ledger has entries and its newest signed checkpoint is older than `max_age`.

    Every run ends with a checkpoint; one missing for longer means runs stopped, or stop
    short of their end, and a truncated ledger would go unnoticed meanwhile.
    """
    ledger, checkpoints = (
        audit.AUDIT_METADATA.tables["ledger"],
        audit.AUDIT_METADATA.tables["ledger_checkpoints"],
    )
    entries = conn.execute(sa.select(sa.func.count()).select_from(ledger)).scalar_one()
    if not entries:
        return None
    newest = conn.execute(sa.select(sa.func.max(checkpoints.c.at))).scalar()
    now = now or utc_now()
    if newest is not None:
        newest = newest if newest.tzinfo else newest.replace(tzinfo=dt.UTC)
        if now - newest <= max_age:
            return None
        summary = f"the newest ledger checkpoint is {_hours(now - newest)} old, allowed {_hours(max_age)}"
    else:
        summary = f"the ledger has {entries} entries and no checkpoint"
    return Alert(CHECKPOINT_LATE, summary)


def _hours(age: dt.timedelta) -> str:
    hours, rest = divmod(max(int(age.total_seconds()), 0), 3600)
    return f"{hours}h{rest // 60:02d}m"


# -- sending ------------------------------------------------------------------------------


def send_alerts(alerts: Iterable[Alert | None], settings: AlertSettings) -> list[str]:
    """Send each alert to every configured receiver; returns what could not be sent.

    Never raises: a receiver that is down is logged and reported back, and the caller
    goes on.
    """
    pending = [a for a in alerts if a is not None]
    failures: list[str] = []
    if not pending or not settings.any_receiver:
        return failures
    for alert in pending:
        log.warning("alert %s: %s", alert.kind, alert.summary)
    if settings.webhook_url:
        failures += _post_webhook(pending, settings)
    if settings.smtp_url and settings.email_to:
        failures += _send_email(pending, settings)
    return failures


def _post_webhook(alerts: list[Alert], settings: AlertSettings) -> list[str]:
    import httpx

    where = _origin(settings.webhook_url)
    failures = []
    for alert in alerts:
        try:
            response = httpx.post(settings.webhook_url, json=alert.to_json(), timeout=settings.timeout)
            response.raise_for_status()
        except httpx.HTTPError as exc:
            failures.append(f"webhook {where}: {type(exc).__name__}")
            log.error(
                "alert %s not delivered to the webhook at %s (%s)", alert.kind, where, type(exc).__name__
            )
    return failures


def _send_email(alerts: list[Alert], settings: AlertSettings) -> list[str]:
    """One message for all alerts of one call: a failing run does not flood the mailbox."""
    parts = urlsplit(settings.smtp_url)
    implicit_tls = parts.scheme == "smtps"
    starttls = parse_qs(parts.query).get("starttls", ["false"])[0].lower() in ("1", "true", "yes")
    port = parts.port or (465 if implicit_tls else 25)
    message = EmailMessage()
    kinds = sorted({a.kind for a in alerts})
    message["Subject"] = f"GovBus: {len(alerts)} alert(s) ({', '.join(kinds)})"
    message["From"] = settings.email_from
    message["To"] = ", ".join(settings.email_to)
    message.set_content("\n".join(f"[{a.at:%Y-%m-%d %H:%M:%S} UTC] {a.kind}: {a.summary}" for a in alerts))
    message.add_attachment(
        json.dumps([a.to_json() for a in alerts], indent=2).encode(),
        maintype="application",
        subtype="json",
        filename="alerts.json",
    )
    host = parts.hostname or ""
    try:
        context = ssl.create_default_context()
        client: smtplib.SMTP
        if implicit_tls:
            client = smtplib.SMTP_SSL(host, port, timeout=settings.timeout, context=context)
        else:
            client = smtplib.SMTP(host, port, timeout=settings.timeout)
        with client:
            if starttls:
                client.starttls(context=context)
            if settings.smtp_user:
                client.login(settings.smtp_user, settings.smtp_password)
            client.send_message(message)
    except (OSError, smtplib.SMTPException) as exc:
        log.error("alerts not delivered by email through %s:%s (%s)", host, port, type(exc).__name__)
        return [f"email {host}:{port}: {type(exc).__name__}"]
    return []


def _origin(url: str) -> str:
    """Scheme, host and port of a URL: a webhook's path or query may hold its secret."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}" + (f":{parts.port}" if parts.port else "")
