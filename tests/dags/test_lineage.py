"""What each step tells OpenLineage, for every dataset and subscription of the catalog."""

from __future__ import annotations

import pytest
from openlineage.client.serde import Serde

from exchange.catalog.loader import load_catalog
from exchange.orchestration.lineage import NAMESPACE, step_lineage
from tests.conftest import CATALOG

CAT = load_catalog(CATALOG)


@pytest.mark.parametrize("dataset_id", sorted(CAT.datasets))
def test_every_step_reads_the_dataset_and_deliveries_write_one_recipient_each(dataset_id):
    for step in ("stage", "commit", "freshness"):
        found = step_lineage(step, dataset_id, catalog=CAT)
        assert [(d.namespace, d.name) for d in found.inputs] == [(NAMESPACE, dataset_id)]
        assert found.run_facets["govbus"].step == step
    subs = CAT.subscriptions_for(dataset_id)
    committed = step_lineage("commit", dataset_id, catalog=CAT)
    assert [d.name for d in committed.outputs] == [f"{dataset_id}/{s.agency}" for s in subs]
    for sub in subs:
        found = step_lineage("deliver", dataset_id, sub.id, {"rows_delivered": 7, "batches": 1}, catalog=CAT)
        (output,) = found.outputs
        assert output.name == f"{dataset_id}/{sub.agency}"
        assert output.outputFacets["outputStatistics"].rowCount == 7
        schema = [f.name for f in output.facets["schema"].fields]
        assert set(sub.fields) <= set(schema)  # what the purpose allows, no more
        assert set(schema) - set(sub.fields) <= {"subject_pseudonym"}
        facet = found.run_facets["govbus"]
        assert (facet.recipient, facet.purpose, facet.legalBasis) == (sub.agency, sub.purpose, sub.basis)


def test_events_hold_no_connector_settings_or_unlisted_counts():
    dataset = CAT.dataset("tax.income")
    counts = {"rows_read": 10, "stage_id": "tax.income.000001.abc123", "sample_row": {"national_id": "x"}}
    text = Serde.to_json(step_lineage("stage", "tax.income", counts=counts, catalog=CAT).run_facets["govbus"])
    assert "sample_row" not in text  # only the counts the facet knows to be free of data
    everything = "".join(Serde.to_json(d) for d in step_lineage("commit", "tax.income", catalog=CAT).inputs)
    urls = [v for v in dataset.contract.source.values() if isinstance(v, str) and "/" in v]
    assert urls  # the source's URL, a setting that may name hosts and files
    for value in urls:
        assert value not in everything
    assert "income_returns" not in everything


def test_unknown_step_is_refused():
    with pytest.raises(ValueError, match="unknown step"):
        step_lineage("purge", "tax.income", catalog=CAT)
