"""`govbus discover [URL] TABLE` and `govbus discover --source KIND PATH`: draft a dataset's
contract and Avro schema from a SQL table, or from files (CSV, JSON Lines, Parquet, Avro,
fixed-width with `--copybook`) whose rows are sampled (`exchange.catalog.discover_files`).

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

from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from exchange.cli.common import console, err_console, settings_from_env
from govbus.errors import BadInput

if TYPE_CHECKING:
    from exchange.catalog.discover import Draft

__all__ = ["discover"]


def discover(
    targets: Annotated[
        list[str],
        typer.Argument(
            metavar="[URL] TABLE | PATH",
            help="The database's SQLAlchemy URL (omit it with --url-env or --conn-id) and the "
            "table (name or schema.name); with --source, the files' folder or one file.",
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
    source: Annotated[
        str | None,
        typer.Option(
            "--source",
            help="Draft from files instead of a table: csv, jsonl, parquet, avro or fixed_width; "
            "the argument is then their folder (or one file of it).",
        ),
    ] = None,
    copybook: Annotated[
        Path | None, typer.Option("--copybook", help="The COBOL copybook of fixed_width records.")
    ] = None,
    setting: Annotated[
        list[str] | None,
        typer.Option(
            "--setting",
            help="A source setting KEY=VALUE for the files (repeat): delimiter=;, encoding=cp037, ...",
        ),
    ] = None,
    sample: Annotated[int, typer.Option("--sample", min=1, help="Rows of the files to sample.")] = 1000,
) -> None:
    """Draft contract.yaml and schema/v1.avsc from a SQL table or from files (sampled): types,
    keys, expectations."""
    from exchange.catalog.discover import CONTRACT_FILE, SCHEMA_FILE, draft_from_table, write_draft

    if source is not None:
        draft = _files_draft(targets, source, url_env, conn_id, copybook, setting or [], sample)(
            dataset_id=dataset, owner=owner, purpose=purpose, description=description
        )
    else:
        if copybook is not None or setting:
            raise BadInput(
                "--copybook and --setting describe files", where="arguments", hint="add --source KIND"
            )
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


def _files_draft(
    targets: list[str],
    kind: str,
    url_env: str | None,
    conn_id: str | None,
    copybook: Path | None,
    pairs: list[str],
    sample: int,
) -> Callable[..., Draft]:
    """The files' draft function, its arguments checked: one PATH, no database options."""
    from exchange.catalog.discover_files import draft_from_files

    if url_env or conn_id:
        raise BadInput("--source drafts from files: no --url-env or --conn-id", where="--source")
    if len(targets) != 1:
        raise BadInput(f"expects PATH with --source, got {len(targets)} argument(s)", where="arguments")
    settings: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise BadInput(f"{pair!r} is not KEY=VALUE", where="--setting", hint="e.g. --setting delimiter=;")
        settings[key.strip()] = value
    home = settings_from_env().home
    return partial(
        draft_from_files,
        kind,
        Path(targets[0]),
        settings=settings,
        copybook=copybook,
        sample_rows=sample,
        home=home,
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
