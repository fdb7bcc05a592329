"""The sample deployment: a fictional country's agencies and their subscribers.

`seed` creates the Tax Authority's legacy SQLite database with deterministic synthetic
returns (about 1 % of them broken in the ways real exports are broken, so quarantine
has work to do) and records citizens' consents for the Housing Agency (a few revoked);
the Civil Registry's export (`demo_registry`) and the Health Ministry's database and
consents (`demo_health`) follow. `change_some` plays the source systems' next day.
`agency_systems` keeps the systems that must run — the Health Ministry's API — up for
a run. Nothing here is real personal data: national ids are random 11-digit numbers.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import sqlalchemy as sa

from exchange.demo import health as demo_health
from exchange.demo import registry as demo_registry

if TYPE_CHECKING:
    from exchange.bus import Bus

log = logging.getLogger("govbus.exchange")


def base_time() -> dt.datetime:
    """06:00 UTC yesterday: the source's nightly batch, so the data is fresh for its SLA.

    Everything else about the sample (people, amounts, broken rows, consents) is fixed by
    the seed; only the timestamps follow the day the demo is seeded.
    """
    today = dt.datetime.now(dt.UTC).replace(hour=6, minute=0, second=0, microsecond=0, tzinfo=None)
    return today - dt.timedelta(days=1)


STATUSES = ("SINGLE", "JOINT", "SEPARATE", "HEAD_OF_HOUSEHOLD")
ROWS_PER_TIMESTAMP = 7  # legacy batch jobs stamp many rows with one time: the cursor must cope
HOUSING_FIELDS = ("return_id", "national_id", "tax_year", "gross_income", "taxable_income", "updated_at")

_META = sa.MetaData()
income_returns = sa.Table(
    "income_returns",
    _META,
    sa.Column("return_id", sa.String(10), primary_key=True),
    sa.Column("national_id", sa.String(11)),
    sa.Column("tax_year", sa.Integer),
    sa.Column("filing_status", sa.String(20)),
    sa.Column("municipality_code", sa.String(4)),
    # The legacy system keeps amounts as text, as many do; GovBus conforms them to decimals.
    sa.Column("gross_income", sa.Text),
    sa.Column("taxable_income", sa.Text),
    sa.Column("tax_due", sa.Text),
    sa.Column("postal_code", sa.String(5), nullable=True),
    sa.Column("updated_at", sa.DateTime),
    # The compound cursor (updated_at, return_id) reads by this index, batch after batch.
    sa.Index("ix_income_returns_cursor", "updated_at", "return_id"),
)
demo_meta = sa.Table(
    "demo_meta", _META, sa.Column("key", sa.String(32), primary_key=True), sa.Column("value", sa.Integer)
)


@dataclass
class SeedReport:
    """What seeding the Tax Authority made (printed by `govbus demo`)."""

    returns: int
    broken: int
    consents: int
    revoked: int
    health: demo_health.HealthSeed | None = None  # None: the catalog has no health.disability


def tax_db_url(bus: Bus) -> str:
    """SQLAlchemy URL of the Tax Authority's sample database."""
    return f"sqlite:///{tax_db_path(bus)}"


def tax_db_path(bus: Bus) -> Path:
    """Where the Tax Authority's sample SQLite database lives under GOVBUS_HOME."""
    return bus.settings.agencies_dir / "tax" / "tax.db"


def is_seeded(bus: Bus) -> bool:
    """True once the sample deployment was seeded (seeding runs once)."""
    return tax_db_path(bus).is_file()


