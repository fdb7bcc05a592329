"""OpenLineage's view of an exchange: what each step reads and writes, and its counts.

Both runners describe their steps with `step_lineage`: under Airflow the DAG file's
operators hand it to the OpenLineage provider (`exchange.orchestration.lineage`), and
`govbus run` sends it itself (`StepEvents`, through the transport the settings name;
`exchange.ops.LineageSender`). So a lineage backend sees the same events whichever
runner moved the data. Dataset names follow the Airflow Assets the deliveries update,
so a lineage backend sees one dataset per delivery:

    namespace `govbus`, name `tax.income`            the source dataset (its owner's system)
    namespace `govbus`, name `tax.income/benefits`   what the Social Benefits Agency received
                                                     (the Asset `govbus://tax.income/benefits`)

stage reads the source dataset; each deliver reads it and writes one recipient's
delivery; commit closes the exchange (every delivery as output). Facets carry names,
types, classifications, agencies, purposes, legal bases and counts: never a data
value, a subject identifier, a connector setting or a path.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import attr
from openlineage.client.event_v2 import InputDataset, OutputDataset
from openlineage.client.facet_v2 import (
    DatasetFacet,
    RunFacet,
    documentation_dataset,
    input_statistics_input_dataset,
    output_statistics_output_dataset,
    ownership_dataset,
    schema_dataset,
    tags_dataset,
)

from exchange import state
from exchange.catalog.loader import Catalog, Dataset, Subscription, load_catalog
from exchange.ops import LineageSender, LineageSettings
from exchange.run.deliver import delivered_schema
from exchange.state.settings import Settings
from exchange.subscriptions.merge import with_requested

NAMESPACE = "govbus"
STEPS = ("stage", "deliver", "commit", "freshness")
# The counts a run facet may carry: numbers, ids and messages that hold no data value.
_SAFE_COUNTS = (
    "stage_id",
    "rows_read",
    "rows_staged",
    "rows_quarantined",
    "segments",
    "sla_breaches",
    "batches",
    "rows_delivered",
    "rows_denied",
    "denials",
    "committed",
    "waiting",
    "freshness",
    "ok",
)


@attr.define
class GovBusRunFacet(RunFacet):
    """The `govbus` run facet: which step of which exchange, and what it counted."""

    step: str
    dataset: str
    owner: str
    subscription: str | None = attr.field(default=None)
    recipient: str | None = attr.field(default=None)
    purpose: str | None = attr.field(default=None)
    legalBasis: str | None = attr.field(default=None)  # camelCase: OpenLineage's spelling
    counts: dict[str, Any] = attr.field(factory=dict)

    @staticmethod
    def _get_schema() -> str:
        return "https://govbus.invalid/spec/facets/1-0-0/GovBusRunFacet.json#/$defs/GovBusRunFacet"


@dataclass
class StepLineage:
    """Inputs, outputs and run facets of one step, as the OpenLineage client's objects."""

    inputs: list[InputDataset] = field(default_factory=list)
    outputs: list[OutputDataset] = field(default_factory=list)
    run_facets: dict[str, RunFacet] = field(default_factory=dict)


def delivery_name(dataset_id: str, recipient: str) -> str:
    """The OpenLineage dataset name of what `recipient` receives of `dataset_id`."""
    return f"{dataset_id}/{recipient}"


def step_lineage(
    step: str,
    dataset_id: str,
    subscription_id: str | None = None,
    counts: Mapping[str, Any] | None = None,
    *,
    catalog: Catalog | None = None,
) -> StepLineage:
    """What `step` of `dataset_id`'s exchange reads and writes; `counts` as the step returned them.

    Reads the catalog's files (from the environment unless given). Without a given
    catalog, a commit, and a deliver of a subscription the files do not declare, also
    read the requests approved in the state database: requested subscriptions are
    delivered and committed too. The operators call this around `execute`, at run time,
    never while Airflow parses the DAG file.
    """
    if step not in STEPS:
        raise ValueError(f"unknown step {step!r}; known: {', '.join(STEPS)}")
    if catalog is None:
        catalog = load_catalog(Settings.from_env().catalog_dir)
        if step == "commit" or (subscription_id and subscription_id not in catalog.subscriptions):
            catalog = _with_requests(catalog)
    dataset = catalog.dataset(dataset_id)
    counts = counts or {}
    sub = catalog.subscriptions[subscription_id] if subscription_id else None
    source = _source_dataset(dataset, counts if step == "stage" else None)
    if step == "deliver" and sub is not None:
        outputs = [_delivery_dataset(dataset, sub, counts)]
    elif step == "commit":
        # One output per recipient: an agency may hold a catalog and a requested subscription.
        by_recipient: dict[str, Subscription] = {}
        for s in catalog.subscriptions_for(dataset_id):
            by_recipient.setdefault(s.agency, s)
        outputs = [_delivery_dataset(dataset, s, None) for s in by_recipient.values()]
    else:
        outputs = []
    facet = GovBusRunFacet(
        step=step,
        dataset=dataset_id,
        owner=dataset.contract.owner,
        subscription=sub.id if sub else None,
        recipient=sub.agency if sub else None,
        purpose=sub.purpose if sub else None,
        legalBasis=sub.basis if sub else None,
        counts={k: counts[k] for k in _SAFE_COUNTS if k in counts},
    )
    return StepLineage(inputs=[source], outputs=outputs, run_facets={"govbus": facet})


