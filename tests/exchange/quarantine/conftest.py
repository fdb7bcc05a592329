"""The small catalog of `tests.exchange.quarantine_support` as GOVBUS_CATALOG, and a bus on it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from exchange import Bus
from tests.exchange.quarantine_support import small_catalog


@pytest.fixture
def catalog(govbus_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = small_catalog(tmp_path)
    monkeypatch.setenv("GOVBUS_CATALOG", str(root))
    return root


@pytest.fixture
def bus(catalog: Path, state_url: str | None) -> Iterator[Bus]:
    bus = Bus.open()
    yield bus
    bus.close()
