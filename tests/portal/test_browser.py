"""End to end in headless Chromium, with JavaScript switched off: the portal as people use it.

Two walks: an auditor's (and an agency refused), and an agency's whole journey — it finds
`tax.income`, asks for three fields under a statute, the owner approves, a run delivers,
and the delivered Parquet rows are exactly what the statute allows of the current source.

The portal runs as the real command (`python -m exchange.cli.portal`, what `govbus
portal` mounts) in a subprocess on a free loopback port, with uvicorn's access log on.

The browser is Debian's `chromium` package, installed by the project's set-up (CI runs
`apt-get install -y chromium`); Playwright only drives it (`executable_path`), it never
downloads a browser. A missing browser FAILS this test with the command to install it:
CI installs it, so a skip would hide a broken set-up.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.conftest import REPO
from tests.e2e.helpers import source_rows, statistics_table
from tests.portal.conftest import CATALOG, TOKEN_SPEC, TOKENS, Seeded

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PERSON = "48213376590"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Served:
    url: str
    process: subprocess.Popen[str]


@contextmanager
def _serve(home: Path, log_path: Path) -> Iterator[Served]:
    """`python -m exchange.cli.portal` (the `govbus portal` command) on a free loopback port."""
    port = _free_port()
    env = {
        **os.environ,
        "GOVBUS_HOME": str(home),
        "GOVBUS_CATALOG": str(CATALOG),
        "GOVBUS_PORTAL_TOKENS": TOKEN_SPEC,
        "PYTHONPATH": str(REPO),
    }
    env.pop("GOVBUS_STATE_URL", None)
    log = log_path.open("w+")
    process = subprocess.Popen(
        [sys.executable, "-m", "exchange.cli.portal", "--port", str(port)],
        env=env,
        cwd=REPO,
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, f"the portal exited: {log_path.read_text()}"
            assert time.monotonic() < deadline, "the portal did not start within 60 s"
            try:
                with urllib.request.urlopen(f"{url}/login", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                time.sleep(0.2)
        yield Served(url, process)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


@pytest.fixture
def served(seeded_sqlite, tmp_path) -> Iterator[Served]:  # type: ignore[no-untyped-def]
    """The portal over the shared seeded deployment (this test only reads)."""
    with _serve(seeded_sqlite.settings.home, tmp_path / "portal.log") as served:
        yield served


@pytest.fixture
def browser():  # type: ignore[no-untyped-def]
    if not CHROMIUM.exists():
        pytest.fail(
            "Debian's chromium is not installed: run `apt-get install -y chromium` "
            "(the project's CI set-up does; never `playwright install`)"
        )
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("Playwright for Python is missing: install the dev dependencies (pip install playwright)")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


def _sign_in(page, base: str, token: str) -> None:  # type: ignore[no-untyped-def]
    page.fill("#token", token)
    page.click("button[type=submit]")


def test_auditor_walks_the_portal_and_an_agency_is_refused(served, browser, tmp_path):
    portal_url = served.url
    started = time.monotonic()
    context = browser.new_context(java_script_enabled=False, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(10_000)

    page.goto(f"{portal_url}/catalog")
    assert page.url.startswith(f"{portal_url}/login"), "an anonymous visitor gets the login form"
    _sign_in(page, portal_url, TOKENS["auditor"])
    assert page.url == f"{portal_url}/catalog"
    text = page.inner_text("main")
    assert "tax.income" in text and "Tax Authority" in text and "1,323" in text and "fresh" in text
    page.screenshot(path=str(tmp_path / "1-catalog.png"), full_page=True)

    page.click("main >> text=tax.income")
    assert page.url == f"{portal_url}/datasets/tax.income"
    text = page.inner_text("main")
    assert "BENEFIT_ELIGIBILITY" in text and "statute:SBA-12" in text and "594" in text
    page.screenshot(path=str(tmp_path / "2-dataset.png"), full_page=True)

    page.click("nav >> text=Runs")
    rows = page.locator("main table tbody tr")
    assert rows.count() == 5 and "stage" in page.inner_text("main")
    page.screenshot(path=str(tmp_path / "3-runs.png"), full_page=True)

    page.click("nav >> text=Ledger")
    assert "The ledger is intact: 84 entries" in page.inner_text("main")
    page.screenshot(path=str(tmp_path / "4-ledger.png"), full_page=True)

    page.click("nav >> text=Subject search")
    page.fill("#national_id", PERSON)
    page.click("main button[type=submit]")
    assert "No delivery of this person's data is recorded" in page.inner_text("main")
    assert page.input_value("#national_id") == "", "the typed id is not put back into the page"
    assert "******6590" in page.inner_text("main")
    page.screenshot(path=str(tmp_path / "5-subject.png"), full_page=True)

    page.click("header button:has-text('Sign out')")
    assert page.url == f"{portal_url}/login"
    _sign_in(page, portal_url, TOKENS["statistics"])
    assert "Subject search" not in page.inner_text("header")
    response = page.goto(f"{portal_url}/subject")
    assert response is not None and response.status == 403
    assert "only auditors may search" in page.inner_text("main")
    page.screenshot(path=str(tmp_path / "6-agency-refused.png"), full_page=True)
    context.close()

    shots = sorted(p.name for p in tmp_path.glob("*.png"))
    assert len(shots) == 6 and all((tmp_path / s).stat().st_size > 5_000 for s in shots)
    assert time.monotonic() - started < 30

    served.process.terminate()
    served.process.wait(timeout=10)
    log = (tmp_path / "portal.log").read_text()
    assert '"POST /subject HTTP/1.1" 200' in log, "uvicorn's access log ran"
    assert PERSON not in log, "the typed national id must not reach any log"
    assert not any(token in log for token in TOKENS.values())


JOURNEY_FIELDS = ["tax_year", "municipality_code", "gross_income"]
JOURNEY_INBOX = "agencies/statistics/inbox/journey"
FILING_STATUSES = {"SINGLE", "JOINT", "SEPARATE", "HEAD_OF_HOUSEHOLD"}


@pytest.fixture
def journey_home(seeded_sqlite, tmp_path) -> Seeded:  # type: ignore[no-untyped-def]
    """A copy of the seeded deployment: the journey's request, decision and run stay in it."""
    return seeded_sqlite.copy(tmp_path / "home")


