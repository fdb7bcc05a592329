"""A contract's expectations as a Great Expectations 1.x ExpectationSuite (JSON).

`gx_suite(contract)` gives the suite as GX serializes it (`name`, `id`, `expectations`
with `type`/`kwargs`/`meta`, `meta`, `notes`), so GX loads it with
`ExpectationSuite(**suite)` and a team already on GX can run the same rules there. Each
expectation's `meta.govbus` says where it comes from (contract and line). The SLA's
volume becomes `expect_table_row_count_to_be_between` (GX checks it per batch; GovBus per
run); freshness has no GX expectation and is kept in the suite's `meta.govbus.sla`. GovBus's
own expectations (the referential `expect_column_values_to_be_in_dataset_keys`) are not
GX types, so they go to `meta.govbus.not_in_gx` instead of `expectations`.

GX is not imported here (it is slow to import); the format is GX's own, tested against
GX in `tests/contracts`.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from importlib import metadata
from typing import Any

from contracts.expectations import SUPPORTED_EXPECTATIONS
from contracts.model import Contract


def jsonable(value: Any) -> Any:
    """A contract constant as GX's JSON writes it (dates as ISO text, decimals as numbers)."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, dt.date | dt.datetime | dt.time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value) if value != value.to_integral_value() else int(value)
    return value


def gx_version() -> str:
    """The installed GX's version, for the `great_expectations_version` GX files carry."""
    try:
        return metadata.version("great_expectations")
    except metadata.PackageNotFoundError:
        return "1"


def gx_suite(contract: Contract) -> dict[str, Any]:
    """The contract's suite as a JSON-ready dict in GX 1.x's format."""
    source = str(contract.path) if contract.path is not None else contract.id
    expectations = []
    own: list[dict[str, Any]] = []  # GovBus's own expectations: GX would refuse their type
    for expectation in contract.expectations:
        meta = dict(expectation.meta or {})
        meta["govbus"] = {"contract": contract.id, "source": source, "line": expectation.line}
        exported = {
            "type": expectation.type,
            "kwargs": jsonable(dict(expectation.kwargs)),
            "meta": jsonable(meta),
        }
        compiler = SUPPORTED_EXPECTATIONS.get(expectation.type)
        (expectations if compiler is None or compiler.in_gx else own).append(exported)
    sla = contract.sla
    if sla.min_rows is not None or sla.max_rows is not None:
        expectations.append(
            {
                "type": "expect_table_row_count_to_be_between",
                "kwargs": {
                    k: v
                    for k, v in (("min_value", sla.min_rows), ("max_value", sla.max_rows))
                    if v is not None
                },
                "meta": {"govbus": {"contract": contract.id, "from": "sla.volume", "per": "run"}},
            }
        )
    return {
        "name": f"{contract.id}@{contract.version}",
        "id": None,
        "expectations": expectations,
        "meta": {
            "great_expectations_version": gx_version(),
            "govbus": {
                "contract": contract.id,
                "version": contract.version,
                "owner": contract.owner,
                "key_fields": list(contract.key_fields),
                "sla": {"freshness": sla.freshness_text, "on_breach": sla.on_breach},
                "not_in_gx": own,
            },
        },
        "notes": contract.description or None,
    }


def gx_suite_json(contract: Contract) -> str:
    """`gx_suite` as indented JSON text (what `govbus contract export-gx` writes)."""
    return json.dumps(gx_suite(contract), indent=2, ensure_ascii=False) + "\n"
