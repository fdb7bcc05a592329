"""The bus: the one object that composes catalog, state, keys, ledger, connectors and the steps.

`Bus.open()` is what the command line, the DAG tasks and the tests use. It is the
composition root: it opens the catalog, the state database (migrated), the keystore,
the ledger and the consent register, and makes each dataset's source and each
subscription's sink from the catalog's settings. The steps themselves live in
`exchange.run` and depend only on the `StepContext` protocol that `Bus` satisfies;
`Bus.stage / deliver / commit / run` hold the step's lock, record it in the run
history and call it.

Each step is idempotent, so a retry after a crash anywhere has exactly-once effect.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
from sqlalchemy.engine import Engine

import audit
import connectors
import consent
from exchange import state
from exchange.catalog import Catalog, Dataset, Subscription, expand_settings, load_catalog
from exchange.ops.pandas_on_demand import load_pandas_on_demand
from exchange.ops.process_memory import tune_process_memory
from exchange.run import (
    CommitReport,
    DatasetRun,
    DeliverReport,
    Hooks,
    StageReport,
    StagingArea,
    commit_dataset,
    deliver_fanout,
    deliver_subscription,
    record_catalog_change,
    recorded,
    run_datasets,
    stage_dataset,
)
from exchange.run.disclosure import assess as assess_disclosure
from exchange.state import Settings
from exchange.subscriptions.merge import with_requested

log = logging.getLogger("govbus.exchange")

__all__ = ["Bus", "Hooks"]


@dataclass
class Bus:
    """The composed bus (see the module docstring); close it when done."""

    settings: Settings
    catalog: Catalog
    engine: Engine
    keys: consent.KeyStore
    ledger: audit.Ledger
    register: consent.ConsentRegister
    hooks: Hooks = field(default_factory=Hooks)

    @classmethod
    def open(cls, settings: Settings | None = None, *, catalog: Catalog | None = None) -> Bus:
        """Compose a bus from settings (default: the environment) and the catalog they name.

        The catalog is read with the verdicts of its contracts' schema checks kept in the
        home (`exchange.catalog.lint_cache`): an unchanged contract is not tried against
        its schema at every command, a changed one is checked in full.
        """
        tune_process_memory()  # before the bus starts a thread (exchange.ops.process_memory)
        load_pandas_on_demand()  # no pandas for pyarrow (exchange.ops.pandas_on_demand)
        settings = settings or Settings.from_env()
        settings.ensure_dirs()
        catalog = catalog or load_catalog(settings.catalog_dir, home=settings.home)
        engine = state.make_engine(settings.state_url)
        state.init_state(engine)
        with engine.connect() as conn:  # approved requests are subscriptions too
            with_requested(catalog, conn)
        keys = consent.KeyStore(settings.keys_dir)
        signing_key, key_id = keys.signing_key()
        origin = audit.load_witness_policy(catalog.root).origin  # catalog/ledger.yaml
        ledger = audit.Ledger(signing_key, key_id, keys.public_keys(), origin=origin)
        register = consent.ConsentRegister(keys.audit_key(), ledger=ledger)
        return cls(settings, catalog, engine, keys, ledger, register)

    def close(self) -> None:
        """Release the state database's connections."""
        self.engine.dispose()

    @functools.cached_property
    def staging(self) -> StagingArea:
        """Where staged segments are written, read and deleted (see exchange.run.staging)."""
        return StagingArea(self.settings.staging_url, self.settings.staging_dir)

    # -- connectors -----------------------------------------------------------------

    def environment(self) -> dict[str, str]:
        """What `${VARS}` in connector settings expand from: the process env plus GOVBUS_HOME."""
        env = dict(os.environ)
        env["GOVBUS_HOME"] = str(self.settings.home)
        return env

    def source_for(self, dataset: Dataset) -> connectors.Source:
        """The dataset's source connector, its settings expanded from the environment."""
        contract = dataset.contract
        where = f"{contract.path}: source"
        # ${DATASET_DIR} lets a source name files kept next to its contract (a copybook).
        env = {**self.environment(), "DATASET_DIR": str(dataset.directory)}
        settings = expand_settings(contract.source, env=env, where=where)
        return connectors.make_source(
            settings, key_fields=contract.key_fields, cursor_field=contract.cursor_field
        )

    def sink_for(self, sub: Subscription, schema: pa.Schema) -> connectors.Sink:
        """The subscription's sink for batches of `schema` (keys: the dataset's, where delivered)."""
        settings = expand_settings(sub.sink, env=self.environment(), where=f"{sub.file}: sink")
        key_fields = tuple(
            k for k in self.catalog.dataset(sub.dataset).contract.key_fields if k in schema.names
        )
        return connectors.make_sink(settings, key_fields=key_fields, schema=schema)

    # -- steps ----------------------------------------------------------------------

    def stage(self, dataset_id: str) -> StageReport:
        """Step 1: read what changed since the committed cursor, check it, stage it."""
        with self.locked(f"stage:{dataset_id}"), self.recorded(dataset_id, "stage") as counts:
            record_catalog_change(self)  # a run starts here: the ledger notes a changed catalog first
            report = stage_dataset(self, dataset_id)
            counts.update(report.counts())
        return report

    def deliver(self, dataset_id: str, subscription_id: str) -> DeliverReport:
        """Step 2, for one subscription: decide, minimize, protect, write, log."""
        sub = self.catalog.subscriptions[subscription_id]
        with (
            self.locked(f"deliver:{subscription_id}"),
            self.recorded(dataset_id, "deliver", subscription_id) as counts,
        ):
            report = deliver_subscription(self, sub)
            counts.update(report.counts())
        return report

    def deliver_all(
        self,
        dataset_id: str,
        subscription_ids: Sequence[str] | None = None,
        watch: Callable[[str], AbstractContextManager[dict[str, Any]]] | None = None,
    ) -> dict[str, DeliverReport | Exception]:
        """Step 2 for several subscriptions of one dataset (default: all), each staged piece read once.

        Each subscription is held, recorded and failed on its own, as `deliver` does for one
        (`exchange.run.fanout`): a failure is returned in its place, not raised. `watch(id)`,
        if given, is entered around each one too and receives its counts (the runner's
        lineage events).
        """
        if subscription_ids is None:
            subscription_ids = [s.id for s in self.catalog.subscriptions_for(dataset_id)]
        subs = [self.catalog.subscriptions[s] for s in subscription_ids]

        @contextmanager
        def guard(sub: Subscription) -> Iterator[dict[str, Any]]:
            with (
                self.locked(f"deliver:{sub.id}"),
                self.recorded(dataset_id, "deliver", sub.id) as counts,
                watch(sub.id) if watch is not None else nullcontext({}) as seen,
            ):
                yield counts
                seen.update(counts)

        return deliver_fanout(self, subs, guard)

    def commit(self, dataset_id: str) -> CommitReport:
        """Step 3: the cursor of every stage all subscriptions have becomes the committed one."""
        with self.locked(f"commit:{dataset_id}"), self.recorded(dataset_id, "commit") as counts:
            report = commit_dataset(self, dataset_id)
            counts.update(report.counts())
        return report

    def run(self, dataset_ids: list[str] | None = None) -> list[DatasetRun]:
        """Stage, deliver to every subscription, commit — for each dataset, in order.

        A failing subscription is recorded and skipped: the others still get their data
        and the stage waits, uncommitted, for the failed one's retry.
        """
        return run_datasets(self, dataset_ids)

    def locked(self, name: str) -> AbstractContextManager[None]:
        """Hold the named step lock (see `exchange.state.locks`) so no two workers run the step at once."""
        return state.exclusive(
            self.engine, self.settings.home / "locks", name, timeout=self.settings.lock_timeout
        )

    def recorded(
        self, dataset_id: str, step: str, subscription_id: str | None = None
    ) -> AbstractContextManager[dict[str, Any]]:
        """Record a step in `runs` (see `exchange.run.history`)."""
        return recorded(self.engine, dataset_id, step, subscription_id)

    def disclosure_refusal(self, sub: Subscription) -> tuple[str, ...]:
        """Why `sub`'s would-be delivery breaks its disclosure policy (see `exchange.run.disclosure`)."""
        if sub.disclosure is None:
            return ()
        return assess_disclosure(self, sub).problems

    def progress(self, event: str, rows: int) -> None:
        """Pass progress (rows read, staged, delivered) to the hook, if one listens."""
        if self.hooks.progress is not None:
            self.hooks.progress(event, rows)
