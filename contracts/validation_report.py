"""A run's validation as Great Expectations writes one: an ExpectationSuiteValidationResult.

`validation_result(...)` turns `StageValidation.results()` into the JSON GX 1.x writes
for a suite run (`success`, `results` with `expectation_config`/`result`/`exception_info`,
`suite_name`, `statistics`, `meta` with `run_id`), so GX's own schema loads it
(`ExpectationSuiteValidationResultSchema().load`, tested).

Counts only. GX's `partial_unexpected_list`, `partial_unexpected_counts` and index lists
would carry the unexpected values, which here are personal data: they are left out, as
is everything else that could hold a value. What a run adds that GX has no field for
(rows read and quarantined, conform problems by reason, the SLA verdicts, the schema
fingerprint) is under `meta.govbus`. GovBus's own expectations (the referential one) are
in `results` like the others; GX loads a configuration of a type it does not know.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from contracts.gx_export import gx_version, jsonable
from contracts.model import Contract
from contracts.sla import SlaResult
from contracts.stage_validation import RunResult

_NO_EXCEPTION = {"raised_exception": False, "exception_traceback": None, "exception_message": None}


def _percent(part: int, whole: int) -> float | None:
    return 100.0 * part / whole if whole else None


def _result(run: RunResult) -> dict[str, Any]:
    if run.level == "batch":
        return {"observed_value": run.observed_value}
    missing = run.element_count - run.considered
    return {
        "element_count": run.element_count,
        "unexpected_count": run.unexpected_count,
        "unexpected_percent": _percent(run.unexpected_count, run.considered),
        "missing_count": missing,
        "missing_percent": _percent(missing, run.element_count),
        "unexpected_percent_total": _percent(run.unexpected_count, run.element_count),
        "unexpected_percent_nonmissing": _percent(run.unexpected_count, run.considered),
    }


def validation_result(
    contract: Contract,
    run_id: str,
    results: Sequence[RunResult],
    *,
    run_time: dt.datetime,
    rows_read: int,
    rows_quarantined: int,
    conform_issues: Mapping[str, int],
    rows_unreadable: int = 0,
    sla: Sequence[SlaResult] = (),
    schema_sha256: str | None = None,
) -> dict[str, Any]:
    """The run's validation result as a JSON-ready dict in GX 1.x's format (module doc)."""
    source = str(contract.path) if contract.path is not None else contract.id
    entries = []
    for run in results:
        meta = dict(run.expectation.meta or {})
        meta["govbus"] = {"contract": contract.id, "source": source, "line": run.expectation.line}
        entries.append(
            {
                "success": run.success,
                "expectation_config": {
                    "type": run.expectation.type,
                    "kwargs": jsonable(dict(run.expectation.kwargs)),
                    "meta": jsonable(meta),
                },
                "result": _result(run),
                "meta": {"govbus": {"reason": run.reason}},
                "exception_info": dict(_NO_EXCEPTION),
            }
        )
    passed = sum(1 for run in results if run.success)
    when = run_time.astimezone(dt.UTC).isoformat()
    return {
        "success": passed == len(results),
        "results": entries,
        "suite_name": f"{contract.id}@{contract.version}",
        "suite_parameters": {},
        "statistics": {
            "evaluated_expectations": len(results),
            "successful_expectations": passed,
            "unsuccessful_expectations": len(results) - passed,
            "success_percent": _percent(passed, len(results)) if results else 100.0,
        },
        "meta": {
            "great_expectations_version": gx_version(),
            "run_id": {"run_name": run_id, "run_time": when},
            "validation_time": when,
            "govbus": {
                "dataset": contract.id,
                "contract_version": contract.version,
                "run": run_id,
                "schema_sha256": schema_sha256,
                "rows_read": rows_read,
                "rows_quarantined": rows_quarantined,
                "rows_unreadable": rows_unreadable,
                "conform_issues": [
                    {"reason": reason, "rows": rows} for reason, rows in sorted(conform_issues.items())
                ],
                "sla": [
                    {"rule": r.rule, "ok": r.ok, "message": r.message, "fails_run": r.fails_run} for r in sla
                ],
                "values": "none: counts and rules only, never a record's value",
            },
        },
        "id": None,
    }
