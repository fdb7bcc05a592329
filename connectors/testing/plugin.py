"""The pytest plugin of the conformance kit (entry point `pytest11: govbus_connectors`).

It adds the command-line option `--govbus-conformance-rows N` (how many rows the
bounded-memory check reads; default 1,000,000) and declares the `slow` marker the
memory check carries, so a connector project running pytest with `--strict-markers`
needs no configuration. The checks themselves come with `ConnectorConformance`.
"""

from __future__ import annotations

import pytest

from connectors.testing.conformance import ROWS_OPTION
from connectors.testing.memory import DEFAULT_ROWS, MEMORY_BOUND_MIB


def pytest_addoption(parser: pytest.Parser) -> None:
    """Add --govbus-conformance-rows."""
    group = parser.getgroup("govbus", "GovBus connector conformance kit")
    group.addoption(
        "--govbus-conformance-rows",
        dest=ROWS_OPTION,
        type=int,
        default=DEFAULT_ROWS,
        metavar="N",
        help=f"rows the bounded-memory check reads (default {DEFAULT_ROWS:,}; "
        f"peak RSS growth must stay under {MEMORY_BOUND_MIB} MiB)",
    )


def pytest_configure(config: pytest.Config) -> None:
    """Declare the `slow` marker (the memory check carries it)."""
    config.addinivalue_line("markers", "slow: runs Airflow or a large data set")
