"""What every command group shares: the consoles, one way to open the bus, trusted keys, times.

Command modules import this, never each other's internals, so no two of them form a cycle.

Start-up: `govbus --help` imports every command module, so this module (like them)
imports only typer, rich, the standard library and the kernel's errors at module level.
The bus, the parts and the state room are imported inside the functions that use them,
when a command runs; the types they name stay under `TYPE_CHECKING` (annotations are
strings here).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

from govbus.errors import BadConfiguration

if TYPE_CHECKING:
    from exchange.bus import Bus
    from exchange.state import Settings

__all__ = [
    "TrustedKeys",
    "bus_from_env",
    "console",
    "err_console",
    "format_when",
    "settings_from_env",
    "trusted_public_keys",
]


class _FollowedWidth(int):
    """A width read while the console follows COLUMNS or the terminal (not a set one)."""


class _Console(Console):
    """A Console whose width, once set, can be set back to following COLUMNS and the terminal.

    Every command module prints through the same two consoles. Tests set a width for a
    while (`monkeypatch.setattr(cli_consent.console, "width", 250)`) and pytest restores
    the value it read before; with Rich's Console that fixes the width at what it read
    (80 under pytest) for every later test of any command. Here the value read while
    following is a `_FollowedWidth`, and setting it back resumes following.
    """

    @property
    def width(self) -> int:
        """The width in characters: set, else COLUMNS or the terminal's at this moment."""
        width = self.size.width
        return _FollowedWidth(width) if self._width is None else width

    @width.setter
    def width(self, width: int) -> None:
        self._width = None if isinstance(width, _FollowedWidth) else width


# The one pair of consoles of the command line; the command modules re-export them.
console: Console = _Console()
err_console: Console = _Console(stderr=True)


def settings_from_env() -> Settings:
    """The settings the environment names (GOVBUS_HOME, GOVBUS_CATALOG, ...)."""
    from exchange.state import Settings

    return Settings.from_env()


@contextmanager
def bus_from_env(settings: Settings | None = None) -> Iterator[Bus]:
    """The bus `settings` (default: the environment) name, closed when the block ends.

    Every command opens the bus this way, so each one releases the state database's
    connections on success and on error alike.
    """
    from exchange.bus import Bus

    bus = Bus.open(settings)
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
    import audit

    if paths:
        return audit.load_trusted_keys(paths)
    import consent

    keys_dir = settings_from_env().keys_dir
    if not (keys_dir / "signing.current").is_file():
        raise BadConfiguration(
            "no trusted public keys",
            where=str(keys_dir),
            hint="pass --trusted-keys with the bus's published PEM key(s)",
        )
    return consent.KeyStore(keys_dir).public_keys()
