"""`govbus keys ...` and `govbus verify-delivery` (Typer + Rich).

The bus's signing keys (rotation keeps old public keys, so old deliveries still verify)
and pseudonym key ids; `verify-delivery` is what a recipient runs on a signed delivery.
The audit and consent parts are imported when a command runs, not by `govbus --help`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from exchange.cli.common import (
    TrustedKeys,
    bus_from_env,
    console,
    err_console,
    format_when,
    trusted_public_keys,
)
from exchange.cli.output import print_table
from govbus.errors import BadInput

__all__ = ["keys_app", "verify_delivery"]

keys_app = typer.Typer(help="The bus's keys: signing keys and pseudonym key ids.", no_args_is_help=True)


@keys_app.command("list")
def keys_list(
    pem: Annotated[bool, typer.Option("--pem", help="Print each public signing key as PEM.")] = False,
    export: Annotated[
        Path | None,
        typer.Option(help="Write every public signing key to this folder (to hand to recipients)."),
    ] = None,
) -> None:
    """Signing keys (current and old, all still verifying) and derived key ids."""
    import audit

    with bus_from_env() as bus:
        keys = bus.keys
        current = keys.signing_key_id()
        public = keys.public_keys()
        derived = keys.key_ids().all()
        source = keys.master_key_source()
        created = {
            key_id: datetime.fromtimestamp((keys.directory / f"signing-{key_id}.pem").stat().st_mtime, tz=UTC)
            for key_id in public
        }
    table = Table(title="Signing keys (Ed25519)", title_justify="left")
    for column in ("key id", "status", "created"):
        table.add_column(column, no_wrap=True)
    for key_id in sorted(public, key=lambda k: (k != current, created[k])):
        table.add_row(
            key_id,
            "[green]current[/]" if key_id == current else "verifies old entries",
            format_when(created[key_id]),
        )
    print_table(table, console)
    console.print(f"master key: {source} (derived keys: HKDF-SHA256)", highlight=False)
    if derived:
        for scope, key_id in sorted(derived.items()):
            console.print(f"derived key {scope}: {key_id}", highlight=False)
    else:
        console.print("derived keys (pseudonyms, linkage, reversible fields): all at k1", highlight=False)
    if export is not None:
        export.mkdir(parents=True, exist_ok=True)
        for key_id, key in public.items():
            (export / f"govbus-signing-{key_id}.pub.pem").write_text(audit.public_key_pem(key))
        console.print(f"[green]✓[/] {len(public)} public key(s) written to {export}", highlight=False)
    if pem:
        for key_id, key in sorted(public.items()):
            console.print(f"# key id {key_id}\n{audit.public_key_pem(key)}", highlight=False)


@keys_app.command("rotate")
def keys_rotate() -> None:
    """New signing key: new deliveries and ledger entries use it; old ones still verify."""
    import audit

    with bus_from_env() as bus:
        previous = bus.keys.signing_key_id()
        key_id = bus.keys.rotate_signing_key()
        with bus.engine.begin() as conn:
            audit.Ledger.from_keystore(bus.keys).append(
                conn, "keys.rotated", {"key": "signing", "previous": previous, "current": key_id}
            )
    console.print(
        f"[green]✓[/] signing key {key_id} is now current; {previous} is kept to verify "
        "what it signed. Publish the new public key (`govbus keys list --export DIR`).",
        highlight=False,
    )


@keys_app.command("rotate-pseudonyms")
def keys_rotate_pseudonyms(
    recipient: Annotated[str, typer.Argument(help="Recipient agency id.")],
    purpose: Annotated[str, typer.Argument(help="Purpose code.")],
    yes: Annotated[bool, typer.Option("--yes", help="Confirm: this breaks the recipient's linkage.")] = False,
) -> None:
    """New pseudonym key for (recipient, purpose): its new deliveries no longer join the old."""
    if not yes:
        raise BadInput(
            "rotating pseudonyms breaks the recipient's ability to join new data to old",
            where="rotate-pseudonyms",
            hint="add --yes if that is intended",
        )
    with bus_from_env() as bus:
        if not any(
            s.agency == recipient and s.purpose == purpose for s in bus.catalog.subscriptions.values()
        ):
            raise BadInput(
                "no subscription has this recipient and purpose",
                where="recipient",
                hint="check `govbus status` for the subscriptions",
            )
        key_id = bus.keys.rotate_pseudonym_key(recipient, purpose)
        with bus.engine.begin() as conn:
            bus.ledger.append(
                conn,
                "keys.rotated",
                {"key": "pseudonym", "recipient": recipient, "purpose": purpose, "current": key_id},
            )
    console.print(f"[green]✓[/] pseudonyms for {recipient} / {purpose} now use key {key_id}", highlight=False)


def verify_delivery(
    path: Annotated[
        Path | None,
        typer.Argument(
            help="A *.manifest.json, or a folder of deliveries (files, an SFTP folder, saved REST bodies)."
        ),
    ] = None,
    sql: Annotated[
        str | None,
        typer.Option("--sql", help="A SQL recipient: the database URL (with --table); no PATH then."),
    ] = None,
    table: Annotated[str | None, typer.Option("--table", help="The table the bus delivered into.")] = None,
    trusted_keys: TrustedKeys = None,
) -> None:
    """Check delivered batches: manifest signature, key, and every file's SHA-256 — or, with
    `--sql URL --table T`, every row the table holds against the manifests stored beside it."""
    if (sql is None) != (table is None) or (sql is None) == (path is None):
        raise BadInput(
            "give a PATH, or --sql URL with --table T",
            where="verify-delivery",
            hint="govbus verify-delivery INBOX | govbus verify-delivery --sql URL --table T",
        )
    keys = trusted_public_keys(trusted_keys)
    if sql is not None and table is not None:
        _verify_table(sql, table, keys)
        return
    import consent

    assert path is not None
    report = consent.verify_delivery(path, keys)
    for check in report.checks:
        name = check.batch_id or check.manifest.name
        if check.ok:
            console.print(
                f"[green]✓[/] {name}: {check.rows:,} row(s) in {check.files} file(s), "
                f"signed by key {check.key_id}",
                highlight=False,
            )
            continue
        err_console.print(f"[red]✗[/] {name}: NOT verified", highlight=False)
        for problem in check.problems:
            err_console.print(f"    {problem}", highlight=False)
    bad = sum(not check.ok for check in report.checks)
    if bad:
        err_console.print(f"[red]{bad} of {len(report.checks)} delivery manifest(s) failed[/]")
        raise typer.Exit(1)


def _verify_table(url: str, table: str, keys: dict) -> None:
    """`--sql URL --table T`: the stored manifests, then every held row (consent.verify_table_rows)."""
    import connectors
    import consent

    location, stored = connectors.read_manifests(url, table)
    report = consent.verify_table_rows(
        location, stored, keys, lambda schema: connectors.read_rows(url, table, schema)
    )
    for batch in report.batches:
        if batch.ok:
            console.print(
                f"[green]✓[/] {batch.batch_id}: {batch.rows:,} row(s) signed by key {batch.key_id}; "
                f"{batch.held:,} still held",
                highlight=False,
            )
            continue
        err_console.print(f"[red]✗[/] {batch.batch_id}: NOT verified", highlight=False)
        for problem in batch.problems:
            err_console.print(f"    {problem}", highlight=False)
    for problem in report.problems:
        err_console.print(f"[red]✗[/] {problem}", highlight=False)
    if report.rows_unmatched:
        err_console.print(
            f"[red]✗[/] {report.rows_unmatched:,} of {report.rows_held:,} row(s) in {location} match no "
            "signed batch: changed or added after delivery",
            highlight=False,
        )
    if not report.ok:
        raise typer.Exit(1)
    console.print(
        f"[green]✓[/] all {report.rows_held:,} row(s) in {location} belong to signed batches "
        "(rows deleted by the recipient cannot be detected here)",
        highlight=False,
    )
