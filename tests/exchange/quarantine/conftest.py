"""The small catalog of `tests.exchange.quarantine.support` as GOVBUS_CATALOG, and a bus on it."""

from __future__ import annotations

from pathlib import Path

import pytest

from exchange import Bus
from tests.exchange.quarantine.support import small_catalog


@pytest.fixture
def catalog(govbus_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = small_catalog(tmp_path)
    monkeypatch.setenv("GOVBUS_CATALOG", str(root))
    return root


@pytest.fixture
def bus(catalog: Path, bus: Bus) -> Bus:
    """The suite's `bus` (each state database), opened on the small catalog: `catalog` comes first."""
    return bus
