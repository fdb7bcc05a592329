"""DAG runs and what changes at run time: requested subscriptions, backfills and cursor resets by params.

Each test runs the dataset's DAG with `airflow dags test` against a GovBus home seeded
with the demo, as an operator would (`--conf` is what `airflow dags trigger --conf` and
the UI's trigger form pass).
"""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from exchange import Bus, state
from exchange.demo import deployment as demo
from exchange.subscriptions import decisions, requests
from exchange.subscriptions.requests import RequestSpec
from tests.dags.conftest import AIRFLOW, run
from tests.dags.test_dags_run import _airflow_rows, _task_states
from tests.e2e.catalog_variants import use_pre_disclosure_catalog

# These tests are about DAG run params (requests, backfills, cursor resets) on the sample as it
# was before disclosure control: 400 returns in small segments are mostly suppressed under the
# purpose's k = 5 now (tests/e2e/test_privacy_controls.py tests that).
_before_disclosure = pytest.fixture(autouse=True, name="_before_disclosure")(use_pre_disclosure_catalog)

ROWS = 400

# Statistics asks, at run time, for two fields of tax.income under its statute.
ASKED = RequestSpec(
    agency="statistics",
    dataset="tax.income",
    purpose="OFFICIAL_STATISTICS",
    statute="STAT-7",
    fields=("tax_year", "gross_income"),
    sink={"connector": "parquet", "directory": "${GOVBUS_HOME}/agencies/statistics/inbox/asked"},
    id="statistics.asked",
    requested_by="a.analyst",
)


def _seed() -> None:
    bus = Bus.open()
    try:
        demo.seed(bus, rows=ROWS)
    finally:
        bus.close()


def _approve(spec: RequestSpec) -> None:
    bus = Bus.open()
    try:
        requests.submit(bus, spec)
        decisions.decide(
            bus,
            spec.subscription_id,
            decision="approve",
            role="owner",
            agency="tax",
            by="head.of.data",
            reason="STAT-7",
        )
    finally:
        bus.close()


def _dags_test(env: dict[str, str], conf: dict | None = None, *, check: bool = True) -> str:
    args = [AIRFLOW, "dags", "test", "tax.income"]
    if conf is not None:
        args += ["--conf", json.dumps(conf)]
    done = run(args, env, check=check)
    return done.stdout + done.stderr


def _loaded(subscription: str) -> tuple[int, int]:
    """(checkpoint rows, rows delivered) of the subscription's initial loads and backfills."""
    bus = Bus.open()
    try:
        dv = state.deliveries
        with bus.engine.connect() as conn:
            found = conn.execute(
                sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(dv.c.rows_delivered), 0)).where(
                    dv.c.subscription_id == subscription, dv.c.stage_id.contains(".load.")
                )
            ).one()
    finally:
        bus.close()
    return int(found[0]), int(found[1])


def _delivered(subscription: str) -> int:
    """Rows delivered to the subscription, everything counted."""
    bus = Bus.open()
    try:
        dv = state.deliveries
        with bus.engine.connect() as conn:
            query = sa.select(sa.func.coalesce(sa.func.sum(dv.c.rows_delivered), 0))
            return int(conn.execute(query.where(dv.c.subscription_id == subscription)).scalar_one())
    finally:
        bus.close()


def _ledger(kind: str) -> list[dict]:
    bus = Bus.open()
    try:
        with bus.engine.connect() as conn:
            payloads = conn.execute(
                sa.text("SELECT payload FROM ledger WHERE kind = :k ORDER BY seq"), {"k": kind}
            )
            return [json.loads(p) for (p,) in payloads]
    finally:
        bus.close()


def _dag_runs(env: dict[str, str]) -> list[tuple]:
    return _airflow_rows(env, "SELECT run_id, state FROM dag_run WHERE dag_id = 'tax.income' ORDER BY id")


