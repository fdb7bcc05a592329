"""What the three steps use of the composed bus: one typed interface, no `Bus` import.

The steps (stage, deliver, commit) need the catalog, the state database, the keys, the
ledger and the consent register, the staging area, and a way to make a dataset's
source and a subscription's sink. `exchange.bus.Bus` composes all of these and
satisfies `StepContext`; the steps depend on this protocol only, so the bus can import
them at module level and no import cycle is left between the two.

`Steps` adds the step methods themselves: the local runner (`run_datasets`) chains them
through whatever composes them, so a test or another runner can wrap them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol

import pyarrow as pa

import connectors
import consent
from exchange.catalog import Dataset, Subscription
from exchange.quarantine.context import QuarantineContext
from exchange.run.reports import CommitReport, DeliverReport, StageReport
from exchange.run.staging import StagingArea

__all__ = ["Hooks", "ProgressFn", "StepContext", "Steps"]

ProgressFn = Callable[[str, int], None]


@dataclass
class Hooks:
    """Points where tests (and operators' instrumentation) can step in.

    `after_sink_write(batch_id)` runs after a sink has written a batch and before the
    ledger entry and checkpoint commit: the window a crash test aims at.
    """

    after_sink_write: Callable[[str], None] | None = None
    progress: ProgressFn | None = None


class StepContext(QuarantineContext, Protocol):
    """Everything a step reads or writes through, named (see the module docstring)."""

    keys: consent.KeyStore
    register: consent.ConsentRegister
    hooks: Hooks

    @property
    def staging(self) -> StagingArea:
        """Where staged segments are written, read and deleted."""
        ...

    def source_for(self, dataset: Dataset) -> connectors.Source:
        """The dataset's source connector, its settings expanded from the environment."""
        ...

    def sink_for(self, sub: Subscription, schema: pa.Schema) -> connectors.Sink:
        """The subscription's sink for batches of `schema`."""
        ...

    def environment(self) -> dict[str, str]:
        """What `${VARS}` in connector settings expand from."""
        ...

    def progress(self, event: str, rows: int) -> None:
        """Report progress (rows read, staged, delivered) to whoever listens."""
        ...


class Steps(StepContext, Protocol):
    """A `StepContext` that can also run the steps (what the local runner chains)."""

    def stage(self, dataset_id: str) -> StageReport:
        """Stage what changed in the dataset's source since its committed cursor."""
        ...

    def deliver(self, dataset_id: str, subscription_id: str) -> DeliverReport:
        """Deliver every staged, undelivered segment to one subscription."""
        ...

    def deliver_all(
        self,
        dataset_id: str,
        subscription_ids: Sequence[str] | None = None,
        watch: Callable[[str], AbstractContextManager[dict[str, Any]]] | None = None,
    ) -> dict[str, DeliverReport | Exception]:
        """Deliver to several subscriptions of a dataset, each staged piece read once; a
        subscription's failure is returned in its place (see `exchange.run.fanout`)."""
        ...

    def commit(self, dataset_id: str) -> CommitReport:
        """Commit the stages every subscription has received."""
        ...
