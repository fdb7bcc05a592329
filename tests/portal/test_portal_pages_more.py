"""Issue 20's portal: `govbus portal --demo`, links to each run's validation report, the charts.

The browser checks (layout at 1280 px, axe-core, keyboard) are in `test_accessibility.py`.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
import typer
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from exchange.cli.portal import register
from exchange.portal import create_app
from govbus.errors import BadInput
from tests.portal.conftest import bearer

# -- govbus portal --demo ---------------------------------------------------------------


@pytest.fixture
def cli() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def main() -> None:
        """Stands in for the `govbus` app."""

    register(app)
    return app


def test_demo_prints_a_fresh_token_per_role_and_the_portal_accepts_them(cli, govbus_home, monkeypatch):
    monkeypatch.delenv("GOVBUS_PORTAL_TOKENS", raising=False)
    served: list[Any] = []
    monkeypatch.setattr("uvicorn.run", lambda app, **_: served.append(app))
    first = CliRunner().invoke(cli, ["portal", "--demo", "--port", "8123"])
    assert first.exit_code == 0, first.output
    assert "for this run only" in first.output and "never for real use" in first.output
    assert "http://127.0.0.1:8123/login" in first.output
    tokens = dict(re.findall(r"^  (\S+(?: \S+)?)\s+([0-9a-f]{32})$", first.output, re.M))
    assert {"admin", "auditor", "dpo", "agency tax", "agency statistics"} <= set(tokens)
    with TestClient(served[0], follow_redirects=False) as client:
        for label, token in tokens.items():
            me = client.get("/api/me", headers={"Authorization": f"Bearer {token}"})
            assert me.status_code == 200, label
    again = CliRunner().invoke(cli, ["portal", "--demo", "--port", "8123"])
    assert set(re.findall(r"[0-9a-f]{32}", again.output)).isdisjoint(tokens.values()), "never the same twice"


def test_demo_refuses_a_non_loopback_host(cli, govbus_home, monkeypatch):
    monkeypatch.setattr("uvicorn.run", lambda app, **_: None)
    result = CliRunner().invoke(cli, ["portal", "--demo", "--host", "0.0.0.0"])
    assert isinstance(result.exception, BadInput) and "loopback" in str(result.exception)


# -- validation reports and charts ------------------------------------------------------


def test_a_stage_run_links_to_its_validation_report_for_those_who_see_it(seeded_sqlite):
    with TestClient(create_app(seeded_sqlite.open, tokens=_spec()), follow_redirects=False) as client:
        runs = client.get("/api/runs", headers=bearer("admin")).json()
        stage = next(r for r in runs if r["step"] == "stage")
        deliver = next(r for r in runs if r["step"] == "deliver")
        assert stage["stage_id"] and deliver["stage_id"] is None
        page = client.get("/runs", headers=bearer("admin")).text
        link = f"/runs/{stage['run_id']}/report"
        assert f'{link}"' in page and f'/runs/{deliver["run_id"]}/report"' not in page
        report = client.get(link, headers=bearer("admin"))
        assert report.status_code == 200 and stage["stage_id"] in report.text
        assert "script-src" not in report.headers["content-security-policy"]
        assert "default-src 'none'" in report.headers["content-security-policy"]
        # The owner sees it; an agency that only receives the data does not see the stage run.
        assert client.get(link, headers=bearer("tax")).status_code == 200
        assert client.get(link, headers=bearer("statistics")).status_code == 404
        assert client.get(f"/runs/{deliver['run_id']}/report", headers=bearer("admin")).status_code == 404
        assert client.get("/runs/999999/report", headers=bearer("admin")).status_code == 404


def test_a_dataset_page_has_accessible_charts_and_no_dataset_column(seeded_sqlite):
    with TestClient(create_app(seeded_sqlite.open, tokens=_spec()), follow_redirects=False) as client:
        page = client.get("/datasets/tax.income", headers=bearer("admin")).text
    assert page.count('<svg role="img"') == 3
    for key in ("rows", "quarantine", "freshness"):
        assert f'aria-labelledby="chart-{key}-title chart-{key}-desc"' in page
        assert f'<title id="chart-{key}-title">' in page and f'<desc id="chart-{key}-desc">' in page
    assert "Rows read per stage: the numbers" in page  # the table alternative
    assert "600" in page and "1 %" in page  # 600 rows read, 6 quarantined
    runs = page.split('<table class="runs">', 1)[1].split("</table>", 1)[0]
    assert '<th scope="col">Dataset</th>' not in runs and '<td class="nowrap">tax.income</td>' not in runs
    assert re.search(r'<time datetime="[^"]+">\d{4}-\d\d-\d\d \d\d:\d\d</time>', runs)
    assert "<script" not in page


def test_charts_scale_to_round_numbers_and_skip_missing_values():
    from datetime import UTC, datetime, timedelta

    from exchange.portal.charts import bar_chart
    from exchange.portal.history import StagePoint

    start = datetime(2026, 1, 1, tzinfo=UTC)
    points = [
        StagePoint(
            stage_id=f"s{i}",
            created_at=start + timedelta(days=i),
            status="committed",
            rows_read=n,
            rows_staged=n,
            rows_quarantined=0,
            quarantine_rate=None if n == 0 else 0.0,
            age_hours=None if i == 0 else 24.0,
        )
        for i, n in enumerate([0, 370, 120])
    ]
    chart = bar_chart("x", "T", "D", points, lambda p: p.age_hours, unit=" h", limit=48, limit_label="SLA")
    assert [label for _, label in chart.ticks] == ["0 h", "12.5 h", "25 h", "37.5 h", "50 h"]
    assert len(chart.bars) == 2 and [row[2] for row in chart.rows] == ["–", "24 h", "24 h"]
    assert chart.limit is not None and chart.limit[1] == "SLA"
    rows = bar_chart("r", "T", "D", points, lambda p: float(p.rows_read))
    assert rows.ticks[-1][1] == "500" and max(b.height for b in rows.bars) == pytest.approx(160 * 370 / 500)


def _spec() -> str:
    from tests.portal.conftest import TOKEN_SPEC

    return TOKEN_SPEC
