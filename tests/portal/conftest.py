"""A seeded bus shared by the portal tests: the sample deployment, 600 returns, one run.

Seeding once per state database keeps the suite fast; tests that change the state
(tampering with the ledger, adding an access index) copy the home folder first.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from exchange import Bus, Settings
from exchange.demo import deployment as sample
from exchange.portal import create_app
from tests.conftest import CATALOG as SAMPLE_CATALOG
from tests.conftest import postgres_schema, schema_url
from tests.e2e.catalog_variants import without_disclosure

# Long enough for the portal's 16-character minimum; fixed, so failures are readable.
TOKENS = {
    "admin": "admin-token-0123456789",
    "auditor": "auditor-token-0123456789",
    "tax": "tax-agency-token-0123456789",
    "statistics": "statistics-token-0123456789",
    "housing": "housing-token-0123456789",
    "registry": "registry-token-0123456789",
    "health": "health-agency-token-0123456789",
    "dpo": "dpo-token-0123456789",
}
TOKEN_SPEC = ",".join(
    f"{token}={name if name in ('admin', 'auditor', 'dpo') else 'agency:' + name}"
    for name, token in TOKENS.items()
)


def bearer(who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKENS[who]}"}


@dataclass
class Seeded:
    settings: Settings

    def open(self) -> Bus:
        return Bus.open(self.settings)

    def copy(self, target: Path) -> Seeded:
        """The same deployment in another home (SQLite only), for tests that change it."""
        assert self.settings.state_url.startswith("sqlite")
        shutil.copytree(self.settings.home, target)
        return Seeded(_settings(target))


def _tax_only_catalog() -> Path:
    """The sample catalog with one dataset (tax.income), so the portal's numbers are exact.

    Every other dataset, the statutes and the subscriptions about them are left out; their
    agencies stay, as agencies with nothing to see (the Civil Registry).
    """
    import tempfile

    import yaml

    keep = "tax.income"
    root = Path(tempfile.mkdtemp(prefix="govbus-portal-catalog-")) / "catalog"
    shutil.copytree(SAMPLE_CATALOG, root)
    without_disclosure(root)  # the portal's tests are about the portal: the sample before issue 17
    for dataset in (root / "datasets").iterdir():
        if dataset.name != keep:
            shutil.rmtree(dataset)
    # The French texts name the removed datasets and statutes, which a translations file may
    # not (exchange.catalog.translations): the French report falls back to English, marked.
    shutil.rmtree(root / "translations")
    for path, key in [(root / "legal-bases.yaml", "statutes")] + [
        (p, "subscriptions") for p in sorted((root / "subscriptions").glob("*.yaml"))
    ]:
        document = yaml.safe_load(path.read_text())
        document[key] = [item for item in document[key] if item["dataset"] == keep]
        if document[key]:
            path.write_text(yaml.safe_dump(document, sort_keys=False))
        else:
            path.unlink()
    return root


CATALOG = _tax_only_catalog()


def _settings(home: Path, state_url: str | None = None) -> Settings:
    return Settings(
        home=home,
        state_url=state_url or f"sqlite:///{home / 'state.db'}",
        catalog_dir=CATALOG,
        batch_size=500,
    )


def _seed(settings: Settings) -> Seeded:
    bus = Bus.open(settings)
    try:
        sample.seed(bus, rows=600)
        results = bus.run()
        assert all(r.ok for r in results)
    finally:
        bus.close()
    return Seeded(settings)


@pytest.fixture(scope="package")
def seeded_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Seeded:
    return _seed(_settings(tmp_path_factory.mktemp("portal") / "home"))


@pytest.fixture(scope="package", params=["sqlite", "postgresql"])
def seeded(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    """The seeded deployment on each state database (PostgreSQL where its URL is set)."""
    if request.param == "sqlite":
        yield request.getfixturevalue("seeded_sqlite")
        return
    with postgres_schema("govbus_portal") as schema:
        yield _seed(_settings(tmp_path_factory.mktemp("portal-pg") / "home", schema_url(schema)))


def client_for(seeded: Seeded, tokens: str = TOKEN_SPEC) -> TestClient:
    return TestClient(create_app(seeded.open, tokens=tokens), follow_redirects=False)


@pytest.fixture(scope="package")
def client(seeded: Seeded) -> Iterator[TestClient]:
    with client_for(seeded) as c:
        yield c


@pytest.fixture
def state_rows(seeded: Seeded) -> Callable[[sa.Select], list[sa.Row]]:  # type: ignore[type-arg]
    """Run a query on the seeded state database (what the pages must agree with)."""

    def query(select: sa.Select) -> list[sa.Row]:  # type: ignore[type-arg]
        engine = sa.create_engine(seeded.settings.state_url)
        try:
            with engine.connect() as conn:
                return list(conn.execute(select))
        finally:
            engine.dispose()

    return query


@pytest.fixture
def fresh_client(seeded_sqlite: Seeded) -> Iterator[TestClient]:
    """A client with its own cookie jar (for login and session tests)."""
    with client_for(seeded_sqlite) as c:
        yield c
