"""The time budget of the fuzz suites (issue 16): fixed examples in CI, more on demand.

Each fuzz test runs `examples` derandomized cases (the same every run, so CI is
reproducible and fits its budget: the whole fuzz suite takes well under two minutes).
`GOVBUS_FUZZ_EXAMPLES=N` runs N cases per test instead, from a fresh random seed, for a
deeper search away from CI. `pytest --hypothesis-show-statistics` prints the cases run.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from hypothesis import HealthCheck, settings


def fuzz(examples: int) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Hypothesis settings for a fuzz test of `examples` cases (see the module doc)."""
    deeper = os.environ.get("GOVBUS_FUZZ_EXAMPLES")
    return settings(
        max_examples=int(deeper) if deeper else examples,
        derandomize=not deeper,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
