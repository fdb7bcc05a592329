"""Access requests: checked at once by the catalog's rules, refused with every reason, else stored."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

import audit
from exchange import Bus
from exchange.subscriptions import requests
from exchange.subscriptions.requests import RequestRefused, RequestSpec

SINK = {"connector": "parquet", "directory": "${GOVBUS_HOME}/agencies/statistics/inbox/asked"}
GOOD = RequestSpec(
    agency="statistics",
    dataset="tax.income",
    purpose="OFFICIAL_STATISTICS",
    statute="STAT-7",
    fields=("tax_year", "municipality_code", "gross_income"),
    sink=SINK,
    id="statistics.asked",
    pseudonymize_subject=True,
    requested_by="a.analyst",
)


def _refusal(bus: Bus, spec: RequestSpec) -> str:
    with pytest.raises(RequestRefused) as caught:
        requests.submit(bus, spec)
    return str(caught.value)


def test_a_field_the_statute_does_not_allow_is_refused_by_name(plain_bus: Bus) -> None:
    message = _refusal(plain_bus, replace(GOOD, fields=(*GOOD.fields, "postal_code")))
    assert "'postal_code' is not among the fields statute STAT-7 allows" in message


def test_a_purpose_the_statute_does_not_name_is_refused_saying_so(plain_bus: Bus) -> None:
    message = _refusal(plain_bus, replace(GOOD, purpose="BENEFIT_ELIGIBILITY"))
    assert "purpose (it names 'OFFICIAL_STATISTICS', not 'BENEFIT_ELIGIBILITY')" in message


def test_a_recipient_the_statute_does_not_name_is_refused_saying_so(plain_bus: Bus) -> None:
    message = _refusal(plain_bus, replace(GOOD, agency="housing"))
    assert "recipient (it names 'statistics', not 'housing')" in message


def test_an_unknown_recipient_is_refused(plain_bus: Bus) -> None:
    message = _refusal(plain_bus, replace(GOOD, agency="ministry-of-magic"))
    assert "unknown recipient 'ministry-of-magic'" in message


def test_unknown_dataset_and_purpose_are_refused_with_what_exists(plain_bus: Bus) -> None:
    message = _refusal(plain_bus, replace(GOOD, dataset="tax.incomes", purpose="FUN", statute=None))
    assert (
        "unknown dataset 'tax.incomes'; known: health.disability, registry.residents, tax.income" in message
    )
    assert "unknown purpose 'FUN'" in message


def test_a_sensitive_field_on_consent_is_refused(plain_bus: Bus) -> None:
    spec = replace(
        GOOD,
        agency="benefits",
        dataset="health.disability",
        purpose="BENEFIT_ELIGIBILITY",
        statute=None,
        fields=("assessment_id", "diagnosis_group"),
        sink={"connector": "parquet", "directory": "${GOVBUS_HOME}/agencies/benefits/inbox/x"},
    )
    assert "'diagnosis_group' is sensitive: only a statute naming it may release it" in _refusal(
        plain_bus, spec
    )


def test_every_reason_is_given_at_once(plain_bus: Bus) -> None:
    spec = replace(
        GOOD, fields=("postal_code", "no_such"), ends_on=date.today() - timedelta(days=1), requested_by=""
    )
    with pytest.raises(RequestRefused) as caught:
        requests.submit(plain_bus, spec)
    problems = caught.value.problems
    assert {p.field for p in problems} == {"ends_on", "fields", "requested_by"}
    messages = " | ".join(p.message for p in problems)
    assert "unknown field 'no_such'" in messages and "'postal_code' is not among" in messages


def test_an_id_in_use_is_refused(plain_bus: Bus) -> None:
    assert "is taken" in _refusal(plain_bus, replace(GOOD, id="statistics.tax-income"))
    requests.submit(plain_bus, GOOD)
    assert "is taken" in _refusal(plain_bus, GOOD)


def test_a_refused_request_is_not_stored_and_leaves_no_ledger_entry(plain_bus: Bus) -> None:
    _refusal(plain_bus, replace(GOOD, agency="housing"))
    with plain_bus.engine.connect() as conn:
        assert requests.list_requests(conn) == []
        assert plain_bus.ledger.head(conn) is None


def test_an_accepted_request_is_stored_with_its_fingerprint_in_the_ledger(plain_bus: Bus) -> None:
    made = requests.submit(plain_bus, GOOD)
    assert made.status == "requested"
    with plain_bus.engine.connect() as conn:
        stored = requests.read_request(conn, "statistics.asked")
        (entry,) = [e for e in plain_bus.ledger.entries(conn) if e.kind == "subscription.request"]
    assert stored == made
    payload = json.loads(entry.payload) if isinstance(entry.payload, str) else entry.payload
    record = audit.SubscriptionRequestEntry.from_payload(payload)
    assert record.request_sha256 == made.request_sha256
    assert record.basis == "statute:STAT-7" and record.sink == "parquet"
    # The fingerprint is the SHA-256 of the canonical request document, recomputable.
    document = requests.request_document(made.spec, made.requested_at)
    assert requests.document_sha256(document) == made.request_sha256
    # No sink settings in the ledger: only the connector's kind.
    assert "inbox" not in json.dumps(payload)


def test_the_cli_refuses_with_exit_65_and_names_the_rule(plain_bus: Bus) -> None:
    from typer.testing import CliRunner

    from exchange.cli.main import app

    result = CliRunner().invoke(
        app,
        [
            "subscription",
            "request",
            "tax.income",
            "--agency",
            "statistics",
            "--purpose",
            "OFFICIAL_STATISTICS",
            "--statute",
            "STAT-7",
            "--fields",
            "tax_year,national_id",
            "--sink",
            "connector=parquet",
            "--sink",
            "directory=${GOVBUS_HOME}/agencies/statistics/x",
        ],
    )
    assert isinstance(result.exception, RequestRefused)
    assert result.exception.exit_code == 65
    assert "'national_id' is not among the fields statute STAT-7 allows" in str(result.exception)
    with plain_bus.engine.connect() as conn:
        assert (
            conn.execute(sa.select(sa.func.count()).select_from(sa.table("subscription_requests"))).scalar()
            == 0
        )


@pytest.mark.parametrize(
    ("sink", "refusal"),
    [
        (
            {"connector": "parquet", "directory": "${GOVBUS_HOME}/agencies/tax/inbox"},
            "outside statistics's delivery targets",
        ),
        ({"connector": "parquet", "directory": "/etc/govbus"}, "outside statistics's delivery targets"),
        (
            {"connector": "parquet", "directory": "${GOVBUS_HOME}/agencies/statistics/../tax"},
            "may not climb out",
        ),
        ({"connector": "parquet", "directory": "${TAX_DB_DIR}/x"}, "may name no variable but ${GOVBUS_HOME}"),
        ({"connector": "sql", "url_env": "TAX_DB_URL", "table": "t"}, "names a secret (env:TAX_DB_URL)"),
        (
            {"connector": "sql", "url": "postgresql://tax-db/tax", "table": "t"},
            "outside statistics's delivery targets",
        ),
    ],
)
def test_a_request_delivers_only_to_its_agencys_own_places(plain_bus: Bus, sink: dict, refusal: str) -> None:
    message = _refusal(plain_bus, replace(GOOD, sink=sink))
    assert refusal in message


def test_declared_delivery_targets_widen_the_places(plain_bus: Bus) -> None:
    from dataclasses import replace as change

    agency = plain_bus.catalog.agencies["statistics"]
    plain_bus.catalog.agencies["statistics"] = change(
        agency, delivery_targets=("postgresql://stats-db.example/", "env:STATS_DB_URL")
    )
    spec = replace(
        GOOD, sink={"connector": "sql", "url_env": "STATS_DB_URL", "table": "t"}, fields=GOOD.fields
    )
    problems = requests.check(plain_bus.catalog, spec)
    assert not [p for p in problems if p.field.startswith("sink")], problems
    url = replace(GOOD, sink={"connector": "sql", "url": "postgresql://stats-db.example/stats", "table": "t"})
    assert not [p for p in requests.check(plain_bus.catalog, url) if p.field.startswith("sink")]
