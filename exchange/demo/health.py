"""The Health Ministry of the sample deployment: disability assessments behind a REST API.

The Ministry keeps its medical boards' assessments in its own database (a SQLite file,
`agencies/health/health.db`) and serves them over HTTP (`exchange.demo.health_api`),
which the dataset `health.disability` reads with the `rest` connector. The Social
Benefits Agency receives them under each person's consent, so `seed` also fills the
consent register with every state a real one holds — most consents active, some paused,
revoked or expired, some assessed people with none — and the summary's denials show
each reason. About 2 % of the records are damaged (a clipped national id, a degree off
the scale) so quarantine has work here too.

`change_some` plays the Ministry's next day: some people re-assessed, some assessed for
the first time. The API's bearer token is made at seeding and kept, readable by the
owner only, in `agencies/health/api-token`. Nothing is real personal data.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import sqlalchemy as sa

if TYPE_CHECKING:
    from exchange.bus import Bus
    from exchange.state.settings import Settings

DATASET = "health.disability"
URL_ENV = "GOVBUS_HEALTH_API_URL"  # what the dataset's source URL and token_env name
TOKEN_ENV = "GOVBUS_HEALTH_TOKEN"  # noqa: S105 (a variable name, not a secret)
RECIPIENT = "benefits"
PURPOSE = "BENEFIT_ELIGIBILITY"
# What the disability benefit application's consent section names: the subscription's fields.
CONSENT_FIELDS = (
    "assessment_id",
    "national_id",
    "disability_degree",
    "assessed_on",
    "review_on",
    "updated_at",
)
ASSESSED_SHARE = 0.12  # of the country's people, assessed by a medical board at least once
ROWS_PER_TIMESTAMP = 5  # the register stamps its nightly batch jobs' rows alike
DEGREES = (20, 30, 40, 50, 60, 70, 80, 90, 100)
DIAGNOSIS_GROUPS = "CFGIJMNQS"  # ICD-10 chapter letters
BOARDS = 12
# Consent of the k-th assessed person, by k % 20: most active, a tenth each paused,
# revoked, expired, and a tenth who never applied (no consent at all).
CONSENT_PLAN = ("ACTIVE",) * 12 + ("PAUSED",) * 2 + ("REVOKED",) * 2 + ("EXPIRED",) * 2 + (None,) * 2
_SEED = 3030

_META = sa.MetaData()
assessments = sa.Table(
    "disability_assessments",
    _META,
    sa.Column("assessment_id", sa.String(9), primary_key=True),
    sa.Column("national_id", sa.String(11), nullable=False),
    sa.Column("disability_degree", sa.Integer, nullable=False),
    sa.Column("diagnosis_group", sa.String(1), nullable=False),
    sa.Column("assessed_on", sa.Date, nullable=False),
    sa.Column("review_on", sa.Date, nullable=True),
    sa.Column("board_code", sa.String(4), nullable=False),
    sa.Column("updated_at", sa.DateTime, nullable=False),
    # The API pages by (updated_at, assessment_id): keyset reads along this index.
    sa.Index("ix_disability_assessments_changes", "updated_at", "assessment_id"),
)
health_meta = sa.Table(
    "demo_meta", _META, sa.Column("key", sa.String(32), primary_key=True), sa.Column("value", sa.Integer)
)


@dataclass
class HealthSeed:
    """What `seed` made: records (and how many damaged) and consents by state."""

    assessments: int
    broken: int
    consents: dict[str, int]  # ACTIVE, PAUSED, REVOKED, EXPIRED → people
    without_consent: int  # assessed people who never consented


def health_dir(settings: Settings) -> Path:
    """The Health Ministry's folder under GOVBUS_HOME."""
    return settings.agencies_dir / "health"


def db_path(settings: Settings) -> Path:
    """The Health Ministry's sample SQLite database behind its REST API."""
    return health_dir(settings) / "health.db"


def token_path(settings: Settings) -> Path:
    """The file holding the sample API's bearer token (never printed)."""
    return health_dir(settings) / "api-token"


def is_seeded(settings: Settings) -> bool:
    """True once the Health Ministry's database and token exist."""
    return db_path(settings).is_file() and token_path(settings).is_file()


def serves_api(bus: Bus) -> bool:
    """Whether a run should serve the Ministry's API itself: the catalog reads it, this
    home holds the seeded Ministry, and GOVBUS_HEALTH_API_URL names no other API."""
    return DATASET in bus.catalog.datasets and is_seeded(bus.settings) and not os.environ.get(URL_ENV)


def api_token(settings: Settings) -> str:
    """The token the Ministry's API accepts (made by `seed`)."""
    return token_path(settings).read_text(encoding="ascii").strip()


