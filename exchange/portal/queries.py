"""What the portal shows, computed once for both the HTML pages and the JSON API.

Every function takes the bus and the calling `Principal` and applies `roles.py`'s
rules itself, so no route can forget them. The catalog's metadata (`catalog`,
`catalog_entry_of`) is `exchange.views.catalog_entries`, open to every role; the rest is
operations, shown by the roles' rules. They read the catalog and the state
database (the exchange's `stages`, `deliveries`, `runs`, `quarantine`; the consent
part's `ledger`) and never write. Requests approved since the portal's bus opened (here
or with `govbus subscription approve`) are merged into its catalog first
(`access_requests.refresh_subscriptions`). The per-subject lookup lives in `subjects.py`.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

import audit
from exchange import state
from exchange.bus import Bus
from exchange.catalog.loader import Dataset
from exchange.portal import models
from exchange.portal.access_requests import refresh_subscriptions
from exchange.subscriptions import lifecycle
from exchange.views.catalog_entries import CatalogEntry, CatalogQuery, catalog_entries, catalog_entry
from exchange.views.roles import NotAllowed, NotVisible, Principal
from exchange.views.subscriptions import life_state
from govbus.errors import FatalError
from govbus.instants import utc_now

RUN_LIMIT_MAX = 1000
_RUN_COUNTS = ("rows_read", "rows_staged", "rows_quarantined", "rows_delivered", "rows_denied", "batches")


def as_utc(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes: the bus writes UTC, so read them as UTC."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def datasets(bus: Bus, who: Principal) -> list[models.DatasetSummary]:
    """The catalog as the caller may see it, with freshness and delivery totals."""
    refresh_subscriptions(bus)  # requests approved since the bus opened are subscribers too
    with bus.engine.connect() as conn:
        return [_summary(bus, who, conn, d) for d in who.visible_dataset_ids(bus.catalog)]


def catalog(bus: Bus, who: Principal, query: CatalogQuery) -> list[CatalogEntry]:
    """Every dataset's catalog entry the filters match: metadata, which every signed-in role reads.

    A filter value the catalog does not know matches nothing (no error: a search API).
    """
    refresh_subscriptions(bus)
    return catalog_entries(bus.catalog, engine=bus.engine, query=query)


def catalog_entry_of(bus: Bus, who: Principal, dataset_id: str) -> CatalogEntry:
    """One dataset's catalog entry, for every signed-in role; NotVisible (404) for an unknown id."""
    who.require_catalog_entry(bus.catalog, dataset_id)
    return catalog_entry(bus.catalog, dataset_id, engine=bus.engine)


def dataset_detail(bus: Bus, who: Principal, dataset_id: str) -> models.DatasetDetail:
    """One dataset's operations as the caller may see them: fields, stage counts, 20 latest visible runs.

    NotVisible (404) for an unknown id, NotAllowed (403) for a dataset the caller takes no
    part in (`Principal.require_dataset`); its catalog entry is `catalog_entry_of`.
    """
    who.require_dataset(bus.catalog, dataset_id)
    refresh_subscriptions(bus)
    dataset = bus.catalog.datasets[dataset_id]
    contract = dataset.contract
    st = state.stages
    with bus.engine.connect() as conn:
        summary = _summary(bus, who, conn, dataset_id)
        counts = conn.execute(
            sa.select(
                _count_where(st.c.status == "committed"),
                _count_where(st.c.status == "staged"),
                sa.func.coalesce(sa.func.sum(st.c.rows_staged), 0),
                sa.func.coalesce(sa.func.sum(st.c.rows_quarantined), 0),
            ).where(st.c.dataset == dataset_id)
        ).one()
    fields = [
        models.FieldInfo(name=name, classification=spec.classification, tags=list(spec.tags))
        for name, spec in contract.fields.items()
    ]
    return models.DatasetDetail(
        **summary.model_dump(),
        purpose=contract.purpose,
        compatibility=contract.compatibility,
        key_fields=list(contract.key_fields),
        fields=fields,
        expectations=len(contract.expectations),
        stages_committed=counts[0],
        stages_waiting=counts[1],
        rows_staged=int(counts[2]),
        rows_quarantined=int(counts[3]),
        recent_runs=runs(bus, who, dataset=dataset_id, limit=20),
    )


def _count_where(condition: sa.ColumnElement[bool]) -> sa.ColumnElement[int]:
    """COUNT(*) FILTER (WHERE ...) in a form MariaDB understands too."""
    return sa.func.coalesce(sa.func.sum(sa.case((condition, 1), else_=0)), 0)


