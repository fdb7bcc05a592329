"""`govbus discover [URL] TABLE`: draft a dataset's contract and Avro schema from a SQL table.

Registered by `exchange.cli.main` with `app.command("discover")(discover)`. The database is
named by a URL argument, `--url-env VAR` or `--conn-id ID` (an Airflow connection): a
URL on the command line shows in the shell's history and `ps`, so the other two are the
ones to use with a password. The URL is never printed (the password is redacted).
Writes `DIR/contract.yaml` and `DIR/schema/v1.avsc` (DIR: `--out`, else the catalog's
`datasets/<dataset id>`), or prints both with `--stdout`; what needs a person's review
goes to stderr, one `review:` line each. Without `--purpose` the contract's `purpose:` is
a TODO that `govbus contract lint` refuses: only the owner can say why the dataset is
shared. The catalog room's discovery (SQLAlchemy, the connectors) is imported when the
command runs, not by `govbus --help`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from exchange.cli.common import console, err_console, settings_from_env
from govbus.errors import BadInput

__all__ = ["discover"]


def discover(
    targets: Annotated[
        list[str],
        typer.Argument(
            metavar="[URL] TABLE",
            help="The database's SQLAlchemy URL (omit it with --url-env or --conn-id) and the "
            "table (name or schema.name).",
            show_default=False,
        ),
    ],
    url_env: Annotated[
        str | None, typer.Option("--url-env", help="Environment variable holding the database URL.")
    ] = None,
    conn_id: Annotated[
        str | None, typer.Option("--conn-id", help="Airflow connection of the database.")
    ] = None,
    dataset: Annotated[
        str | None, typer.Option("--dataset", help="Dataset id [OWNER.TABLE, or TABLE without --owner].")
    ] = None,
    owner: Annotated[str | None, typer.Option("--owner", help="The publishing agency's id.")] = None,
    purpose: Annotated[
        str | None,
        typer.Option(
            "--purpose",
            help="Why the dataset is shared and which decisions it supports. Without it the "
            "draft holds a TODO that `govbus contract lint` refuses until it is replaced.",
        ),
    ] = None,
    description: Annotated[
        str | None,
        typer.Option(
            "--description", help='What one row is (default: "Rows of the table TABLE.", marked REVIEW).'
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Folder to write to (default: the catalog's datasets/<dataset id>)."),
    ] = None,
    stdout: Annotated[
        bool, typer.Option("--stdout", help="Print both files instead of writing them.")
    ] = False,
    force: Annotated[bool, typer.Option("--force", help="Replace files that exist.")] = False,
) -> None:
    """Draft contract.yaml and schema/v1.avsc from a SQL table: types, keys, expectations."""
    from exchange.catalog.discover import CONTRACT_FILE, SCHEMA_FILE, draft_from_table, write_draft

    settings, table = _database(targets, url_env, conn_id)
    draft = draft_from_table(
        settings, table, dataset_id=dataset, owner=owner, purpose=purpose, description=description
    )
    if stdout:
        typer.echo(
            f"==> {CONTRACT_FILE} <==\n{draft.contract}\n==> {SCHEMA_FILE} <==\n{draft.schema}", nl=False
        )
    else:
        directory = (
            out if out is not None else settings_from_env().catalog_dir / "datasets" / draft.dataset_id
        )
        contract_path, schema_path = write_draft(draft, directory, force=force)
        console.print(
            f"[green]✓[/] drafted {contract_path} and {schema_path}", highlight=False, soft_wrap=True
        )
    for note in draft.notes:
        err_console.print(f"[yellow]review:[/] {note}", highlight=False, soft_wrap=True)
    if not stdout:
        first = "write the purpose and review" if draft.purpose_todo else "review"
        console.print(
            f"Next: {first} the lines marked REVIEW, then `govbus contract lint {directory}`.",
            highlight=False,
            soft_wrap=True,
        )


def _database(targets: list[str], url_env: str | None, conn_id: str | None) -> tuple[dict[str, Any], str]:
    """The sql settings naming the database, and the table; never echoes a URL."""
    named = [option for option, value in (("--url-env", url_env), ("--conn-id", conn_id)) if value]
    if len(named) > 1:
        raise BadInput("name the database once: --url-env or --conn-id, not both", where=named[1])
    expected = 1 if named else 2
    if len(targets) != expected:
        usage = "TABLE with --url-env or --conn-id" if named else "URL TABLE (or --url-env VAR TABLE)"
        raise BadInput(f"expects {usage}, got {len(targets)} argument(s)", where="arguments")
    if url_env:
        return {"url_env": url_env}, targets[0]
    if conn_id:
        return {"conn_id": conn_id}, targets[0]
    return {"url": targets[0]}, targets[1]
