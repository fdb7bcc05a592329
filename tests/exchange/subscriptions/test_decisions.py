"""Decisions on requests: who may decide, a second approver for special categories, signatures
that openssl verifies, and tampering that `govbus audit verify` catches."""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from exchange import Bus, state
from exchange.cli.main import app
from exchange.subscriptions import decisions, requests
from exchange.subscriptions.decisions import NoApproverRights
from exchange.subscriptions.merge import with_requested
from exchange.subscriptions.requests import RequestSpec
from govbus.errors import BadInput

STATS = RequestSpec(
    agency="statistics",
    dataset="tax.income",
    purpose="OFFICIAL_STATISTICS",
    statute="STAT-7",
    fields=("tax_year", "gross_income"),
    sink={"connector": "parquet", "directory": "${GOVBUS_HOME}/agencies/statistics/inbox/asked"},
    id="statistics.asked",
    requested_by="a.analyst",
)
# Benefits asks for the disability degree (tagged `health`: a special category) on consent.
HEALTH = RequestSpec(
    agency="benefits",
    dataset="health.disability",
    purpose="BENEFIT_ELIGIBILITY",
    fields=("assessment_id", "national_id", "disability_degree", "updated_at"),
    sink={"connector": "parquet", "directory": "${GOVBUS_HOME}/agencies/benefits/inbox/degree"},
    id="benefits.degree",
    requested_by="case.worker",
)


def _decide(bus: Bus, request_id: str, decision: str = "approve", **kw: object) -> requests.Request:
    args = {"role": "owner", "agency": "tax", "by": "head.of.data", "reason": "covered by STAT-7"}
    args.update(kw)
    return decisions.decide(bus, request_id, decision=decision, **args)  # type: ignore[arg-type]


def test_only_the_owner_decides(plain_bus: Bus) -> None:
    requests.submit(plain_bus, STATS)
    with pytest.raises(NoApproverRights, match=r"only the dataset's owner \(tax\)"):
        _decide(plain_bus, "statistics.asked", agency="statistics")  # the requester itself
    with pytest.raises(NoApproverRights, match="needs no data-protection decision"):
        _decide(plain_bus, "statistics.asked", role="data-protection", agency=None)
    assert _decide(plain_bus, "statistics.asked").status == "approved"


def test_special_categories_need_the_data_protection_officer_too(plain_bus: Bus) -> None:
    made = requests.submit(plain_bus, HEALTH)
    assert decisions.required_roles(plain_bus.catalog, made) == ("owner", "data-protection")
    first = _decide(plain_bus, "benefits.degree", agency="health", reason="consent-based, degree only")
    assert first.status == "requested"  # one of two
    with pytest.raises(NoApproverRights, match=r"decided on request benefits\.degree already"):
        _decide(plain_bus, "benefits.degree", agency="health")
    with pytest.raises(NoApproverRights, match="for the bus, not for an agency"):
        _decide(plain_bus, "benefits.degree", role="data-protection", agency="health")
    done = _decide(plain_bus, "benefits.degree", role="data-protection", agency=None, by="dpo")
    assert done.status == "approved"
    assert [d["role"] for d in done.decisions] == ["owner", "data-protection"]


def test_a_rejection_needs_a_reason_and_ends_the_request(plain_bus: Bus) -> None:
    requests.submit(plain_bus, STATS)
    with pytest.raises(BadInput, match="a rejection needs a reason"):
        _decide(plain_bus, "statistics.asked", "reject", reason=" ")
    rejected = _decide(plain_bus, "statistics.asked", "reject", reason="use the published tables")
    assert rejected.status == "rejected"
    with pytest.raises(BadInput, match="is rejected already"):
        _decide(plain_bus, "statistics.asked")
    with plain_bus.engine.connect() as conn:
        with_requested(plain_bus.catalog, conn)
    assert "statistics.asked" not in plain_bus.catalog.subscriptions


