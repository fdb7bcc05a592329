"""What every command group shares: the consoles, one way to open the bus, trusted keys, times.

Command modules import this, never each other, so no two of them form a cycle.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

import audit
import consent
from exchange.bus import Bus
from exchange.state import Settings
from govbus.errors import BadConfiguration

__all__ = ["TrustedKeys", "bus_from_env", "console", "err_console", "format_when", "trusted_public_keys"]

console = Console()
err_console = Console(stderr=True)


@contextmanager
def bus_from_env() -> Iterator[Bus]:
    """The bus the environment names, closed when the block ends."""
    bus = Bus.open()
    try:
        yield bus
    finally:
        bus.close()


def format_when(value: datetime | None) -> str:
    """An instant as the CLI shows it (UTC), or a dash."""
    return "—" if value is None else value.strftime("%Y-%m-%d %H:%M:%S UTC")


TrustedKeys = Annotated[
    list[Path] | None,
    typer.Option(
        "--trusted-keys", help="PEM public key file(s) or folder(s) of the bus (default: this bus's keys)."
    ),
]


def trusted_public_keys(paths: list[Path] | None) -> dict[str, Any]:
    """The keys given, else this bus's own keys — never creating a key store as a side effect."""
    if paths:
        return audit.load_trusted_keys(paths)
    keys_dir = Settings.from_env().keys_dir
    if not (keys_dir / "signing.current").is_file():
        raise BadConfiguration(
            "no trusted public keys",
            where=str(keys_dir),
            hint="pass --trusted-keys with the bus's published PEM key(s)",
        )
    return consent.KeyStore(keys_dir).public_keys()