def _summary(bus: Bus, who: Principal, conn: sa.Connection, dataset_id: str) -> models.DatasetSummary:
    dataset = bus.catalog.datasets[dataset_id]
    contract = dataset.contract
    owner = bus.catalog.agencies.get(contract.owner)
    versions = [
        models.SchemaVersion(
            label=v.label, fingerprint_sha256=v.fingerprint_sha256, current=v == dataset.schema
        )
        for v in dataset.versions
    ]
    return models.DatasetSummary(
        id=dataset_id,
        owner=contract.owner,
        owner_name=owner.name if owner else contract.owner,
        description=contract.description,
        contract_version=contract.version,
        schema_versions=versions,
        subscribers=_subscribers(bus, who, conn, dataset_id),
        freshness=_freshness(conn, dataset),
    )


def _subscribers(bus: Bus, who: Principal, conn: sa.Connection, dataset_id: str) -> list[models.Subscriber]:
    dv = state.deliveries
    totals = {
        row.subscription_id: row
        for row in conn.execute(
            sa.select(
                dv.c.subscription_id,
                sa.func.count().label("batches"),
                sa.func.sum(dv.c.rows_delivered).label("delivered"),
                sa.func.sum(dv.c.rows_denied).label("denied"),
                sa.func.max(dv.c.delivered_at).label("last"),
            )
            .where(dv.c.dataset == dataset_id)
            .group_by(dv.c.subscription_id)
        )
    }
    lives = lifecycle.lifecycles(conn, dataset_id)
    out = []
    for sub in bus.catalog.subscriptions_for(dataset_id):
        if not who.can_see_subscription(bus.catalog, sub):
            continue
        total = totals.get(sub.id)
        out.append(
            models.Subscriber(
                subscription=sub.id,
                agency=sub.agency,
                purpose=sub.purpose,
                basis=sub.basis,
                fields=list(sub.fields),
                schedule=sub.schedule,
                batches=total.batches if total else 0,
                rows_delivered=int(total.delivered or 0) if total else 0,
                rows_denied=int(total.denied or 0) if total else 0,
                last_delivered_at=as_utc(total.last) if total else None,
                origin="request" if sub.origin == "request" else "catalog",
                state=life_state(lives.get(sub.id)),
            )
        )
    return out


def _freshness(conn: sa.Connection, dataset: Dataset) -> models.Freshness:
    st = state.stages
    last = as_utc(
        conn.execute(
            sa.select(sa.func.max(st.c.committed_at)).where(
                st.c.dataset == dataset.id, st.c.status == "committed"
            )
        ).scalar()
    )
    sla = dataset.contract.sla
    if last is None:
        return models.Freshness(status="never", sla=sla.freshness_text)
    age = (utc_now() - last).total_seconds()
    if sla.freshness is None:
        return models.Freshness(status="no-sla", last_committed_at=last, age_seconds=age)
    status = "fresh" if age <= sla.freshness.total_seconds() else "stale"
    return models.Freshness(status=status, last_committed_at=last, sla=sla.freshness_text, age_seconds=age)


def runs(bus: Bus, who: Principal, *, dataset: str | None = None, limit: int = 100) -> list[models.Run]:
    """Newest first; an agency gets its own datasets' steps and the deliveries to it."""
    refresh_subscriptions(bus)
    r = state.runs
    query = sa.select(r).order_by(r.c.run_id.desc()).limit(max(1, min(limit, RUN_LIMIT_MAX)))
    if dataset is not None:
        who.require_dataset(bus.catalog, dataset)
        query = query.where(r.c.dataset == dataset)
    if not who.sees_everything:
        owned = [d for d in bus.catalog.datasets if who.owns(bus.catalog, d)]
        mine = [s.id for s in bus.catalog.subscriptions.values() if s.agency == who.agency]
        query = query.where(sa.or_(r.c.dataset.in_(owned), r.c.subscription_id.in_(mine)))
    with bus.engine.connect() as conn:
        return [_run(row) for row in conn.execute(query)]


def run(bus: Bus, who: Principal, run_id: int) -> models.Run:
    """One run; a run the caller may not see is answered exactly like a missing one."""
    refresh_subscriptions(bus)
    with bus.engine.connect() as conn:
        row = conn.execute(sa.select(state.runs).where(state.runs.c.run_id == run_id)).first()
    if row is None or not who.can_see_run(bus.catalog, row.dataset, row.subscription_id):
        raise NotVisible("no such run", where="run", hint="see the runs page for yours")
    return _run(row)


