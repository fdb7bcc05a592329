"""The citizen's access report names what let each recipient receive the data: the owner's
signed decision on a request (with its ledger entry), or the published catalog."""

from __future__ import annotations

from pathlib import Path

import pytest

from exchange import Bus
from exchange.demo import deployment as demo
from exchange.demo import requests as demo_requests
from exchange.portal.citizen import citizen_report
from exchange.views.roles import AUDITOR, Principal
from tests.e2e.catalog_variants import use_pre_disclosure_catalog
from tests.e2e.helpers import benefits_rows

# This test is about the citizen report naming approvals, on the sample as it was before
# disclosure control (approving a pseudonymized request on 400 returns is refused by the
# purpose's thresholds now: tests/e2e/test_privacy_controls.py).
_before_disclosure = pytest.fixture(autouse=True, name="_before_disclosure")(use_pre_disclosure_catalog)


def test_each_delivery_names_its_approval(govbus_home: Path) -> None:
    bus = Bus.open()
    try:
        demo.seed(bus, rows=400)
        bus.run(["tax.income"])
        demo_requests.make_requests(bus)  # Statistics asks, the Tax Authority approves
        bus.run(["tax.income"])  # its initial load
        approval = bus.catalog.subscriptions[demo_requests.APPROVED_ID].approval_seq
        person = benefits_rows(bus.settings.home)[0]["national_id"]
        report = citizen_report(bus, Principal(AUDITOR), person)
    finally:
        bus.close()
    sentences = [d.sentence for d in report.deliveries]
    requested = [s for s in sentences if "approved the agency's request" in s]
    assert requested and all(f"ledger entry {approval}" in s for s in requested)
    assert all("existed when the agency started receiving it" in s for s in requested)
    assert any("published catalog declares this subscription (benefits.tax-income)" in s for s in sentences)
    assert all(person not in s for s in sentences)
