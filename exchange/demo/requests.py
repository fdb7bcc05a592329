"""The sample's access requests: one approved (and then loaded), one refused by the rules.

After the first run of a freshly seeded sample, `govbus demo` shows the agencies' journey:
the Statistics Office asks for regional incomes from the Tax Authority under its statute,
the Tax Authority approves, and the next run delivers the dataset's history to it (its
initial load); the Housing Agency asks for income returns under the Benefits Agency's
statute and is refused at once, with the rule that refused it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from exchange.subscriptions import decisions, requests
from govbus.errors import BadInput

if TYPE_CHECKING:
    from exchange.bus import Bus

__all__ = ["APPROVED_ID", "DemoRequests", "make_requests"]

APPROVED_ID = "statistics.regional-income"

APPROVED = requests.RequestSpec(
    agency="statistics",
    dataset="tax.income",
    purpose="OFFICIAL_STATISTICS",
    statute="STAT-7",
    fields=("tax_year", "municipality_code", "gross_income"),
    sink={"connector": "parquet", "directory": "${GOVBUS_HOME}/agencies/statistics/inbox/regional-income"},
    id=APPROVED_ID,
    # Regional tables need no person: no pseudonym, which would tie a person's returns
    # together and single people out (the purpose's disclosure policy refuses that).
    pseudonymize_subject=False,
    note="Regional income tables for the annual report",
    requested_by="statistics: income statistics unit",
)
REFUSED = requests.RequestSpec(
    agency="housing",
    dataset="tax.income",
    purpose="HOUSING_ALLOWANCE",
    statute="SBA-12",  # the Social Benefits Act names the Benefits Agency, not Housing
    fields=("return_id", "national_id", "gross_income"),
    sink={
        "connector": "sql",
        "url": "sqlite:///${GOVBUS_HOME}/agencies/housing/housing.db",
        "table": "asked",
    },
    id="housing.tax-income-statute",
    requested_by="housing: allowance desk",
)


@dataclass(frozen=True)
class DemoRequests:
    """What happened to the two requests: the approved one's id and the refusal's reasons."""

    approved: str | None
    refused: list[str]


def make_requests(bus: Bus) -> DemoRequests:
    """Ask, approve and refuse as in the module docstring; nothing when done before."""
    with bus.engine.connect() as conn:
        if requests.read_request(conn, APPROVED_ID) is not None:
            return DemoRequests(None, [])
    requests.submit(bus, APPROVED)
    try:
        decisions.decide(
            bus,
            APPROVED_ID,
            decision="approve",
            role=decisions.OWNER,
            agency="tax",
            by="tax: data protection desk",
            reason="covered by the Official Statistics Act, section 7",
        )
    except BadInput as refused:  # a sample too small for the purpose's disclosure policy
        return DemoRequests(None, [refused.message])
    with bus.engine.connect() as conn:
        from exchange.subscriptions.merge import with_requested

        with_requested(bus.catalog, conn)
    try:
        requests.submit(bus, REFUSED)
    except requests.RequestRefused as refused:
        return DemoRequests(APPROVED_ID, [f"{p.field}: {p.message}" for p in refused.problems])
    raise AssertionError("the sample's refused request was accepted")  # the rules changed
