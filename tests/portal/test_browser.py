"""End to end in headless Chromium, with JavaScript switched off: the portal as people use it.

The portal runs as the real command (`python -m exchange.cli.portal`, what `govbus
portal` mounts) in a subprocess on a free loopback port, with uvicorn's access log on.

The browser is Debian's `chromium` package, installed by the project's set-up (CI runs
`apt-get install -y chromium`); Playwright only drives it (`executable_path`), it never
downloads a browser. A missing browser FAILS this test with the command to install it:
CI installs it, so a skip would hide a broken set-up.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.portal.conftest import CATALOG, TOKEN_SPEC, TOKENS

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


@pytest.fixture
def served(seeded_sqlite, tmp_path) -> Iterator[Served]:  # type: ignore[no-untyped-def]
    """`python -m exchange.cli.portal` (the `govbus portal` command) on a free loopback port."""
    port = _free_port()
    env = {
        **os.environ,
        "GOVBUS_HOME": str(seeded_sqlite.settings.home),
        "GOVBUS_CATALOG": str(CATALOG),
        "GOVBUS_PORTAL_TOKENS": TOKEN_SPEC,
        "PYTHONPATH": str(REPO),
    }
    env.pop("GOVBUS_STATE_URL", None)
    log = (tmp_path / "portal.log").open("w+")
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
            assert process.poll() is None, f"the portal exited: {(tmp_path / 'portal.log').read_text()}"
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
    assert "The ledger is intact: 81 entries" in page.inner_text("main")
    page.screenshot(path=str(tmp_path / "4-ledger.png"), full_page=True)

    page.click("nav >> text=Subject search")
    page.fill("#national_id", PERSON)
    page.click("main button[type=submit]")
    assert "No delivery of this person's data is recorded" in page.inner_text("main")
    assert page.input_value("#national_id") == PERSON
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
