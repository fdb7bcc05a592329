"""WCAG 2.1 AA and layout in headless Chromium: axe-core over the main pages, keyboard, 1280 px.

axe-core is a test-only tool: it is fetched from the npm registry by `npm pack` (pinned
version, into the test's temporary folder; never a CDN, never shipped with the portal).
Set `GOVBUS_AXE_JS` to a local `axe.min.js` to skip the download (an offline machine).

The portal sends no JavaScript and its pages forbid it (`script-src 'none'`), so axe
runs in a browser context of its own with JavaScript on and the page's CSP bypassed
(`bypass_csp`) for this test only; the pages people use are checked with JavaScript off
elsewhere (`test_browser.py`). Keyboard and layout checks here use JavaScript off too.
"""

from __future__ import annotations

import os
import subprocess
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.portal.conftest import TOKENS
from tests.portal.test_browser import CHROMIUM, CHROMIUM_ARGS, PERSON, Served, _serve

AXE_VERSION = "4.10.3"
WCAG_21_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
SHOTS = os.environ.get("GOVBUS_SCREENSHOTS")  # a folder to keep the layout test's screenshots in
PAGES = [
    "/catalog",
    "/datasets/tax.income",
    "/runs",
    "/quarantine",
    "/requests",
    "/subject",
    "/ledger",
    "/audit/report",
]


@pytest.fixture(scope="module")
def axe_js(tmp_path_factory: pytest.TempPathFactory) -> str:
    """axe-core's minified source, from `GOVBUS_AXE_JS` or `npm pack axe-core@AXE_VERSION`."""
    local = os.environ.get("GOVBUS_AXE_JS")
    if local:
        return Path(local).read_text(encoding="utf-8")
    folder = tmp_path_factory.mktemp("axe")
    try:
        subprocess.run(
            ["npm", "pack", f"axe-core@{AXE_VERSION}", "--silent", "--pack-destination", str(folder)],
            check=True,
            capture_output=True,
            timeout=180,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        pytest.fail(f"cannot fetch axe-core with npm ({exc}); set GOVBUS_AXE_JS to a local axe.min.js")
    with tarfile.open(folder / f"axe-core-{AXE_VERSION}.tgz") as archive:
        member = archive.extractfile("package/axe.min.js")
        assert member is not None
        return member.read().decode("utf-8")


@pytest.fixture(scope="module")
def portal(seeded_sqlite, tmp_path_factory) -> Iterator[Served]:  # type: ignore[no-untyped-def]
    with _serve(seeded_sqlite.settings.home, tmp_path_factory.mktemp("a11y") / "portal.log") as served:
        yield served


@pytest.fixture(scope="module")
def chromium():  # type: ignore[no-untyped-def]
    if not CHROMIUM.exists():
        pytest.fail("Debian's chromium is not installed: run `apt-get install -y chromium`")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


def _signed_in(chromium, url: str, who: str, *, javascript: bool):  # type: ignore[no-untyped-def]
    context = chromium.new_context(
        java_script_enabled=javascript, bypass_csp=javascript, viewport={"width": 1280, "height": 900}
    )
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.goto(f"{url}/login")
    page.fill("#token", TOKENS[who])
    page.click("button[type=submit]")
    return context, page


def _violations(page, axe_js: str) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    page.add_script_tag(content=axe_js)
    result = page.evaluate(
        "async (tags) => await axe.run(document, {runOnly: {type: 'tag', values: tags}})", WCAG_21_AA
    )
    assert result["passes"], "axe ran and checked something"
    return [
        {"id": v["id"], "help": v["help"], "nodes": [n["target"] for n in v["nodes"]][:5]}
        for v in result["violations"]
    ]


def test_the_main_pages_have_no_wcag_21_aa_violations(portal, chromium, axe_js):
    context, page = _signed_in(chromium, portal.url, "auditor", javascript=True)
    found: dict[str, list[dict[str, Any]]] = {}
    for path in PAGES:
        response = page.goto(f"{portal.url}{path}")
        assert response is not None and response.status == 200, path
        found[path] = _violations(page, axe_js)
    page.goto(f"{portal.url}/subject")
    page.fill("#national_id", PERSON)
    page.click("main button[type=submit]:has-text('Search')")
    found["/subject (result)"] = _violations(page, axe_js)
    page.goto(f"{portal.url}/subject")
    page.fill("#national_id", PERSON)
    page.click('main button:has-text("Citizen\'s report")')
    assert "Who received your data" in page.inner_text("body")
    found["citizen report"] = _violations(page, axe_js)
    page.goto(f"{portal.url}/subject")
    page.fill("#national_id", PERSON)
    page.select_option("#lang", "fr")
    page.click('main button:has-text("Citizen\'s report")')
    assert "Qui a reçu vos données" in page.inner_text("body")
    found["citizen report (fr)"] = _violations(page, axe_js)
    page.goto(f"{portal.url}/login")
    found["/login"] = _violations(page, axe_js)
    context.close()
    assert {page: v for page, v in found.items() if v} == {}


def test_the_pages_work_by_keyboard_alone(portal, chromium):
    context, page = _signed_in(chromium, portal.url, "auditor", javascript=False)
    page.goto(f"{portal.url}/datasets/tax.income")
    page.keyboard.press("Tab")
    skip = page.locator("a.skip")
    box = skip.bounding_box()
    assert box is not None and box["x"] >= 0, "the first Tab shows the skip link on screen"
    assert skip.inner_text() == "Skip to main content"
    page.keyboard.press("Enter")
    assert page.url.endswith("#main")
    # Every link, button, field and summary is in the tab order (none has a negative tabindex).
    controls = page.locator("a[href], button, input, select, textarea, summary")
    assert controls.count() > 10
    assert page.locator("[tabindex^='-']:not(main)").count() == 0
    # Following the runs from the dataset page by keyboard: focus the link, press Enter.
    page.focus("main a:has-text('All runs of tax.income')")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{portal.url}/runs?dataset=tax.income")
    context.close()


def test_the_runs_table_fits_1280_px_with_dates_on_one_line(portal, chromium):
    context, page = _signed_in(chromium, portal.url, "admin", javascript=False)
    for path in ["/runs", "/datasets/tax.income"]:
        page.goto(f"{portal.url}{path}")
        table = page.locator("table.runs")
        box = table.bounding_box()
        assert box is not None and box["x"] + box["width"] <= 1280, (path, box)
        for cell in page.locator("table.runs tbody td.nowrap time").all():
            line = cell.bounding_box()
            assert line is not None and line["height"] < 30, "every start time stays on one line"
    assert "Dataset" not in page.locator("table.runs thead").inner_text(), "a dataset's page omits it"
    context.close()


def test_every_table_of_the_main_pages_fits_1280_px(portal, chromium):
    context, page = _signed_in(chromium, portal.url, "admin", javascript=False)
    for path in [p for p in PAGES if p != "/subject"]:
        page.goto(f"{portal.url}{path}")
        for table in page.locator("main table").all():
            box = table.bounding_box()
            if box is not None:  # a folded chart table has no box
                assert box["x"] + box["width"] <= 1280, (path, box)
        for cell in page.locator("main td time").all():
            line = cell.bounding_box()
            assert line is not None and line["height"] < 30, (path, "a time in a table stays on one line")
        if SHOTS:
            name = path.strip("/").replace("/", "-")
            page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=True)
    context.close()
