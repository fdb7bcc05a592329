"""The `govbus` command line (Typer + Rich): `main.py` and one module per command group.

Kept empty so that `govbus --help` imports only what the command line itself needs;
each command imports its dependencies when it runs.
"""

from __future__ import annotations

__all__: list[str] = []
