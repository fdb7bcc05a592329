"""The bus: one object that composes catalog, state, keys, ledger and connectors.

`Bus.open()` is what the command line, the DAGs and the tests use. The three steps
live in `stage.py`, `deliver.py` and `commit.py`; `Bus.run` chains them for the local
runner. Each step is idempotent, so a retry after a crash anywhere has exactly-once
effect (DESIGN.md, "One exchange run").
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.engine import Engine

import audit
import connectors
import consent
from exchange import state
from exchange.catalog.loader import Catalog, Dataset, Subscription, expand_settings, load_catalog
from exchange.run.staging import StagingArea
from exchange.state.settings import Settings
from govbus.instants import utc_now

log = logging.getLogger("govbus.exchange")

ProgressFn = Callable[[str, int], None]


@dataclass
class Hooks:
    """Points where tests (and operators' instrumentation) can step in.

    `after_sink_write(batch_id)` runs after a sink has written a batch and before the
    ledger entry and checkpoint commit: the window a crash test aims at.
    """

    after_sink_write: Callable[[str], None] | None = None
    progress: ProgressFn | None = None


@dataclass
class Bus:
    settings: Settings
    catalog: Catalog
    engine: Engine
    keys: consent.KeyStore
    ledger: audit.Ledger
    register: consent.ConsentRegister
    hooks: Hooks = field(default_factory=Hooks)

    @classmethod
    def open(cls, settings: Settings | None = None, *, catalog: Catalog | None = None) -> Bus:
        settings = settings or Settings.from_env()
        settings.ensure_dirs()
        catalog = catalog or load_catalog(settings.catalog_dir)
        engine = state.make_engine(settings.state_url)
        state.init_state(engine)
        keys = consent.KeyStore(settings.keys_dir)
        signing_key, key_id = keys.signing_key()
        ledger = audit.Ledger(signing_key, key_id, keys.public_keys())
        register = consent.ConsentRegister(keys.audit_key(), ledger=ledger)
        return cls(settings, catalog, engine, keys, ledger, register)

    def close(self) -> None:
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
        contract = dataset.contract
        where = f"{contract.path}: source"
        # ${DATASET_DIR} lets a source name files kept next to its contract (a copybook).
        env = {**self.environment(), "DATASET_DIR": str(dataset.directory)}
        settings = expand_settings(contract.source, env=env, where=where)
        return connectors.make_source(
            settings, key_fields=contract.key_fields, cursor_field=contract.cursor_field
        )

    def sink_for(self, sub: Subscription, schema: pa.Schema) -> connectors.Sink:
        settings = expand_settings(sub.sink, env=self.environment(), where=f"{sub.file}: sink")
        key_fields = tuple(
            k for k in self.catalog.dataset(sub.dataset).contract.key_fields if k in schema.names
        )
        return connectors.make_sink(settings, key_fields=key_fields, schema=schema)

    # -- steps ----------------------------------------------------------------------

    def stage(self, dataset_id: str) -> Any:
        from exchange.run.catalog_changes import record_catalog_change
        from exchange.run.stage import stage_dataset

        with self.locked(f"stage:{dataset_id}"), self.recorded(dataset_id, "stage") as counts:
            record_catalog_change(self)  # a run starts here: the ledger notes a changed catalog first
            report = stage_dataset(self, dataset_id)
            counts.update(report.counts())
        return report

    def deliver(self, dataset_id: str, subscription_id: str) -> Any:
        from exchange.run.deliver import deliver_subscription

        sub = self.catalog.subscriptions[subscription_id]
        with (
            self.locked(f"deliver:{subscription_id}"),
            self.recorded(dataset_id, "deliver", subscription_id) as counts,
        ):
            report = deliver_subscription(self, sub)
            counts.update(report.counts())
        return report

    def commit(self, dataset_id: str) -> Any:
        from exchange.run.commit import commit_dataset

        with self.locked(f"commit:{dataset_id}"), self.recorded(dataset_id, "commit") as counts:
            report = commit_dataset(self, dataset_id)
            counts.update(report.counts())
        return report

    def run(self, dataset_ids: list[str] | None = None) -> list[Any]:
        """Stage, deliver to every subscription, commit — for each dataset, in order.

        A failing subscription is recorded and skipped: the others still get their data
        and the stage waits, uncommitted, for the failed one's retry.
        """
        from exchange.run.runner import run_datasets

        return run_datasets(self, dataset_ids)

    def locked(self, name: str) -> Any:
        """Hold the named step lock (see `exchange.state.locks`) so no two workers run the step at once."""
        from exchange.state.locks import exclusive

        return exclusive(self.engine, self.settings.home / "locks", name, timeout=self.settings.lock_timeout)

    # -- run history ------------------------------------------------------------------

    @contextmanager
    def recorded(
        self, dataset_id: str, step: str, subscription_id: str | None = None
    ) -> Iterator[dict[str, Any]]:
        """Record a step in `runs`: status, counts, duration, and the error class if it fails.

        The stored error is the exception's class and GovBus message: GovBus messages
        carry no data values by construction.
        """
        counts: dict[str, Any] = {}
        with self.engine.begin() as conn:
            run_id = conn.execute(
                sa.insert(state.runs).values(
                    dataset=dataset_id,
                    step=step,
                    subscription_id=subscription_id,
                    status="running",
                    started_at=utc_now(),
                )
            ).inserted_primary_key[0]
        try:
            yield counts
        except BaseException as exc:
            from govbus.errors import GovBusError

            error = str(exc) if isinstance(exc, GovBusError) else type(exc).__name__
            self._finish_run(run_id, "failed", counts, error)
            raise
        self._finish_run(run_id, "ok", counts, None)

    def _finish_run(self, run_id: int, status: str, counts: dict[str, Any], error: str | None) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                sa.update(state.runs)
                .where(state.runs.c.run_id == run_id)
                .values(status=status, finished_at=utc_now(), counts=counts, error=error)
            )

    def progress(self, event: str, rows: int) -> None:
        if self.hooks.progress is not None:
            self.hooks.progress(event, rows)
