"""A bus on the sample catalog (SQLite state) for the subscriptions room's tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from exchange import Bus


@pytest.fixture
def plain_bus(govbus_home: Path) -> Iterator[Bus]:
    bus = Bus.open()
    yield bus
    bus.close()
