"""`govbus portal`: its options, and that it refuses to start without tokens.

Serving is tested end to end by the browser test, which runs this command.
"""

from __future__ import annotations

import re

import pytest
import typer
from typer.testing import CliRunner

from exchange.cli.portal import register
from govbus.errors import BadConfiguration


@pytest.fixture
def cli() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def main() -> None:
        """Stands in for the `govbus` app the lead mounts the command on."""

    register(app)
    return app


def test_help_shows_loopback_and_port_8000_by_default(cli):
    result = CliRunner().invoke(cli, ["portal", "--help"], env={"COLUMNS": "200", "NO_COLOR": "1"})
    assert result.exit_code == 0
    text = re.sub(r"\x1b\[[0-9;]*m", "", result.output)
    assert "--host" in text and "127.0.0.1" in text
    assert "--port" in text and "8000" in text


def test_without_tokens_it_stops_with_the_configuration_error(cli, govbus_home, monkeypatch):
    monkeypatch.delenv("GOVBUS_PORTAL_TOKENS", raising=False)
    result = CliRunner().invoke(cli, ["portal", "--port", "1"])
    assert isinstance(result.exception, BadConfiguration)
    assert result.exception.exit_code == 78 and "GOVBUS_PORTAL_TOKENS" in str(result.exception)


def test_a_token_for_an_unknown_agency_stops_it_before_serving(cli, govbus_home, monkeypatch):
    monkeypatch.setenv("GOVBUS_PORTAL_TOKENS", "0123456789abcdef=agency:nowhere")
    result = CliRunner().invoke(cli, ["portal", "--port", "1"])
    assert isinstance(result.exception, BadConfiguration)
    message = str(result.exception)
    assert "unknown agency 'nowhere'" in message and "0123456789abcdef" not in message
