"""`ConnectorConformance`: the kit's checks as pytest tests, for a connector's test module.

    class TestMyConnector(ConnectorConformance):
        @pytest.fixture
        def harness(self, tmp_path):
            return MyHarness(tmp_path)

Every test asks the `harness` fixture for a fresh location, so a subclass builds it
from whatever fixtures it needs (a temporary folder, a database URL, a test server) and
can tear it down after a `yield`; a parametrized fixture runs every check on each
parameter (each database, say). The tests:

    test_type_round_trip[<case>]   one per type case (see `type_cases`)
    test_every_row_once            batches of 1, 5 and 64 rows; equal cursor values
    test_new_rows_only             rows added later, read from the last cursor
    test_resume[<mode>]            stopped after each batch, resumed by a new source
    test_idempotent_write          a batch id written twice, also by a new sink
    test_bounded_memory            `slow`: 1,000,000 rows (--govbus-conformance-rows)

What the harness declares unsupported is skipped with the declared reason; a source-only
connector skips the sink checks, and the other way round.
"""

from __future__ import annotations

from typing import ClassVar

import pytest

from connectors.testing.checks import (
    check_every_row_once,
    check_idempotent_write,
    check_new_rows_only,
    check_resume,
    check_type_round_trip,
)
from connectors.testing.harness import ConnectorHarness
from connectors.testing.memory import DEFAULT_ROWS, MEMORY_BOUND_MIB, check_bounded_memory
from connectors.testing.type_cases import TYPE_CASE_NAMES, TYPE_CASES, TypeCase

ROWS_OPTION = "govbus_conformance_rows"


class ConnectorConformance:
    """The conformance checks; subclass it as `Test…` and define the `harness` fixture."""

    memory_bound_mib: ClassVar[float] = MEMORY_BOUND_MIB
    """The peak RSS growth allowed while reading (MiB); the kit's stated bound by default."""

    @pytest.fixture
    def harness(self) -> ConnectorHarness:
        """Override: a `ConnectorHarness` over a fresh, empty location."""
        pytest.fail(f"{type(self).__name__} must define a `harness` fixture returning a ConnectorHarness")

    @pytest.mark.parametrize("case", TYPE_CASES, ids=TYPE_CASE_NAMES)
    def test_type_round_trip(self, harness: ConnectorHarness, case: TypeCase) -> None:
        """Every Avro type written (or seeded) comes back exactly."""
        _require(harness, "type_round_trip")
        reason = harness.types_not_supported.get(case.name)
        if reason is not None:
            pytest.skip(f"{case.name}: {reason}")
        check_type_round_trip(harness, case)

    def test_every_row_once(self, harness: ConnectorHarness) -> None:
        """A read yields every row once, equal cursor values across batch boundaries too."""
        _require(harness, "every_row_once", source=True)
        check_every_row_once(harness)

    def test_new_rows_only(self, harness: ConnectorHarness) -> None:
        """A read from the last cursor yields exactly the rows added since."""
        _require(harness, "new_rows_only", source=True)
        check_new_rows_only(harness)

    @pytest.mark.parametrize("by_cursor_field", [True, False], ids=["by-cursor-field", "no-cursor-field"])
    def test_resume(self, harness: ConnectorHarness, by_cursor_field: bool) -> None:
        """A read stopped after any batch resumes from its cursor with no loss and no repeat."""
        _require(harness, "resume", source=True)
        if by_cursor_field and not harness.reads_by_cursor_field:
            pytest.skip("the source takes no cursor field (it reads what was added since the cursor)")
        check_resume(harness, by_cursor_field=by_cursor_field)

    def test_idempotent_write(self, harness: ConnectorHarness) -> None:
        """Writing a batch id again has the effect of writing it once."""
        _require(harness, "idempotent_write", sink=True)
        check_idempotent_write(harness)

    @pytest.mark.slow
    def test_bounded_memory(self, harness: ConnectorHarness, request: pytest.FixtureRequest) -> None:
        """Reading a million rows keeps the peak RSS growth under the stated bound."""
        _require(harness, "bounded_memory", source=True)
        rows = request.config.getoption(ROWS_OPTION, default=None) or DEFAULT_ROWS
        report = check_bounded_memory(harness, rows, bound_mib=self.memory_bound_mib)
        print(report)  # shown by `pytest -rP`; also in the JUnit XML as properties
        for name, value in vars(report).items():
            request.node.user_properties.append((f"memory_{name}", value))


def _require(harness: object, check: str, *, source: bool = False, sink: bool = False) -> None:
    """Skip (with the declared reason) what the harness cannot do; refuse a non-harness."""
    assert isinstance(harness, ConnectorHarness), (
        f"the harness fixture returned a {type(harness).__name__}, not a ConnectorHarness"
    )
    if source and not harness.has_source:
        pytest.skip("the connector has no source")
    if sink and not harness.has_sink:
        pytest.skip("the connector has no sink")
    reason = harness.not_supported.get(check)
    if reason is not None:
        pytest.skip(reason)
