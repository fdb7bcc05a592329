"""Prometheus metrics of the bus, read from the state database and the ledger at each scrape.

Nothing is counted in memory: the state database already records every stage, delivery,
run and ledger entry, and every worker (Airflow tasks on any machine, `govbus run`)
writes there. So one reader sees the whole bus, whichever process did the work, and a
restart loses nothing. The portal serves this at `/metrics`; `govbus metrics` prints it
for cron-style scraping (node_exporter's textfile collector, a Pushgateway).

Labels are ids from the catalog (dataset, subscription), step names, statuses, ledger
entry kinds and the code's own denial reasons (lower-case words; anything else is
`other`): never a data value or a subject identifier, and nothing an agency's rows could
add to.
"""

from __future__ import annotations

import datetime as dt
import re
import weakref
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from typing import Any

import sqlalchemy as sa
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy.engine import Connection, Engine

import audit
import consent
from exchange import state
from exchange.catalog import Catalog
from exchange.ops.freshness import judge_freshness
from govbus.instants import utc_now

__all__ = ["CONTENT_TYPE", "DenialTally", "StateCollector", "exposition", "metrics_registry"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_OTHER = "other"
# A denial reason is the code's own words (the consent register's REASONS, the disclosure
# rules'): lower-case words. Anything else becomes `other`, so no value can become a label.
_REASON = re.compile(r"^[a-z][a-z -]{0,79}$")


class StateCollector(Collector):
    """Builds every GovBus metric family from one read of the state database."""

    def __init__(self, engine: Engine, catalog: Catalog, now: Callable[[], dt.datetime] = utc_now) -> None:
        self.engine = engine
        self.catalog = catalog
        self.now = now
        self.denials = DenialTally()

    def collect(self) -> Iterator[Any]:
        """One consistent read per scrape (a single connection)."""
        with self.engine.connect() as conn:
            yield from _stages(conn)
            yield from _deliveries(conn)
            yield from self.denials.collect(conn)
            yield from _runs(conn)
            yield from _freshness(conn, self.catalog, self.now())
            yield from _ledger(conn, self.now())


def metrics_registry(
    engine: Engine, catalog: Catalog, now: Callable[[], dt.datetime] = utc_now
) -> CollectorRegistry:
    """A registry holding only GovBus's metrics (no process or Python metrics of the reader)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StateCollector(engine, catalog, now))
    return registry


# One kept registry per state database, so the incremental parts (DenialTally) serve every
# scrape of a long-lived portal; an engine that goes away takes its registry with it.
_KEPT: weakref.WeakKeyDictionary[Engine, tuple[CollectorRegistry, StateCollector]] = (
    weakref.WeakKeyDictionary()
)


def exposition(engine: Engine, catalog: Catalog, now: Callable[[], dt.datetime] = utc_now) -> bytes:
    """The Prometheus text exposition (format 0.0.4) of the bus's metrics."""
    kept = _KEPT.get(engine)
    if kept is None:
        collector = StateCollector(engine, catalog, now)
        registry = CollectorRegistry(auto_describe=False)
        registry.register(collector)
        kept = _KEPT[engine] = (registry, collector)
    registry, collector = kept
    collector.catalog, collector.now = catalog, now  # the catalog may have been reloaded
    return generate_latest(registry)


def _stages(conn: Connection) -> Iterator[Any]:
    st = state.stages
    rows = conn.execute(
        sa.select(
            st.c.dataset,
            sa.func.sum(st.c.rows_read),
            sa.func.sum(st.c.rows_staged),
            sa.func.sum(st.c.rows_quarantined),
        )
        .where(st.c.status != "staging")
        .group_by(st.c.dataset)
    ).all()
    families = {
        "read": CounterMetricFamily(
            "govbus_rows_read", "Rows read from the dataset's source.", labels=["dataset"]
        ),
        "staged": CounterMetricFamily("govbus_rows_staged", "Rows staged (valid).", labels=["dataset"]),
        "quarantined": CounterMetricFamily(
            "govbus_rows_quarantined", "Rows quarantined at stage time.", labels=["dataset"]
        ),
    }
    for dataset, read, staged, quarantined in rows:
        families["read"].add_metric([dataset], int(read or 0))
        families["staged"].add_metric([dataset], int(staged or 0))
        families["quarantined"].add_metric([dataset], int(quarantined or 0))
    yield from families.values()
    pending = GaugeMetricFamily(
        "govbus_stages_pending",
        "Stages staged but not yet committed (waiting for a delivery).",
        labels=["dataset"],
    )
    for dataset, count in conn.execute(
        sa.select(st.c.dataset, sa.func.count()).where(st.c.status == "staged").group_by(st.c.dataset)
    ):
        pending.add_metric([dataset], int(count))
    yield pending
    q = state.quarantine
    open_rows = GaugeMetricFamily(
        "govbus_quarantine_open_rows", "Quarantined rows not yet replayed or discarded.", labels=["dataset"]
    )
    for dataset, count in conn.execute(
        sa.select(q.c.dataset, sa.func.count()).where(q.c.status == "open").group_by(q.c.dataset)
    ):
        open_rows.add_metric([dataset], int(count))
    yield open_rows


def _deliveries(conn: Connection) -> Iterator[Any]:
    d = state.deliveries
    rows = conn.execute(
        sa.select(
            d.c.dataset,
            d.c.subscription_id,
            sa.func.count(),
            sa.func.sum(d.c.rows_delivered),
            sa.func.sum(d.c.rows_denied),
        ).group_by(d.c.dataset, d.c.subscription_id)
    ).all()
    labels = ["dataset", "subscription"]
    batches = CounterMetricFamily(
        "govbus_batches_delivered", "Batches delivered (checkpoints).", labels=labels
    )
    delivered = CounterMetricFamily(
        "govbus_rows_delivered", "Rows delivered to the subscriber.", labels=labels
    )
    decisions = CounterMetricFamily(
        "govbus_consent_decisions",
        "Per-row policy decisions at delivery: permit (delivered) or deny.",
        labels=[*labels, "outcome"],
    )
    for dataset, sub, count, rows_delivered, rows_denied in rows:
        batches.add_metric([dataset, sub], int(count))
        delivered.add_metric([dataset, sub], int(rows_delivered or 0))
        decisions.add_metric([dataset, sub, "permit"], int(rows_delivered or 0))
        decisions.add_metric([dataset, sub, "deny"], int(rows_denied or 0))
    yield from (batches, delivered, decisions)


class DenialTally:
    """Denied rows by reason, summed from the deliver steps' recorded counts, incrementally.

    A scrape reads only the runs recorded since the last one (a metrics server keeps its
    collector, so the cost of a scrape does not grow with the run history). The watermark
    stops below the oldest deliver run still `running`: its counts are added once it ends
    `ok`. A run counted is never counted again (`_seen` holds those above the watermark).
    """

    def __init__(self) -> None:
        self.totals: Counter[tuple[str, str, str]] = Counter()
        self._watermark = 0
        self._seen: set[int] = set()

    def collect(self, conn: Connection) -> Iterator[Any]:
        """The `govbus_rows_denied` family: the totals so far plus the runs ended since."""
        r = state.runs
        known = set(consent.REASONS)
        open_run: int | None = None
        newest = self._watermark
        for run_id, status, dataset, sub, counts in conn.execute(
            sa.select(r.c.run_id, r.c.status, r.c.dataset, r.c.subscription_id, r.c.counts)
            .where(r.c.step == "deliver", r.c.run_id > self._watermark)
            .order_by(r.c.run_id)
        ):
            newest = max(newest, run_id)
            if status == "running":
                open_run = run_id if open_run is None else min(open_run, run_id)
                continue
            if status != "ok" or run_id in self._seen:
                continue
            self._seen.add(run_id)
            denials = (counts or {}).get("denials") if isinstance(counts, dict) else None
            for reason, n in (denials or {}).items():
                label = reason if reason in known or _REASON.match(str(reason)) else _OTHER
                self.totals[(dataset, sub or "", label)] += int(n)
        self._watermark = newest if open_run is None else open_run - 1
        self._seen = {run_id for run_id in self._seen if run_id > self._watermark}
        family = CounterMetricFamily(
            "govbus_rows_denied",
            "Rows denied at delivery, by reason.",
            labels=["dataset", "subscription", "reason"],
        )
        for key, n in sorted(self.totals.items()):
            family.add_metric(list(key), n)
        yield family


def _runs(conn: Connection) -> Iterator[Any]:
    r = state.runs
    labels = ["dataset", "step", "subscription"]
    runs = CounterMetricFamily(
        "govbus_step_runs", "Steps run, by outcome.", labels=["dataset", "step", "status"]
    )
    for dataset, step, status, count in conn.execute(
        sa.select(r.c.dataset, r.c.step, r.c.status, sa.func.count()).group_by(
            r.c.dataset, r.c.step, r.c.status
        )
    ):
        runs.add_metric([dataset, step, status], int(count))
    yield runs
    newest = (
        sa.select(sa.func.max(r.c.run_id).label("run_id"))
        .where(r.c.status != "running")
        .group_by(r.c.dataset, r.c.step, r.c.subscription_id)
        .subquery()
    )
    last = conn.execute(
        sa.select(
            r.c.dataset, r.c.step, r.c.subscription_id, r.c.status, r.c.started_at, r.c.finished_at
        ).join(newest, newest.c.run_id == r.c.run_id)
    ).all()
    duration = GaugeMetricFamily(
        "govbus_step_last_duration_seconds", "Duration of the step's latest finished run.", labels=labels
    )
    failed = GaugeMetricFamily(
        "govbus_step_last_failed", "1 when the step's latest run failed.", labels=labels
    )
    finished = GaugeMetricFamily(
        "govbus_step_last_finished_timestamp_seconds", "When the step's latest run finished.", labels=labels
    )
    spans: dict[str, list[dt.datetime]] = defaultdict(list)
    for dataset, step, sub, status, started, ended in last:
        key = [dataset, step, sub or ""]
        started, ended = _utc(started), _utc(ended)
        if ended is not None:
            duration.add_metric(key, max((ended - started).total_seconds(), 0.0))
            finished.add_metric(key, ended.timestamp())
            spans[dataset] += [started, ended]
        failed.add_metric(key, 1.0 if status == "failed" else 0.0)
    yield from (duration, failed, finished)
    run = GaugeMetricFamily(
        "govbus_run_last_duration_seconds",
        "The dataset's latest exchange, from its earliest latest step's start to its last step's end.",
        labels=["dataset"],
    )
    for dataset, times in sorted(spans.items()):
        run.add_metric([dataset], (max(times) - min(times)).total_seconds())
    yield run


def _freshness(conn: Connection, catalog: Catalog, now: dt.datetime) -> Iterator[Any]:
    lag = GaugeMetricFamily(
        "govbus_freshness_lag_seconds", "Age of the dataset's newest staged data.", labels=["dataset"]
    )
    allowed = GaugeMetricFamily(
        "govbus_freshness_sla_seconds", "The contract's SLA freshness (the lag allowed).", labels=["dataset"]
    )
    ok = GaugeMetricFamily(
        "govbus_freshness_ok", "1 while the dataset meets its SLA freshness.", labels=["dataset"]
    )
    for dataset_id in sorted(catalog.datasets):
        verdict = judge_freshness(conn, catalog.datasets[dataset_id].contract, now)
        if verdict is None:
            continue
        allowed.add_metric([dataset_id], verdict.allowed.total_seconds())
        ok.add_metric([dataset_id], 1.0 if verdict.ok else 0.0)
        if verdict.lag is not None:
            lag.add_metric([dataset_id], max(verdict.lag.total_seconds(), 0.0))
    yield from (lag, allowed, ok)


def _ledger(conn: Connection, now: dt.datetime) -> Iterator[Any]:
    ledger = audit.AUDIT_METADATA.tables["ledger"]
    checkpoints = audit.AUDIT_METADATA.tables["ledger_checkpoints"]
    entries = CounterMetricFamily("govbus_ledger_entries", "Ledger entries, by kind.", labels=["kind"])
    size = 0
    for kind, count in conn.execute(sa.select(ledger.c.kind, sa.func.count()).group_by(ledger.c.kind)):
        entries.add_metric([kind], int(count))
        size += int(count)
    yield entries
    yield GaugeMetricFamily("govbus_ledger_size_entries", "Entries in the ledger.", value=size)
    newest = conn.execute(
        sa.select(checkpoints.c.tree_size, checkpoints.c.at)
        .order_by(checkpoints.c.tree_size.desc(), checkpoints.c.at.desc())
        .limit(1)
    ).first()
    if newest is not None:
        at = _utc(newest.at)
        assert at is not None
        yield GaugeMetricFamily(
            "govbus_ledger_checkpoint_age_seconds",
            "Age of the newest signed checkpoint of the ledger.",
            value=max((now - at).total_seconds(), 0.0),
        )
        yield GaugeMetricFamily(
            "govbus_ledger_checkpoint_tree_size",
            "Entries the newest checkpoint covers.",
            value=int(newest.tree_size),
        )
    yield GaugeMetricFamily(
        "govbus_ledger_unchecked_entries",
        "Entries appended since the newest checkpoint.",
        value=size - (int(newest.tree_size) if newest is not None else 0),
    )


def _utc(value: dt.datetime | None) -> dt.datetime | None:
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
