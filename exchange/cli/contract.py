"""`govbus contract ...`: lint contracts, diff two versions, export the GX suite.

Mounted by `exchange.cli.main` with `app.add_typer(contract_app, name="contract")`. Problems
are printed one per line as `file:line: field: message`; a command that finds a problem
(or a breaking change) exits 1, so CI can run them as checks. The contracts and schemas
parts (Great Expectations' vocabulary, pyarrow) are imported when a command runs, not by
`govbus --help`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from exchange.cli.common import console, err_console, settings_from_env
from exchange.cli.output import print_table
from govbus.errors import BadConfiguration

if TYPE_CHECKING:
    import contracts
    import schemas

__all__ = ["console", "contract_app", "err_console", "lint_paths"]

contract_app = typer.Typer(
    help="Data contracts: lint, diff, export to Great Expectations.", no_args_is_help=True
)

_CONTRACT = "contract.yaml"


def _contract_files(paths: list[Path]) -> list[Path]:
    """Contract files named or found under the given paths (the catalog's when none)."""
    if not paths:
        paths = [settings_from_env().catalog_dir / "datasets"]
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(sorted(path.rglob(_CONTRACT)))
        elif path.exists():
            found.append(path)
        else:
            raise BadConfiguration("no such file or folder", where=str(path), hint="name a contract.yaml")
    return found


def _versions(contract_path: Path) -> list[schemas.AvroSchema]:
    """The dataset's schema versions `schema/vN.avsc`, oldest first."""
    import schemas

    def number(path: Path) -> int:
        digits = path.stem[1:]
        return int(digits) if digits.isdigit() else -1

    files = [p for p in contract_path.parent.glob("schema/v*.avsc") if number(p) >= 0]
    return [schemas.load_schema(p) for p in sorted(files, key=number)]


def lint_paths(paths: list[Path]) -> list[contracts.Problem]:
    """Every problem of the contracts at `paths`, their schemas' compatibility included."""
    import contracts

    problems: list[contracts.Problem] = []
    for path in _contract_files(paths):
        found = contracts.lint_contract(path)
        problems.extend(found)
        if not found:
            try:
                versions = _versions(path)
            except BadConfiguration as exc:
                problems.append(contracts.Problem(exc.where or str(path), None, "schema", exc.message))
                continue
            problems.extend(contracts.check_schema_history(contracts.load_contract(path), versions))
    return problems


@contract_app.command("lint")
def lint(
    paths: Annotated[
        list[Path] | None, typer.Argument(help="contract.yaml files or folders; the catalog if omitted.")
    ] = None,
) -> None:
    """Report every problem of each contract with file:line: field, schema versions included."""
    files = _contract_files(list(paths or []))
    problems = lint_paths(files)
    for problem in problems:
        err_console.print(f"[red]✗[/] {problem}", highlight=False, soft_wrap=True)
    if problems:
        err_console.print(f"[red]{len(problems)} problem(s)[/] in {len(files)} contract(s)")
        raise typer.Exit(1)
    console.print(f"[green]✓[/] {len(files)} contract(s) clean")


def _load(path: Path) -> tuple[contracts.Contract, schemas.AvroSchema]:
    import contracts
    import schemas

    file = path / _CONTRACT if path.is_dir() else path
    contract = contracts.load_contract(file)
    return contract, schemas.load_schema(contract.schema_path)


@contract_app.command("diff")
def diff(
    old: Annotated[Path, typer.Argument(help="The old contract.yaml (or its dataset folder).")],
    new: Annotated[Path, typer.Argument(help="The new contract.yaml (or its dataset folder).")],
) -> None:
    """Breaking changes from the consumer's and the producer's side; exit 1 on a break."""
    import contracts

    old_contract, old_schema = _load(old)
    new_contract, new_schema = _load(new)
    changes = contracts.diff_contracts(old_contract, new_contract, old_schema, new_schema)
    if not changes:
        console.print("[green]✓[/] no change")
        return
    table = Table(title=f"{old_contract.id} {old_contract.version} → {new_contract.version}")
    for column in ("breaks", "side", "change", "field", "detail"):
        table.add_column(column, overflow="fold")
    for change in sorted(changes, key=lambda c: (not c.breaking, c.side, c.field)):
        mark = "[red]yes[/]" if change.breaking else "[green]no[/]"
        table.add_row(mark, change.side, change.kind, change.field, change.message)
    print_table(table, console)
    breaking = sum(1 for c in changes if c.breaking)
    if breaking:
        err_console.print(f"[red]{breaking} breaking change(s)[/]")
        raise typer.Exit(1)
    console.print("[green]✓[/] no breaking change")


@contract_app.command("export-gx")
def export_gx(
    dataset: Annotated[str, typer.Argument(help="Dataset id in the catalog, or a contract.yaml path.")],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the suite here instead of stdout.")
    ] = None,
) -> None:
    """Write the dataset's Great Expectations 1.x ExpectationSuite as JSON."""
    import contracts

    given = Path(dataset)
    if given.suffix in (".yaml", ".yml") or given.is_dir():
        path = given / _CONTRACT if given.is_dir() else given
    else:
        path = settings_from_env().catalog_dir / "datasets" / dataset / _CONTRACT
    if not path.is_file():
        raise BadConfiguration(
            "no contract for this dataset", where=str(path), hint="name a dataset of the catalog"
        )
    text = contracts.gx_suite_json(contracts.load_contract(path))
    if output is None:
        typer.echo(text, nl=False)
        return
    output.write_text(text, encoding="utf-8")
    console.print(f"[green]✓[/] wrote {output}")