def _run(row: Any) -> models.Run:
    started, finished = as_utc(row.started_at), as_utc(row.finished_at)
    counts = row.counts if isinstance(row.counts, dict) else {}
    numbers = {k: counts[k] for k in _RUN_COUNTS if isinstance(counts.get(k), int)}
    return models.Run(
        run_id=row.run_id,
        dataset=row.dataset,
        step=row.step,
        subscription=row.subscription_id,
        status=row.status,
        started_at=started,
        finished_at=finished,
        duration_seconds=(finished - started).total_seconds() if started and finished else None,
        error=row.error,
        stage_id=counts["stage_id"] if isinstance(counts.get("stage_id"), str) else None,
        **numbers,
    )


def quarantine(bus: Bus, who: Principal, *, dataset: str | None = None) -> list[models.QuarantineSummary]:
    """Quarantined rows per dataset and reason. Only counts: the rows stay in the state DB."""
    if dataset is not None:
        who.require_catalog_entry(bus.catalog, dataset)
        if not who.can_see_quarantine(bus.catalog, dataset):
            raise NotAllowed(
                "only the dataset's owner, admins and auditors see its quarantine", where="quarantine"
            )
        wanted = [dataset]
    else:
        wanted = [d for d in sorted(bus.catalog.datasets) if who.can_see_quarantine(bus.catalog, d)]
    q = state.quarantine
    reasons_text = sa.cast(q.c.reasons, sa.Text)
    query = (
        sa.select(q.c.dataset, q.c.status, reasons_text.label("reasons"), sa.func.count().label("rows"))
        .where(q.c.dataset.in_(wanted), q.c.status != "discarded")  # discarded: kept for audit only
        .group_by(q.c.dataset, q.c.status, reasons_text)
    )
    totals: Counter[str] = Counter()
    open_rows: Counter[str] = Counter()
    by_reason: dict[str, Counter[str]] = defaultdict(Counter)
    with bus.engine.connect() as conn:
        for row in conn.execute(query):  # one row per distinct (dataset, status, reasons)
            totals[row.dataset] += row.rows
            if row.status == "open":
                open_rows[row.dataset] += row.rows
            for reason in _reasons(row.reasons):
                by_reason[row.dataset][reason] += row.rows
    return [
        models.QuarantineSummary(
            dataset=d,
            rows=totals[d],
            open_rows=open_rows[d],
            reasons=[models.ReasonCount(reason=k, rows=n) for k, n in by_reason[d].most_common()],
        )
        for d in wanted
    ]


def _reasons(text: str | None) -> list[str]:
    try:
        value = json.loads(text or "[]")
    except ValueError:
        return ["(unreadable reasons)"]
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def ledger_status(bus: Bus, who: Principal) -> models.LedgerStatus:
    """Verify the whole ledger now (chain, order, signatures): the page is the verifier."""
    who.require_ledger()
    table = audit.AUDIT_METADATA.tables["ledger"]
    with bus.engine.connect() as conn:
        kinds = [
            models.KindCount(kind=k, entries=n)
            for k, n in conn.execute(
                sa.select(table.c.kind, sa.func.count()).group_by(table.c.kind).order_by(table.c.kind)
            )
        ]
        try:
            report = bus.ledger.verify(conn)
            head = bus.ledger.head(conn)
        except FatalError as exc:  # rows the driver cannot even decode: tampering too
            entries = conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
            return models.LedgerStatus(
                entries=entries,
                intact=False,
                problems=[models.LedgerProblem(seq=0, problem=exc.message)],
                kinds=kinds,
            )
    return models.LedgerStatus(
        entries=report.entries,
        intact=report.ok,
        head_seq=report.head_seq,
        head_hash=report.head_hash,
        head_at=as_utc(head.at) if head else None,
        problems=[models.LedgerProblem(seq=s, problem=p) for s, p in report.problems],
        checkpoints=report.checkpoints,
        latest_checkpoint=_latest(report.latest_checkpoint),
        checkpoint_problems=[models.LedgerProblem(seq=n, problem=p) for n, p in report.checkpoint_problems],
        kinds=kinds,
    )


def _latest(checkpoint: audit.Checkpoint | None) -> models.LatestCheckpoint | None:
    if checkpoint is None:
        return None
    return models.LatestCheckpoint(
        number=checkpoint.number,
        tree_size=checkpoint.tree_size,
        root=checkpoint.root,
        at=as_utc(checkpoint.at),
        key_id=checkpoint.key_id,
    )
