"""Each run's validation report: GX-shaped JSON and a static HTML page, counts only.

After every stage (and every replay) the exchange writes, for run id = the stage id,

    GOVBUS_HOME/reports/<dataset>/<run>.json   GX's ExpectationSuiteValidationResult
    GOVBUS_HOME/reports/<dataset>/<run>.html   the same, as a page (exchange.quarantine.reports_html)

built from the run's totals only (`contracts.StageValidation`, `contracts.validation_result`):
expectations, verdicts, unexpected counts and percentages, conform problems by reason,
the SLA verdicts. GX would list unexpected values; these reports never do, since they
are personal data. A run whose SLA fails it still gets its report (its stage is then
discarded and read again by the retry, which gets its own). Files are written whole
(temporary file, then rename), so a reader never sees half a report.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import contracts
from exchange.quarantine.reports_html import render
from govbus.errors import BadInput

if TYPE_CHECKING:
    from exchange.ctx import QuarantineContext
    from exchange.state.settings import Settings

_RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")


def reports_dir(settings: Settings, dataset_id: str) -> Path:
    """Where a dataset's validation reports live."""
    return settings.home / "reports" / dataset_id


def write_validation_report(
    ctx: QuarantineContext,
    dataset_id: str,
    run_id: str,
    validation: contracts.StageValidation,
    *,
    rows_quarantined: int,
    rows_unreadable: int,
    sla: list[contracts.SlaResult],
    run_time: dt.datetime,
) -> Path:
    """Write the run's JSON and HTML report; returns the HTML page's path."""
    dataset = ctx.catalog.dataset(dataset_id)
    result = contracts.validation_result(
        dataset.contract,
        run_id,
        validation.results(),
        run_time=run_time,
        rows_read=validation.rows + rows_unreadable,
        rows_quarantined=rows_quarantined,
        rows_unreadable=rows_unreadable,
        conform_issues=validation.conform_issues,
        sla=sla,
        schema_sha256=dataset.schema.fingerprint_sha256,
    )
    folder = reports_dir(ctx.settings, dataset_id)
    folder.mkdir(parents=True, exist_ok=True)
    _write(folder / f"{run_id}.json", json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    page = folder / f"{run_id}.html"
    _write(page, render(result))
    return page


def _write(path: Path, text: str) -> None:
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def find_report(settings: Settings, dataset_id: str, run_id: str | None = None) -> Path:
    """The JSON report of run `run_id` of the dataset, or of its newest run."""
    folder = reports_dir(settings, dataset_id)
    if run_id is not None:
        if not _RUN_ID.match(run_id) or ".." in run_id:
            raise BadInput(
                "a run id is a stage id such as tax.income.000003.1a2b3c",
                where="--run",
                hint="see `govbus status` or the file names under GOVBUS_HOME/reports",
            )
        path = folder / f"{run_id}.json"
        if not path.is_file():
            raise BadInput(
                f"no validation report for run {run_id} of {dataset_id}",
                where=str(folder),
                hint="omit --run for the newest report",
            )
        return path
    found = sorted(folder.glob("*.json"), key=lambda p: (p.stat().st_mtime_ns, p.name))
    if not found:
        raise BadInput(
            f"no validation report for {dataset_id} yet",
            where=str(folder),
            hint=f"run `govbus run {dataset_id}` first",
        )
    return found[-1]


def load_report(path: Path) -> dict[str, Any]:
    """A JSON report as written by `write_validation_report`."""
    with path.open(encoding="utf-8") as handle:
        loaded: dict[str, Any] = json.load(handle)
    return loaded
