"""Metrics from the state database: the numbers match what the run recorded, labels hold no data.

On both state databases (SQLite, PostgreSQL). Also `/metrics`, `/healthz` and `/readyz` on
the portal and `govbus metrics` on the command line.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from exchange import Bus, ops, state
from exchange.demo import deployment as demo
from exchange.portal import create_app
from govbus.instants import utc_now
from tests.e2e.helpers import source_rows

TOKENS = "admin-token-0123456789=admin"


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def _value(samples: dict, name: str, **labels: str) -> float:
    return samples[(name, tuple(sorted(labels.items())))]


@pytest.fixture
def ran(bus: Bus) -> Bus:
    """The sample after one run of tax.income, on each state database."""
    demo.seed(bus, rows=600)
    bus.run(["tax.income"])
    return bus


@pytest.fixture
def ran_sqlite(govbus_home: Path) -> Iterator[Bus]:
    """The same on SQLite only: for what does not depend on the database (portal, CLI, keys)."""
    bus = Bus.open()
    demo.seed(bus, rows=600)
    bus.run(["tax.income"])
    yield bus
    bus.close()


def test_the_metrics_are_the_recorded_counts(ran: Bus, govbus_home: Path) -> None:
    now = utc_now()
    text = ops.exposition(ran.engine, ran.catalog, now=lambda: now).decode()
    samples = _samples(text)
    with ran.engine.connect() as conn:
        stages = conn.execute(
            sa.select(state.stages.c.dataset, state.stages.c.rows_read, state.stages.c.rows_quarantined)
        ).all()
        delivered = conn.execute(
            sa.select(
                state.deliveries.c.subscription_id, sa.func.sum(state.deliveries.c.rows_delivered)
            ).group_by(state.deliveries.c.subscription_id)
        ).all()
        runs = conn.execute(sa.select(sa.func.count()).select_from(state.runs)).scalar_one()
    read = {d: r for d, r, _ in stages}
    assert _value(samples, "govbus_rows_read_total", dataset="tax.income") == read["tax.income"] == 600
    quarantined = {d: q for d, _, q in stages}
    assert (
        _value(samples, "govbus_rows_quarantined_total", dataset="tax.income")
        == quarantined["tax.income"]
        > 0
    )
    for sub_id, rows in delivered:
        dataset = ran.catalog.subscriptions[sub_id].dataset
        assert _value(samples, "govbus_rows_delivered_total", dataset=dataset, subscription=sub_id) == rows
        permit = _value(
            samples, "govbus_consent_decisions_total", dataset=dataset, subscription=sub_id, outcome="permit"
        )
        assert permit == rows
    # Denials by reason: the Housing Agency's subscription is by consent, and most subjects gave none.
    denied = {k: v for k, v in samples.items() if k[0] == "govbus_rows_denied_total"}
    assert denied and all(re.fullmatch(r"[a-z][a-z -]*", dict(k[1])["reason"]) for k in denied)
    steps = sum(v for k, v in samples.items() if k[0] == "govbus_step_runs_total")
    assert steps == runs
    assert (
        _value(samples, "govbus_step_last_failed", dataset="tax.income", step="stage", subscription="") == 0
    )
    assert (
        _value(
            samples, "govbus_step_last_duration_seconds", dataset="tax.income", step="stage", subscription=""
        )
        > 0
    )
    assert _value(samples, "govbus_run_last_duration_seconds", dataset="tax.income") > 0
    # Freshness: the sample's returns are recent; tax.income allows P2D.
    assert _value(samples, "govbus_freshness_sla_seconds", dataset="tax.income") == 2 * 86400
    assert _value(samples, "govbus_freshness_ok", dataset="tax.income") == 1
    assert 0 <= _value(samples, "govbus_freshness_lag_seconds", dataset="tax.income") < 2 * 86400
    # The ledger: its size, and a checkpoint made by the run's end.
    size = _value(samples, "govbus_ledger_size_entries")
    assert size == sum(v for k, v in samples.items() if k[0] == "govbus_ledger_entries_total") > 0
    assert _value(samples, "govbus_ledger_checkpoint_tree_size") == size
    assert _value(samples, "govbus_ledger_unchecked_entries") == 0
    assert 0 <= _value(samples, "govbus_ledger_checkpoint_age_seconds") < 600
    later = ops.exposition(ran.engine, ran.catalog, now=lambda: now + dt.timedelta(days=3)).decode()
    assert _value(_samples(later), "govbus_freshness_ok", dataset="tax.income") == 0
    # No personal value anywhere: no national id or return id of the source.
    values = {str(r["national_id"]) for r in source_rows(govbus_home)} | {
        str(r["return_id"]) for r in source_rows(govbus_home)
    }
    assert [v for v in values if f'"{v}"' in text] == []


def test_portal_serves_metrics_health_and_readiness(ran_sqlite: Bus, monkeypatch: pytest.MonkeyPatch) -> None:
    with TestClient(create_app(tokens=TOKENS)) as client:
        assert client.get("/healthz").json() == {"status": "ok"}
        ready = client.get("/readyz")
        assert ready.status_code == 200, ready.text
        assert set(ready.json()["checks"]) == {"state_database", "migrations", "keys"}
        metrics = client.get("/metrics")
        assert metrics.status_code == 200
        assert metrics.headers["content-type"].startswith("text/plain; version=0.0.4")
        assert 'govbus_rows_read_total{dataset="tax.income"} 600.0' in metrics.text
        monkeypatch.setenv("GOVBUS_METRICS_TOKEN", "scrape-token-0123456789")
        assert client.get("/metrics").status_code == 401
        authorized = {"Authorization": "Bearer scrape-token-0123456789"}
        assert client.get("/metrics", headers=authorized).status_code == 200


def test_readiness_names_what_is_missing_and_creates_nothing(ran_sqlite: Bus) -> None:
    assert ops.readiness().ok
    keys = ran_sqlite.settings.keys_dir
    (keys / "signing.current").rename(keys / "signing.current.away")
    found = ops.readiness()
    assert not found.ok and {c.name for c in found.checks if not c.ok} == {"keys"}
    assert not (keys / "signing.current").exists()  # not created by looking


def test_readiness_of_an_unmigrated_or_absent_database(tmp_path: Path, govbus_home: Path) -> None:
    found = ops.readiness()  # the home was never opened: no state database file at all
    assert [c.ok for c in found.checks] == [False, False, False]
    assert not (govbus_home / "state.db").exists()
    govbus_home.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(f"sqlite:///{govbus_home / 'state.db'}")
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE unrelated (x INTEGER)"))
    engine.dispose()
    found = ops.readiness()
    checks = {c.name: c for c in found.checks}
    assert checks["state_database"].ok and not checks["migrations"].ok
    assert "govbus db upgrade" in checks["migrations"].detail
    assert str(govbus_home) not in str(found.to_json())  # no path for an unauthenticated caller


def test_govbus_metrics_prints_the_exposition(ran_sqlite: Bus, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from exchange.cli.main import app

    done = CliRunner().invoke(app, ["metrics"])
    assert done.exit_code == 0, done.output
    assert "# TYPE govbus_rows_delivered_total counter" in done.output
    target = tmp_path / "textfile" / "govbus.prom"
    done = CliRunner().invoke(app, ["metrics", "-o", str(target)])
    assert done.exit_code == 0, done.output
    assert "govbus_ledger_size_entries" in target.read_text()


def test_a_reason_that_is_not_the_codes_words_becomes_other(bus: Bus) -> None:
    with bus.engine.begin() as conn:
        conn.execute(
            sa.insert(state.runs).values(
                dataset="tax.income",
                step="deliver",
                subscription_id="housing.tax-income",
                status="ok",
                started_at=utc_now(),
                finished_at=utc_now(),
                counts={"denials": {"no consent": 2, "Anna Virtanen 010190-123A": 1}},
            )
        )
    text = ops.exposition(bus.engine, bus.catalog).decode()
    assert 'reason="no consent"' in text and 'reason="other"' in text
    assert "Virtanen" not in text and "010190" not in text


def _deliver_run(conn: sa.Connection, status: str, denied: int) -> int:
    return conn.execute(
        sa.insert(state.runs).values(
            dataset="tax.income",
            step="deliver",
            subscription_id="housing.tax-income",
            status=status,
            started_at=utc_now(),
            finished_at=None if status == "running" else utc_now(),
            counts=None if status == "running" else {"denials": {"no consent": denied}},
        )
    ).inserted_primary_key[0]


def test_a_kept_collector_counts_each_run_once_and_reads_only_new_runs(bus: Bus) -> None:
    """A metrics server keeps its collector: scrapes must give what a fresh collector gives,
    count a run that was running once it ends, and not re-read the runs already summed."""
    collector = ops.StateCollector(bus.engine, bus.catalog)
    statements: list[list[int]] = []

    def denied() -> float:
        family = next(f for f in collector.collect() if f.name == "govbus_rows_denied")
        fresh = ops.StateCollector(bus.engine, bus.catalog)
        again = next(f for f in fresh.collect() if f.name == "govbus_rows_denied")
        assert [s.value for s in family.samples] == [s.value for s in again.samples]
        return sum(s.value for s in family.samples)

    with bus.engine.begin() as conn:
        _deliver_run(conn, "ok", 2)
        running = _deliver_run(conn, "running", 0)
        _deliver_run(conn, "ok", 3)
        _deliver_run(conn, "failed", 7)
    assert denied() == 5
    assert denied() == 5  # scraped again: nothing counted twice
    with bus.engine.begin() as conn:
        conn.execute(
            sa.update(state.runs)
            .where(state.runs.c.run_id == running)
            .values(status="ok", finished_at=utc_now(), counts={"denials": {"no consent": 11}})
        )
        newest = _deliver_run(conn, "ok", 1)
    assert denied() == 17

    @sa.event.listens_for(bus.engine, "before_cursor_execute")
    def _seen(conn, cursor, statement, parameters, context, executemany):
        if "runs.run_id >" in statement:
            values = parameters.values() if isinstance(parameters, dict) else parameters
            statements.append([v for v in values if isinstance(v, int)])

    try:
        denied()
    finally:
        sa.event.remove(bus.engine, "before_cursor_execute", _seen)
    # The kept collector asked only for runs after the newest one it had summed.
    assert statements[0] == [newest]
