"""OpenLineage under Airflow: what the DAG file's operators hand to the provider.

The events are built by `exchange.run.lineage` (`step_lineage`), which `govbus run`
sends too, so both runners describe an exchange alike. The DAG's operators implement
the provider's `get_openlineage_facets_on_start/complete/failure` with `step_lineage`;
the provider adds its own Airflow run and job facets and sends them through the
transport Airflow is configured with.
"""

from __future__ import annotations

from exchange.run.lineage import NAMESPACE, GovBusRunFacet, StepLineage, delivery_name, step_lineage

__all__ = ["NAMESPACE", "GovBusRunFacet", "StepLineage", "delivery_name", "step_lineage"]
