"""Shared fixtures: an isolated GovBus home per test, the sample catalog, the bus."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
CATALOG = REPO / "catalog"


@pytest.fixture
def govbus_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh GOVBUS_HOME (state DB, keys, staging, agency systems) under tmp_path."""
    home = tmp_path / "govbus-home"
    monkeypatch.setenv("GOVBUS_HOME", str(home))
    monkeypatch.setenv("GOVBUS_CATALOG", str(CATALOG))
    monkeypatch.delenv("GOVBUS_STATE_URL", raising=False)
    monkeypatch.delenv("GOVBUS_MASTER_KEY", raising=False)
    monkeypatch.setenv("GOVBUS_BATCH_SIZE", "500")  # 500 % 7 != 0: batches cut timestamp groups
    return home


@pytest.fixture
def bus(govbus_home: Path) -> Iterator[object]:
    from exchange import Bus

    bus = Bus.open()
    yield bus
    bus.close()


def postgres_url() -> str | None:
    return os.environ.get("GOVBUS_TEST_POSTGRES_URL")


def mariadb_url() -> str | None:
    return os.environ.get("GOVBUS_TEST_MARIADB_URL")