def _returns(
    rng: np.random.Generator, start: int, count: int, people: np.ndarray, base: dt.datetime
) -> list[dict]:
    """`count` synthetic returns numbered from `start`; amounts exact to the cent."""
    gross = rng.lognormal(mean=10.4, sigma=0.6, size=count).round(2)
    taxable = (gross * rng.uniform(0.6, 0.95, size=count)).round(2)
    due = (taxable * 0.22).round(2)
    rows = []
    for i in range(count):
        n = start + i
        rows.append(
            {
                "return_id": f"R{n:09d}",
                "national_id": str(people[n % len(people)]),
                "tax_year": 2021 + (n // len(people)) % 4,
                "filing_status": STATUSES[int(rng.integers(0, 4))],
                "municipality_code": f"{int(rng.integers(101, 5000)):04d}",
                "gross_income": f"{Decimal(str(gross[i])):.2f}",
                "taxable_income": f"{Decimal(str(taxable[i])):.2f}",
                "tax_due": f"{Decimal(str(due[i])):.2f}",
                "postal_code": None if n % 13 == 0 else f"{int(rng.integers(10000, 99999))}",
                "updated_at": base + dt.timedelta(seconds=n // ROWS_PER_TIMESTAMP),
            }
        )
    return rows


def _break(rows: list[dict], rng: np.random.Generator, share: float = 0.01) -> int:
    """Damage about `share` of the rows the way legacy exports get damaged."""
    faults = (
        ("national_id", lambda v: v[:7]),  # truncated identifier
        ("gross_income", lambda v: "-" + v),  # negative income
        ("filing_status", lambda v: "UNKNOWN"),  # code outside the set
        ("municipality_code", lambda v: "X" + v[1:]),  # not a code
        ("gross_income", lambda v: v.replace(".", "x", 1)),  # not a number at all
        ("national_id", lambda v: None),  # missing identifier
    )
    picked = rng.choice(len(rows), size=max(1, int(len(rows) * share)), replace=False)
    for k, index in enumerate(sorted(picked)):
        column, damage = faults[k % len(faults)]
        rows[index][column] = damage(rows[index][column])
    return len(picked)


def seed(bus: Bus, rows: int = 20_000) -> SeedReport:
    """Create the Tax Authority database and the consent register entries. Deterministic."""
    rng = np.random.default_rng(2026)
    people = rng.integers(10**10, 10**11 - 1, size=max(1, rows // 2), dtype=np.int64)
    path = tax_db_path(bus)
    for agency in ("tax", "registry", "health", "benefits", "housing", "statistics"):
        (bus.settings.agencies_dir / agency).mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(f"sqlite:///{path}")
    _META.create_all(engine)
    data = _returns(rng, 0, rows, people, base_time())
    broken = _break(data, rng)
    with engine.begin() as conn:
        conn.execute(sa.insert(income_returns), data)
        conn.execute(
            sa.insert(demo_meta),
            [
                {"key": "people", "value": len(people)},
                {"key": "returns", "value": rows},
                {"key": "round", "value": 0},
            ],
        )
    engine.dispose()
    consents, revoked = _seed_consents(bus, people, rng)
    demo_registry.write_export(bus, people, round_no=0)
    health = None
    if demo_health.DATASET in bus.catalog.datasets:
        health = demo_health.seed(bus, people, base_time())
    return SeedReport(rows, broken, consents, revoked, health)


def _seed_consents(bus: Bus, people: np.ndarray, rng: np.random.Generator) -> tuple[int, int]:
    """A quarter of the people consent to Housing; one in twenty of those later revoke."""
    chosen = people[rng.random(len(people)) < 0.25]
    valid_from = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    revoked = 0
    with bus.engine.begin() as conn:
        for k, person in enumerate(chosen):
            consent_id = bus.register.grant(
                conn,
                str(person),
                recipient="housing",
                dataset="tax.income",
                purpose="HOUSING_ALLOWANCE",
                fields=HOUSING_FIELDS,
                valid_from=valid_from,
                evidence="demo: housing allowance application form, signed",
                collection_method="paper-form",  # receipts say how it was collected
            )
            if k % 20 == 19:
                bus.register.revoke(conn, consent_id)
                revoked += 1
    return len(chosen), revoked


def change_some(bus: Bus, share: float = 0.02, new: int = 50) -> tuple[int, int]:
    """The source's next day: `share` of returns corrected, `new` returns filed."""
    engine = sa.create_engine(tax_db_url(bus))
    with engine.begin() as conn:
        meta = dict(conn.execute(sa.select(demo_meta.c.key, demo_meta.c.value)).all())
        round_no = meta["round"] + 1
        rng = np.random.default_rng(2026 + round_no)
        last = conn.execute(sa.select(sa.func.max(income_returns.c.updated_at))).scalar_one()
        when = last + dt.timedelta(minutes=1)
        ids = [
            f"R{int(i):09d}"
            for i in rng.choice(meta["returns"], size=int(meta["returns"] * share), replace=False)
        ]
        conn.execute(
            sa.update(income_returns)
            .where(income_returns.c.return_id.in_(ids), income_returns.c.gross_income.regexp_match("^[0-9]"))
            .values(
                gross_income=sa.func.printf("%.2f", sa.cast(income_returns.c.gross_income, sa.Float) * 1.05),
                updated_at=when,
            )
        )
        people = np.random.default_rng(2026).integers(10**10, 10**11 - 1, size=meta["people"], dtype=np.int64)
        fresh = _returns(rng, meta["returns"], new, people, when)
        for row in fresh:
            row["updated_at"] = when
        conn.execute(sa.insert(income_returns), fresh)
        conn.execute(sa.update(demo_meta).where(demo_meta.c.key == "round").values(value=round_no))
        conn.execute(
            sa.update(demo_meta).where(demo_meta.c.key == "returns").values(value=meta["returns"] + new)
        )
    engine.dispose()
    demo_registry.write_export(bus, people, round_no)
    if demo_health.is_seeded(bus.settings):
        demo_health.change_some(bus, people)
    return len(ids), new


@contextmanager
def agency_systems(bus: Bus) -> Iterator[None]:
    """Keep the sample agencies' running systems up while the block runs an exchange.

    The other agencies' systems are files the bus reads; the Health Ministry's is an HTTP
    API, served from its SQLite file on 127.0.0.1 (see `demo_health_api.serving`). Outside
    a seeded sample deployment this does nothing, so `govbus run` may always use it.
    """
    if not demo_health.serves_api(bus):
        if (
            demo_health.DATASET in bus.catalog.datasets
            and is_seeded(bus)
            and not demo_health.is_seeded(bus.settings)
        ):
            log.warning("this home was seeded without the Health Ministry: `govbus demo --reset` adds it")
        yield
        return
    from exchange.demo.health_api import serving  # FastAPI and uvicorn: only when needed

    with serving(bus):
        yield
