"""docs/write-a-connector.md, run: its example connector, registered through a real
`govbus.connectors` entry point, passes the conformance kit; the code the page shows is
the code that runs here."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from connectors import make_source
from govbus.errors import BadConfiguration
from tests.connectors.example_connector.conformance import TestArrowLog

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "write-a-connector.md"
PLUGIN = "connectors.testing.plugin"
SHOWN = re.compile(r"<!-- file: (?P<path>\S+) -->\n```\w+\n(?P<code>.*?)```", re.DOTALL)

__all__ = ["TestArrowLog"]  # collected here, with the entry point below installed


@pytest.fixture(autouse=True)
def arrow_log_installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What `pip install govbus-arrow-log` would leave on sys.path: a distribution whose
    entry_points.txt registers the factory (found by importlib.metadata, as in production)."""
    dist = tmp_path / "site" / "govbus_arrow_log-0.1.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: govbus-arrow-log\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(
        "[govbus.connectors]\narrow_log = tests.connectors.example_connector.arrow_log:factory\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path / "site"))


def test_the_page_shows_the_code_that_runs() -> None:
    shown = {match["path"]: match["code"] for match in SHOWN.finditer(DOC.read_text())}
    assert sorted(shown) == [
        "tests/connectors/example_connector/arrow_log.py",
        "tests/connectors/example_connector/conformance.py",
    ]
    for path, code in shown.items():
        assert code == (REPO / path).read_text(), f"docs/write-a-connector.md shows an old {path}"


def test_the_registered_connector_checks_its_settings(tmp_path: Path) -> None:
    with pytest.raises(BadConfiguration) as error:
        make_source({"connector": "arrow_log", "directory": str(tmp_path)}, key_fields=[], cursor_field="x")
    assert error.value.where == "cursor_field"
    with pytest.raises(BadConfiguration) as error:
        make_source({"connector": "arrow_log", "folder": "x"}, key_fields=[], cursor_field=None)
    assert error.value.where == "folder"


def test_the_plugin_adds_the_row_count_option() -> None:
    """Installed, the plugin loads through its `pytest11` entry point; here it is loaded by
    name, with entry-point plugins off (so it is not loaded twice, and pytest starts fast)."""
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", PLUGIN, "--help"]
    environment = {**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    result = subprocess.run(command, capture_output=True, text=True, cwd=REPO, env=environment, check=False)
    assert result.returncode == 0, result.stderr
    assert "--govbus-conformance-rows=N" in result.stdout
    assert "peak RSS growth must stay under 256 MiB" in " ".join(result.stdout.split())