def seed(bus: Bus, people: np.ndarray, base: dt.datetime) -> HealthSeed:
    """Create the Ministry's database, its API token and the Benefits consents. Deterministic.

    `people` are the country's national ids, `base` the nightly batch's time (naive UTC).
    """
    rng = np.random.default_rng(_SEED)
    assessed = people[rng.random(len(people)) < ASSESSED_SHARE]
    if not len(assessed):
        assessed = people[:1]
    rows: list[dict] = []
    for k, person in enumerate(assessed):
        if k % 3 == 0:  # assessed before; that assessment's review has passed
            rows.append(_assessment(rng, len(rows), str(person), _day(rng, 2015, 2020), superseded=True))
        rows.append(_assessment(rng, len(rows), str(person), _day(rng, 2021, 2025)))
    for n, row in enumerate(rows):
        row["updated_at"] = base + dt.timedelta(seconds=n // ROWS_PER_TIMESTAMP)
    broken = _break(rows)
    folder = health_dir(bus.settings)
    folder.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(f"sqlite:///{db_path(bus.settings)}")
    _META.create_all(engine)
    with engine.begin() as conn:
        conn.execute(sa.insert(assessments), rows)
        conn.execute(
            sa.insert(health_meta),
            [
                {"key": "people", "value": len(people)},
                {"key": "assessments", "value": len(rows)},
                {"key": "round", "value": 0},
            ],
        )
    engine.dispose()
    _write_token(token_path(bus.settings))
    consents, without = _seed_consents(bus, assessed, base)
    return HealthSeed(len(rows), broken, consents, without)


def _assessment(
    rng: np.random.Generator, n: int, person: str, assessed_on: dt.date, *, superseded: bool = False
) -> dict:
    """The `n`-th assessment: a degree, a diagnosis group, a board, and (mostly) a review date.

    A quarter are permanent (no review), except `superseded` ones: their review happened.
    """
    permanent = rng.random() < 0.25 and not superseded
    return {
        "assessment_id": f"D{n:08d}",
        "national_id": person,
        "disability_degree": int(DEGREES[int(rng.integers(len(DEGREES)))]),
        "diagnosis_group": DIAGNOSIS_GROUPS[int(rng.integers(len(DIAGNOSIS_GROUPS)))],
        "assessed_on": assessed_on,
        "review_on": None if permanent else assessed_on.replace(year=assessed_on.year + 3, day=1),
        "board_code": f"MB{int(rng.integers(1, BOARDS + 1)):02d}",
    }


def _day(rng: np.random.Generator, first_year: int, last_year: int) -> dt.date:
    start = dt.date(first_year, 1, 1)
    return start + dt.timedelta(days=int(rng.integers(0, (dt.date(last_year, 12, 31) - start).days)))


def _break(rows: list[dict]) -> int:
    """Damage every 50th record the way hand-keyed registers get damaged."""
    broken = 0
    for n in range(49, len(rows), 50):
        if broken % 2 == 0:
            rows[n]["national_id"] = rows[n]["national_id"][:10]  # a digit lost at the clinic
        else:
            rows[n]["disability_degree"] = 110  # off the scale
        broken += 1
    return broken


def _write_token(path: Path) -> None:
    """A fresh random token, readable by its owner only (the bus's user runs the demo API)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as out:
        out.write(secrets.token_urlsafe(32) + "\n")


def _seed_consents(bus: Bus, assessed: np.ndarray, base: dt.datetime) -> tuple[dict[str, int], int]:
    """One consent (or none) per assessed person, by CONSENT_PLAN; expired ones marked so."""
    now = base.replace(tzinfo=dt.UTC)
    counts: Counter[str] = Counter()
    without = 0
    with bus.engine.begin() as conn:
        for k, person in enumerate(assessed):
            plan = CONSENT_PLAN[k % len(CONSENT_PLAN)]
            if plan is None:
                without += 1
                continue
            expired = plan == "EXPIRED"
            consent_id = bus.register.grant(
                conn,
                str(person),
                recipient=RECIPIENT,
                dataset=DATASET,
                purpose=PURPOSE,
                fields=CONSENT_FIELDS,
                valid_from=now - dt.timedelta(days=1100 if expired else 200),
                valid_until=now - dt.timedelta(days=30) if expired else now + dt.timedelta(days=730),
                evidence="demo: disability benefit application, consent section signed",
                data_life="P2Y",
                frequency="P1D",
                collection_method="paper-form",
            )
            if plan == "PAUSED":
                bus.register.pause(conn, consent_id)
            elif plan == "REVOKED":
                bus.register.revoke(conn, consent_id)
            counts[plan] += 1
        bus.register.expire_due(conn)
    return dict(counts), without


def change_some(bus: Bus, people: np.ndarray, share: float = 0.05, new: int = 12) -> tuple[int, int]:
    """The Ministry's next day: `share` of the people re-assessed, `new` first assessments.

    A re-assessment changes the degree and dates of a person's latest assessment; a first
    assessment may be of anyone, consented or not. Both carry a later `updated_at`.
    """
    engine = sa.create_engine(f"sqlite:///{db_path(bus.settings)}")
    with engine.begin() as conn:
        meta = dict(conn.execute(sa.select(health_meta.c.key, health_meta.c.value)).all())
        round_no = meta["round"] + 1
        rng = np.random.default_rng(_SEED + round_no)
        last = conn.execute(sa.select(sa.func.max(assessments.c.updated_at))).scalar_one()
        when = last + dt.timedelta(minutes=1)
        ids = (
            conn.execute(
                sa.select(assessments.c.assessment_id)
                .where(assessments.c.assessed_on >= dt.date(2021, 1, 1))
                .order_by(assessments.c.assessment_id)
            )
            .scalars()
            .all()
        )
        picked = sorted(rng.choice(len(ids), size=max(1, int(len(ids) * share)), replace=False))
        for index in picked:
            redone = _assessment(rng, 0, "", when.date())
            conn.execute(
                sa.update(assessments)
                .where(assessments.c.assessment_id == ids[int(index)])
                .values(
                    disability_degree=redone["disability_degree"],
                    assessed_on=redone["assessed_on"],
                    review_on=redone["review_on"],
                    updated_at=when,
                )
            )
        fresh = []
        for i, person in enumerate(rng.choice(people, size=new, replace=False)):
            row = _assessment(rng, meta["assessments"] + i, str(person), when.date())
            fresh.append({**row, "updated_at": when})
        conn.execute(sa.insert(assessments), fresh)
        for key, value in (("round", round_no), ("assessments", meta["assessments"] + new)):
            conn.execute(sa.update(health_meta).where(health_meta.c.key == key).values(value=value))
    engine.dispose()
    return len(picked), new