def test_an_approved_request_is_a_subscription_when_the_bus_opens(plain_bus: Bus) -> None:
    requests.submit(plain_bus, STATS)
    approval = _decide(plain_bus, "statistics.asked").decisions[-1]
    reopened = Bus.open()
    try:
        sub = reopened.catalog.subscriptions["statistics.asked"]
    finally:
        reopened.close()
    assert sub.origin == "request" and sub.approval_seq == approval["ledger_seq"]
    assert sub.fields == STATS.fields and sub.basis == "statute:STAT-7"


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed")
def test_a_decision_verifies_with_openssl(plain_bus: Bus, tmp_path: Path) -> None:
    requests.submit(plain_bus, STATS)
    _decide(plain_bus, "statistics.asked")
    out = tmp_path / "decisions"
    result = CliRunner().invoke(app, ["subscription", "decisions", "statistics.asked", "--export", str(out)])
    assert result.exit_code == 0, result.output
    (pem,) = out.glob("bus-*.pub.pem")
    check = [
        "openssl", "pkeyutl", "-verify", "-pubin", "-inkey", str(pem), "-rawin",
        "-in", str(out / "decision-1.json"), "-sigfile", str(out / "decision-1.sig"),
    ]  # fmt: skip
    verified = subprocess.run(check, capture_output=True, text=True)
    assert verified.returncode == 0 and "Signature Verified Successfully" in verified.stdout
    # The signed bytes are the canonical JSON of the document: sorted keys, no spaces.
    document = json.loads((out / "decision-1.json").read_bytes())
    assert document["decision"] == "approve" and document["role"] == "owner"
    assert (out / "decision-1.json").read_text() == json.dumps(
        document, sort_keys=True, separators=(",", ":")
    )
    # A changed byte no longer verifies.
    tampered = out / "decision-1.json"
    tampered.write_text(tampered.read_text().replace('"approve"', '"reject"'))
    assert subprocess.run(check, capture_output=True).returncode != 0


def _verify_exit(monkeypatch: pytest.MonkeyPatch) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["audit", "verify"])
    return result.exit_code, result.output


@pytest.mark.parametrize(
    "tamper",
    ["decision text", "request fields", "drop decision"],
)
def test_a_tampered_decision_is_caught_by_audit_verify(
    plain_bus: Bus, tamper: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    requests.submit(plain_bus, STATS)
    _decide(plain_bus, "statistics.asked")
    with plain_bus.engine.connect() as conn:
        checkpoint_free = plain_bus.ledger.verify(conn)
    assert checkpoint_free.ok
    assert _verify_exit(monkeypatch)[0] == 0
    rq = state.subscription_requests
    with plain_bus.engine.begin() as conn:
        row = conn.execute(sa.select(rq).where(rq.c.id == "statistics.asked")).one()
        if tamper == "decision text":
            changed = [dict(d, reason="approved without conditions") for d in row.decisions]
            conn.execute(sa.update(rq).values(decisions=changed))
        elif tamper == "request fields":
            conn.execute(sa.update(rq).values(fields=[*row.fields, "tax_due"]))
        else:
            conn.execute(sa.update(rq).values(decisions=[]))
    code, output = _verify_exit(monkeypatch)
    assert code == 1
    expected = {
        "decision text": "signature does not verify",
        "request fields": "the stored request differs from the one decided on",
        "drop decision": "approved without an approving decision",
    }[tamper]
    assert expected in output


def test_the_request_and_decision_entries_hold_no_sink_settings(plain_bus: Bus) -> None:
    requests.submit(plain_bus, replace(STATS, note="for the regional income tables"))
    _decide(plain_bus, "statistics.asked")
    with plain_bus.engine.connect() as conn:
        payloads = [e.payload for e in plain_bus.ledger.entries(conn)]
    text = json.dumps(payloads)
    assert "inbox" not in text and "GOVBUS_HOME" not in text
