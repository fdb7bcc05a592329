"""A consent's `data_life` reaches the recipient: once it has elapsed for a delivery, the
recipient gets a purge for that subject (Housing's SQL database: the bus deletes the rows).

The sample runs once; three of Housing's consents state `data_life: P30D` (set on the
register's rows before the run, as if granted so). Thirty days less a minute later
nothing is due; thirty days and a minute later exactly those three subjects' rows go from
Housing and nowhere else, each purge is a `purge.issued` ledger entry with reason
`data-life-ended`, the consent id and no raw id, the consents stay as they were, and a
second run issues nothing.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

import consent
from consent.register.tables import consents
from exchange import Bus
from exchange.cli.main import app
from exchange.demo import deployment as demo
from exchange.erasure import purge_lapsed_data_life
from exchange.erasure.consent_retention import data_life_delta
from exchange.erasure.purges import list_purges
from govbus.instants import utc_now
from tests.e2e.helpers import benefits_rows, housing_rows

ROWS = 300
TAX = "tax.income"
LIFE = "P30D"


@pytest.fixture
def ran(govbus_home) -> Bus:
    bus = Bus.open()
    demo.seed(bus, rows=ROWS)
    with bus.engine.begin() as conn:
        chosen = (
            conn.execute(
                sa.select(consents.c.consent_id)
                .where(consents.c.recipient == "housing", consents.c.status == consent.ACTIVE)
                .order_by(consents.c.consent_id)
                .limit(3)
            )
            .scalars()
            .all()
        )
        conn.execute(sa.update(consents).where(consents.c.consent_id.in_(chosen)).values(data_life=LIFE))
    (result,) = bus.run([TAX])
    assert result.ok, result.failures
    bus.lapsing = chosen  # type: ignore[attr-defined]
    yield bus
    bus.close()


def _subjects(bus: Bus, consent_ids: list[str]) -> set[str]:
    """The national ids behind the consents, found among Housing's rows by audit pseudonym."""
    with bus.engine.connect() as conn:
        refs = {bus.register.get(conn, cid).subject_ref for cid in consent_ids}
    return {
        r["national_id"]
        for r in housing_rows(bus.settings.home)
        if bus.register.subject_ref(r["national_id"]) in refs
    }


def _issued_entries(bus: Bus) -> list[dict]:
    with bus.engine.connect() as conn:
        return [dict(e.payload) for e in bus.ledger.entries(conn) if e.kind == "purge.issued"]


def test_data_life_is_parsed_with_calendar_units_and_hours() -> None:
    start = dt.datetime(2024, 1, 31, tzinfo=dt.UTC)
    assert start + data_life_delta("P1M") == dt.datetime(2024, 2, 29, tzinfo=dt.UTC)
    assert start + data_life_delta("P1Y2W") == dt.datetime(2025, 2, 14, tzinfo=dt.UTC)
    assert start + data_life_delta("PT12H") == dt.datetime(2024, 1, 31, 12, tzinfo=dt.UTC)


def test_not_yet_due_leaves_everything(ran: Bus) -> None:
    housing = housing_rows(ran.settings.home)
    run = purge_lapsed_data_life(ran, now=utc_now() + dt.timedelta(days=30) - dt.timedelta(minutes=1))
    assert (run.outcomes, run.unresolved, run.due_deliveries) == ([], [], 0)
    assert housing_rows(ran.settings.home) == housing
    assert list_purges(ran) == []


def test_due_purges_exactly_those_subjects_once(ran: Bus) -> None:
    home = ran.settings.home
    people = _subjects(ran, ran.lapsing)
    assert len(people) == 3
    housing, benefits = housing_rows(home), benefits_rows(home)
    later = utc_now() + dt.timedelta(days=30, minutes=1)

    run = purge_lapsed_data_life(ran, now=later)

    assert run.unresolved == [] and run.failed == []
    assert len(run.issued) == 3 and run.due_deliveries >= 3
    assert {o.purge.consent_id for o in run.issued} == set(ran.lapsing)
    assert {o.purge.status for o in run.issued} == {"confirmed"}  # deleted by the bus in Housing's DB
    assert [r for r in housing_rows(home) if r["national_id"] in people] == []
    assert len(housing_rows(home)) == len([r for r in housing if r["national_id"] not in people])
    assert benefits_rows(home) == benefits  # a consent's data_life binds its recipient only
    entries = _issued_entries(ran)
    assert {e["reason"] for e in entries} == {consent.DATA_LIFE_ENDED}
    assert {e["consent_id"] for e in entries} == set(ran.lapsing)
    ledger_text = json.dumps(entries)
    assert not any(person in ledger_text for person in people)
    with ran.engine.connect() as conn:  # the consent is not revoked: it may allow new deliveries
        assert {ran.register.get(conn, cid).status for cid in ran.lapsing} == {consent.ACTIVE}

    again = purge_lapsed_data_life(ran, now=later + dt.timedelta(days=1))
    assert (again.issued, again.unresolved, again.due_deliveries) == ([], [], 0)
    assert len(list_purges(ran)) == 3
    assert len(_issued_entries(ran)) == 3


def test_the_cli_runs_it_with_the_bus_copies_retention(ran: Bus) -> None:
    result = CliRunner().invoke(app, ["privacy", "retention"])
    assert result.exit_code == 0, result.output
    assert "No delivery is past its consent's data_life without a purge." in result.output