@pytest.mark.slow
def test_a_requested_subscription_gets_its_initial_load_from_a_dag_run(airflow_db, govbus_home):
    _seed()
    # No request yet: the requested deliveries map to nothing, which is no failure.
    _dags_test(airflow_db)
    states = _task_states(airflow_db)
    assert states["requested"] == "success"
    assert states["deliver_requested"] == "skipped"
    assert states["commit"] == "success"
    assert [s for _, s in _dag_runs(airflow_db)] == ["success"]

    # What the bus holds now (the newest version of each key, quarantined rows left out),
    # as the catalog subscription under the same statute received it.
    current = _delivered("statistics.tax-income")
    assert current > ROWS * 0.9

    # Approved at run time: the DAG file is the same, the next run delivers it.
    _approve(ASKED)
    _dags_test(airflow_db)

    states = _task_states(airflow_db)
    assert states["deliver_requested[statistics.asked]"] == "success"
    assert states["commit"] == "success"
    assert [s for _, s in _dag_runs(airflow_db)] == ["success", "success"]
    # Its first delivery was the dataset's current state: every row the bus had committed.
    batches, rows = _loaded("statistics.asked")
    assert batches >= 1 and rows == current
    inbox = govbus_home / "agencies" / "statistics" / "inbox" / "asked"
    assert list(inbox.glob("*.parquet"))
    # ...and the stage of this run is committed: the requested subscription held nothing back.
    bus = Bus.open()
    with bus.engine.connect() as conn:
        statuses = conn.execute(sa.text("SELECT status FROM stages ORDER BY seq")).scalars().all()
    bus.close()
    assert statuses and set(statuses) == {"committed"}
    # Its recipient's Asset event came from the mapped instance, like a catalog subscription's.
    extras = [
        json.loads(extra)
        for uri, extra in _airflow_rows(
            airflow_db,
            "SELECT a.uri, e.extra FROM asset_event e JOIN asset a ON a.id = e.asset_id",
        )
        if uri == "govbus://tax.income/statistics"
    ]
    assert any(e.get("subscription") == "statistics.asked" for e in extras)


@pytest.mark.slow
def test_a_run_with_backfill_params_delivers_the_current_state_again(airflow_db, govbus_home):
    _seed()
    _dags_test(airflow_db)
    assert _loaded("statistics.tax-income") == (0, 0)  # activated before any commit: nothing to load
    current = _delivered("statistics.tax-income")

    _dags_test(airflow_db, {"backfill_subscription": "statistics.tax-income"})

    batches, rows = _loaded("statistics.tax-income")
    assert batches >= 1 and rows == current
    assert _loaded("benefits.tax-income") == (0, 0)  # only the one named
    assert [s for _, s in _dag_runs(airflow_db)] == ["success", "success"]
    # The ledger says who asked: the run (and its triggering user, when Airflow knows one).
    run_id = _dag_runs(airflow_db)[-1][0]
    asked = [e for e in _ledger("subscription.lifecycle") if e.get("reason") == "backfill"]
    assert len(asked) == 1
    assert asked[0]["subscription"] == "statistics.tax-income"
    assert f"airflow:{run_id}" in asked[0]["by"]


@pytest.mark.slow
def test_a_backfill_of_another_datasets_subscription_fails_the_run_naming_the_param(airflow_db, govbus_home):
    _seed()
    output = _dags_test(airflow_db, {"backfill_subscription": "benefits.residents"}, check=False)

    assert [s for _, s in _dag_runs(airflow_db)] == ["failed"]
    states = _task_states(airflow_db)
    assert states["apply_params"] == "failed"
    assert states["stage"] == "upstream_failed"  # nothing was read or delivered
    tries = _airflow_rows(airflow_db, "SELECT try_number FROM task_instance WHERE task_id = 'apply_params'")
    assert tries == [(1,)]  # a wrong param: failed at once, not retried
    assert "DAG param backfill_subscription" in output
    assert "'benefits.residents' is not a subscription to tax.income" in output
    bus = Bus.open()
    with bus.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM stages")).scalar() == 0
    bus.close()
