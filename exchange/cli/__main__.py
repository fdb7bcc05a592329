"""`python -m exchange.cli …` runs the `govbus` command (what the tests and DAG tasks use)."""

from __future__ import annotations

from exchange.cli.main import main

main()
