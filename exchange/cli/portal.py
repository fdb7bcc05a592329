"""`govbus portal`: serve the portal (pages and JSON API) with uvicorn.

Mounted by the lead in `exchange/cli/main.py` (`register(app)` or
`app.command("portal")(portal)`). It opens the bus and checks the tokens before serving,
so a missing `GOVBUS_PORTAL_TOKENS` or an unknown agency stops the command with the
usual one-line GovBus error instead of failing the first page.

It listens on 127.0.0.1 by default: tokens and session cookies must not cross a
network in clear, so expose it only behind a TLS-terminating proxy.
"""

from __future__ import annotations

from typing import Annotated

import typer

HOST_HELP = "Address to listen on (keep 127.0.0.1 unless a TLS proxy is in front)."


def portal(
    host: Annotated[str, typer.Option(help=HOST_HELP)] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8000,
    root_path: Annotated[
        str, typer.Option("--root-path", help="Path prefix when served behind a proxy (e.g. /govbus).")
    ] = "",
) -> None:
    """Serve the web portal: catalog, runs, quarantine, ledger and (for auditors) subject search."""
    import uvicorn

    from exchange.portal import create_app

    app = create_app()  # reads GOVBUS_PORTAL_TOKENS; BadConfiguration if unset or malformed
    app.state.portal.bus()  # open the bus and check the tokens' agencies now, not on the first page
    typer.echo(f"GovBus portal on http://{host}:{port}{root_path}/ (Ctrl+C to stop)")
    uvicorn.run(app, host=host, port=port, root_path=root_path, log_level="info", server_header=False)


def register(app: typer.Typer) -> None:
    """Add `portal` to a Typer app (`govbus portal`)."""
    app.command("portal")(portal)


if __name__ == "__main__":  # `python -m exchange.cli.portal --port 8001`, before the lead mounts it
    typer.run(portal)