def _good_source_rows(home: Path) -> list[dict]:
    """The source rows that pass tax.income's contract, its rules restated independently."""
    good = []
    for r in source_rows(home):
        gross = r["gross_income"] or ""
        if (
            r["national_id"] is not None
            and re.fullmatch(r"[0-9]{11}", r["national_id"])
            and re.fullmatch(r"[0-9]+\.[0-9]{2}", gross)
            and float(gross) <= 100_000_000
            and 2000 <= int(r["tax_year"]) <= 2030
            and r["filing_status"] in FILING_STATUSES
            and re.fullmatch(r"[0-9]{4}", r["municipality_code"] or "")
        ):
            good.append(r)
    return good


def _projected(rows: list[dict]) -> Counter[tuple[int, str, Decimal]]:
    """The rows as a multiset of the three requested fields, in comparable types."""
    return Counter(
        (int(r["tax_year"]), str(r["municipality_code"]), Decimal(str(r["gross_income"]))) for r in rows
    )


def test_an_agency_asks_the_owner_approves_and_the_run_delivers_what_the_statute_allows(
    journey_home, browser, tmp_path
):
    home = journey_home.settings.home
    context = browser.new_context(java_script_enabled=False, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(10_000)
    with _serve(home, tmp_path / "portal.log") as served:
        base = served.url
        # The Statistics Office finds tax.income and asks for three fields under STAT-7.
        page.goto(f"{base}/catalog")
        _sign_in(page, base, TOKENS["statistics"])
        page.click("main >> text=tax.income")
        assert page.url == f"{base}/datasets/tax.income"
        page.click("main >> text=Ask for this dataset")
        assert page.url == f"{base}/datasets/tax.income/request"
        page.select_option("#purpose", "OFFICIAL_STATISTICS")
        for name in JOURNEY_FIELDS:
            page.check(f"#field-{name}")
        page.select_option("#basis", "statute:STAT-7")
        page.select_option("#sink_connector", "parquet")
        page.fill("#sink_directory", "${GOVBUS_HOME}/" + JOURNEY_INBOX)
        page.fill("#note", "Regional income statistics, 2024")
        page.screenshot(path=str(tmp_path / "1-request-form.png"), full_page=True)
        page.click("form.request button[type=submit]")
        assert page.url == f"{base}/requests/statistics.tax.income"
        text = page.inner_text("main")
        assert "requested" in text and "waits for: owner" in text and "agency statistics" in text
        page.screenshot(path=str(tmp_path / "2-requested.png"), full_page=True)
        page.click("header button:has-text('Sign out')")

        # The Tax Authority, the owner, finds it among the requests to decide and approves.
        _sign_in(page, base, TOKENS["tax"])
        page.click("nav >> text=Requests")
        assert "To decide" in page.inner_text("main")
        page.click("main >> text=statistics.tax.income")
        page.fill("#reason", "Covered by the Official Statistics Act, section 7")
        page.click("button[value=approve]")
        assert page.url == f"{base}/requests/statistics.tax.income"
        text = page.inner_text("main")
        assert "approved" in text and "subscription: new" in text and "agency tax" in text
        page.screenshot(path=str(tmp_path / "3-approved.png"), full_page=True)

        # The exchange runs (the same GOVBUS_HOME as the portal's), with no restart of anything.
        bus = journey_home.open()
        try:
            (result,) = bus.run(["tax.income"])
        finally:
            bus.close()
        assert result.ok, result.failures
        page.click("nav >> text=Requests")
        row = page.locator("main table tr", has_text="statistics.tax.income").last
        assert "request" in row.inner_text() and "active" in row.inner_text()
        page.screenshot(path=str(tmp_path / "4-active.png"), full_page=True)
    context.close()

    files = sorted((home / JOURNEY_INBOX).glob("*.parquet"))
    assert files, "the approved subscription received its initial load"
    delivered = pa.concat_tables([pq.read_table(f) for f in files])
    assert set(JOURNEY_FIELDS) <= set(delivered.column_names)
    assert "national_id" not in delivered.column_names and "return_id" not in delivered.column_names
    got = _projected(delivered.select(JOURNEY_FIELDS).to_pylist())
    # Under a statute every row that passed the contract is delivered: the current source's good rows...
    good = _good_source_rows(home)
    assert 0 < len(good) < len(source_rows(home)), "the sample has rows the contract quarantines"
    assert got == _projected(good)
    # ...which is what the catalog's subscriber under the same statute received, in those fields.
    assert got == _projected(statistics_table(home).select(JOURNEY_FIELDS).to_pylist())
