"""`govbus portal`: serve the portal (pages and JSON API) with uvicorn.

Mounted by the lead in `exchange/cli/main.py` (`register(app)` or
`app.command("portal")(portal)`). It opens the bus and checks the tokens before serving,
so a missing `GOVBUS_PORTAL_TOKENS` or an unknown agency stops the command with the
usual one-line GovBus error instead of failing the first page.

It listens on 127.0.0.1 by default: tokens and session cookies must not cross a
network in clear, so expose it only behind a TLS-terminating proxy.

`--demo` needs no `GOVBUS_PORTAL_TOKENS`: it makes a random token for each sample role
(admin, auditor, dpo, every agency of the catalog) for this run only and prints them with
the sign-in address. The tokens are printed rather than put in links: a token in a URL
would land in the access log and the browser history. It serves only on a loopback
address, since anyone who reads the console can sign in.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from govbus.errors import BadInput

if TYPE_CHECKING:
    from exchange.views.roles import Principal  # the roles import the catalog: not at start-up

HOST_HELP = "Address to listen on (keep 127.0.0.1 unless a TLS proxy is in front)."
DEMO_HELP = "Make a sign-in token for each sample role for this run only, and print them (demo only)."
LOOPBACK = ("127.0.0.1", "localhost", "::1")


def portal(
    host: Annotated[str, typer.Option(help=HOST_HELP)] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8000,
    root_path: Annotated[
        str, typer.Option("--root-path", help="Path prefix when served behind a proxy (e.g. /govbus).")
    ] = "",
    demo: Annotated[bool, typer.Option("--demo", help=DEMO_HELP)] = False,
) -> None:
    """Serve the web portal: catalog, runs, quarantine, ledger and (for auditors) subject search."""
    import uvicorn

    from exchange.portal import create_app

    base = f"http://{host}:{port}{root_path}"
    tokens = _demo_tokens(host) if demo else None
    app = create_app(tokens=tokens)  # None: GOVBUS_PORTAL_TOKENS; BadConfiguration if unset or malformed
    app.state.portal.bus()  # open the bus and check the tokens' agencies now, not on the first page
    if tokens is not None:
        _print_demo_tokens(tokens, f"{base}/login")
    typer.echo(f"GovBus portal on {base}/ (Ctrl+C to stop)")
    uvicorn.run(app, host=host, port=port, root_path=root_path, log_level="info", server_header=False)


def _demo_tokens(host: str) -> dict[str, Principal]:
    """A fresh token per sample role, for the agencies of the catalog `GOVBUS_CATALOG` names."""
    from exchange.catalog import load_catalog
    from exchange.portal.auth import demo_tokens
    from exchange.state.settings import Settings

    if host not in LOOPBACK:
        raise BadInput(
            "--demo serves only on a loopback address",
            where="--host",
            hint="its tokens are printed on the console; set GOVBUS_PORTAL_TOKENS to serve beyond it",
        )
    return demo_tokens(load_catalog(Settings.from_env().catalog_dir).agencies)


def _print_demo_tokens(tokens: dict[str, Principal], login: str) -> None:
    width = max(len(p.label) for p in tokens.values())
    typer.echo("Demo sign-in tokens, made for this run only: for trying the portal, never for real use.")
    typer.echo(f"Open {login} and paste the token of the role to sign in as:")
    for token, principal in tokens.items():
        typer.echo(f"  {principal.label:<{width}}  {token}")
    typer.echo("They stop working when this command stops.")


def register(app: typer.Typer) -> None:
    """Add `portal` to a Typer app (`govbus portal`)."""
    app.command("portal")(portal)


if __name__ == "__main__":  # `python -m exchange.cli.portal --port 8001`, before the lead mounts it
    typer.run(portal)
