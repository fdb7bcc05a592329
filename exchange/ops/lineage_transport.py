"""Sending OpenLineage events outside Airflow: the transport an operator chose, and the events.

Under Airflow the OpenLineage provider sends what each task describes. `govbus run`
has no provider, so it sends the same events itself through the client this module
builds from settings:

* `GOVBUS_LINEAGE_TRANSPORT`: openlineage-python's transport configuration as JSON,
  the same text as Airflow's `AIRFLOW__OPENLINEAGE__TRANSPORT` (which is read when this
  one is unset, so one setting serves both runners). Types: `file`, `http`, `console`.
* `GOVBUS_LINEAGE_NAMESPACE`: the jobs' namespace (else `AIRFLOW__OPENLINEAGE__NAMESPACE`,
  else `default`, the provider's default), so both runners name their jobs alike.

Jobs are named as Airflow names a task's: `<dataset>.<step>` (`tax.income.deliver`).
With no transport configured nothing is built or sent (nor when Airflow's setting names
another kind of transport: `govbus run` then logs that it sends none). A transport that
fails is logged (type only) and never fails the step it describes.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from govbus.errors import BadConfiguration

__all__ = ["TRANSPORTS", "LineageSender", "LineageSettings", "StepDescription"]

log = logging.getLogger("govbus.lineage")

TRANSPORTS = ("file", "http", "console")
PRODUCER = "https://govbus.invalid/producer/govbus"


class StepDescription(Protocol):
    """What a step read and wrote (exchange.run.lineage's `StepLineage` is one)."""

    inputs: list[Any]
    outputs: list[Any]
    run_facets: dict[str, Any]


@dataclass(frozen=True)
class LineageSettings:
    """The transport configuration (None: off) and the job namespace."""

    transport: Mapping[str, Any] | None
    namespace: str

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> LineageSettings:
        """GOVBUS_LINEAGE_TRANSPORT / _NAMESPACE, else Airflow's OpenLineage settings (checked)."""
        env = os.environ if env is None else env
        name = "GOVBUS_LINEAGE_TRANSPORT"
        text = env.get(name, "").strip()
        if not text:
            name = "AIRFLOW__OPENLINEAGE__TRANSPORT"
            text = env.get(name, "").strip()
            if env.get("AIRFLOW__OPENLINEAGE__DISABLED", "").strip().lower() == "true":
                text = ""
        namespace = (
            env.get("GOVBUS_LINEAGE_NAMESPACE", "").strip()
            or env.get("AIRFLOW__OPENLINEAGE__NAMESPACE", "").strip()
            or "default"
        )
        if not text:
            return cls(None, namespace)
        try:
            config = json.loads(text)
        except json.JSONDecodeError:
            config = None
        if not isinstance(config, dict) or config.get("type") not in TRANSPORTS:
            if name.startswith("AIRFLOW__"):  # Airflow's own setting may name transports we do not take
                log.warning("%s is not a file, http or console transport: govbus run sends no lineage", name)
                return cls(None, namespace)
            raise BadConfiguration(
                f"is not a JSON object whose type is one of {', '.join(TRANSPORTS)}",
                where=f"environment variable {name}",
                hint='e.g. {"type": "file", "log_file_path": "/var/log/govbus/openlineage.jsonl", '
                '"append": true}',
            )
        return cls(config, namespace)


class LineageSender:
    """Sends START / COMPLETE / FAIL events of steps; does nothing when no transport is set."""

    def __init__(self, settings: LineageSettings) -> None:
        self.settings = settings
        self._client: Any = None

    @property
    def enabled(self) -> bool:
        """True when a transport is configured."""
        return self.settings.transport is not None

    def new_run_id(self) -> str:
        """A run id for one step's events (UUID v7, as the provider uses)."""
        from openlineage.client.uuid import generate_new_uuid

        return str(generate_new_uuid())

    def send(self, event_type: str, job_name: str, run_id: str, found: StepDescription) -> None:
        """Send one event of `job_name`'s run `run_id` (START, COMPLETE or FAIL); never raises."""
        if not self.enabled:
            return
        try:
            from openlineage.client.event_v2 import Job, Run, RunEvent, RunState
            from openlineage.client.facet_v2 import job_type_job

            event = RunEvent(
                eventType=RunState[event_type],
                eventTime=dt.datetime.now(dt.UTC).isoformat(),
                run=Run(runId=run_id, facets=dict(found.run_facets)),
                job=Job(
                    namespace=self.settings.namespace,
                    name=job_name,
                    facets={
                        "jobType": job_type_job.JobTypeJobFacet(
                            processingType="BATCH", integration="GOVBUS", jobType="TASK"
                        )
                    },
                ),
                producer=PRODUCER,
                inputs=list(found.inputs),
                outputs=list(found.outputs),
            )
            self._get_client().emit(event)
        except Exception as exc:  # lineage is a side effect: it never fails the step
            kind = (self.settings.transport or {}).get("type")
            log.warning(
                "OpenLineage event of %s not sent through the %s transport (%s)",
                job_name,
                kind,
                type(exc).__name__,
            )

    def _get_client(self) -> Any:
        if self._client is None:
            from openlineage.client import OpenLineageClient

            self._client = OpenLineageClient(config={"transport": dict(self.settings.transport or {})})
        return self._client