def _with_requests(catalog: Catalog) -> Catalog:
    """The catalog with the approved requests among its subscriptions (as `Bus.open` has it)."""
    engine = state.make_engine(Settings.from_env().state_url)
    try:
        with engine.connect() as conn:
            return with_requested(catalog, conn)
    finally:
        engine.dispose()


def _source_dataset(dataset: Dataset, counts: Mapping[str, Any] | None) -> InputDataset:
    contract = dataset.contract
    arrow = dataset.schema.arrow
    facets: dict[str, DatasetFacet] = {
        "schema": _schema_facet(arrow),
        "documentation": documentation_dataset.DocumentationDatasetFacet(description=contract.description),
        "ownership": ownership_dataset.OwnershipDatasetFacet(
            owners=[ownership_dataset.Owner(name=f"agency:{contract.owner}", type="DATA_OWNER")]
        ),
        "tags": tags_dataset.TagsDatasetFacet(
            tags=[
                tags_dataset.TagsDatasetFacetFields(
                    key="classification", value=spec.classification, source="GOVBUS", field=name
                )
                for name, spec in contract.fields.items()
            ]
        ),
    }
    input_facets = {}
    if counts and "rows_read" in counts:
        statistics = input_statistics_input_dataset.InputStatisticsInputDatasetFacet
        input_facets["inputStatistics"] = statistics(rowCount=int(counts["rows_read"]))
    return InputDataset(NAMESPACE, dataset.id, facets=facets, inputFacets=input_facets)


def _delivery_dataset(dataset: Dataset, sub: Subscription, counts: Mapping[str, Any] | None) -> OutputDataset:
    facets: dict[str, DatasetFacet] = {
        "schema": _schema_facet(delivered_schema(dataset, sub)),
        "ownership": ownership_dataset.OwnershipDatasetFacet(
            owners=[ownership_dataset.Owner(name=f"agency:{sub.agency}", type="RECIPIENT")]
        ),
    }
    output_facets = {}
    if counts and "rows_delivered" in counts:
        statistics = output_statistics_output_dataset.OutputStatisticsOutputDatasetFacet
        output_facets["outputStatistics"] = statistics(rowCount=int(counts["rows_delivered"]))
    name = delivery_name(dataset.id, sub.agency)
    return OutputDataset(NAMESPACE, name, facets=facets, outputFacets=output_facets)


def _schema_facet(arrow: Any) -> schema_dataset.SchemaDatasetFacet:
    return schema_dataset.SchemaDatasetFacet(
        fields=[schema_dataset.SchemaDatasetFacetFields(name=f.name, type=str(f.type)) for f in arrow]
    )


class StepEvents:
    """START, then COMPLETE or FAIL, of each step `govbus run` runs, as the DAG's tasks send them.

    Off (nothing built, nothing sent) unless a transport is configured. Job names are
    Airflow's for the same task: `<dataset>.<step>`.
    """

    def __init__(self, catalog: Catalog, sender: LineageSender | None = None) -> None:
        self.catalog = catalog
        self.sender = sender or LineageSender(LineageSettings.from_env())

    @contextmanager
    def step(
        self, step: str, dataset_id: str, subscription_id: str | None = None
    ) -> Iterator[dict[str, Any]]:
        """Around one step: the caller fills the yielded counts; an exception sends FAIL and goes on up."""
        counts: dict[str, Any] = {}
        if not self.sender.enabled:
            yield counts
            return
        run_id, job = self.sender.new_run_id(), f"{dataset_id}.{step}"
        self.sender.send("START", job, run_id, self._describe(step, dataset_id, subscription_id, None))
        try:
            yield counts
        except BaseException:
            self.sender.send("FAIL", job, run_id, self._describe(step, dataset_id, subscription_id, counts))
            raise
        self.sender.send("COMPLETE", job, run_id, self._describe(step, dataset_id, subscription_id, counts))

    def _describe(
        self, step: str, dataset_id: str, subscription_id: str | None, counts: Mapping[str, Any] | None
    ) -> StepLineage:
        return step_lineage(step, dataset_id, subscription_id, counts, catalog=self.catalog)


__all__ = ["NAMESPACE", "GovBusRunFacet", "StepEvents", "StepLineage", "delivery_name", "step_lineage"]
