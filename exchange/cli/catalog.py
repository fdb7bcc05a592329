"""`govbus catalog list | show DATASET`: what datasets exist, for any agency to read.

Mounted by `exchange.cli.main` with `app.add_typer(catalog_app, name="catalog")`. Both
commands print `exchange.views.catalog_entries` — the same descriptions the portal's
catalog pages and `GET /api/catalog` give: owner, fields with Avro types, descriptions,
classification and tags, the contract's rules in words, SLA and freshness, purposes
served, the statutes that allow which fields, how many subscribers. Never a data value.

What a user must know:

* The catalog is read from `GOVBUS_CATALOG` and needs no state database. When the state
  database exists (the SQLite file under GOVBUS_HOME, or `GOVBUS_STATE_URL`), the bus is
  opened for freshness and for subscriptions it holds; if it cannot be reached, freshness
  is `unknown` and a warning says why.
* `--format json` is the documented shape (`exchange/views/catalog_shapes.py`, keys in
  a fixed order) and `--format csv` one row per dataset (`show`: per field) with a
  header; both are plain text, never wrapped. Tables go through `exchange.cli.output`:
  cells wrap instead of being cut, and piped output is as wide as its content.
* A filter naming an agency, tag or purpose the catalog does not know is refused (exit
  65) with the known values; an unknown dataset is a configuration error (exit 78)
  naming the known ids.

The views and the catalog (SQLAlchemy, the parts) are imported when a command runs.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.panel import Panel
from rich.table import Table

from exchange.cli.common import bus_from_env, console, err_console, settings_from_env
from exchange.cli.output import Format, FormatOption, emit_csv, print_table, print_whole
from govbus.errors import TransientError

if TYPE_CHECKING:
    from exchange.catalog import Catalog
    from exchange.state import Settings
    from exchange.views.catalog_entries import CatalogEntry, CatalogQuery

__all__ = ["ListFormat", "ShowFormat", "catalog_app", "console"]

catalog_app = typer.Typer(
    help="What datasets exist: owner, fields, rules, purposes, legal bases (no data).", no_args_is_help=True
)


ListFormat = Format
"""`govbus catalog list --format`: a terminal table, JSON (the documented shape) or CSV."""
ShowFormat = Format
"""`govbus catalog show --format`: panels and tables, JSON (the documented shape), or CSV of
the fields (`FIELD_CSV_COLUMNS`: one row per field)."""
FIELD_CSV_COLUMNS = (
    "dataset",
    "field",
    "type",
    "nullable",
    "classification",
    "tags",
    "special_category",
    "reversible_by",
    "description",
)


@catalog_app.command("list")
def list_command(
    owner: Annotated[str | None, typer.Option(help="Only datasets this agency (id) owns.")] = None,
    tag: Annotated[str | None, typer.Option(help="Only datasets with a field of this tag.")] = None,
    purpose: Annotated[str | None, typer.Option(help="Only datasets serving this purpose (code).")] = None,
    search: Annotated[
        str | None, typer.Option(help="Text in the id, the description or a field name (any case).")
    ] = None,
    output: FormatOption = Format.table,
) -> None:
    """Every dataset of the catalog, or those the filters match."""
    from exchange.views.catalog_entries import CatalogQuery, catalog_csv, catalog_json

    query = CatalogQuery(owner=owner, tag=tag, purpose=purpose, search=search)
    entries = _described(query=query)
    if output is ListFormat.json:
        typer.echo(catalog_json(entries))
    elif output is ListFormat.csv:
        typer.echo(catalog_csv(entries), nl=False)
    elif not entries:
        console.print("No dataset matches.")
    else:
        print_table(_list_table(entries))


@catalog_app.command("show")
def show_command(
    dataset: Annotated[str, typer.Argument(help="Dataset id (see `govbus catalog list`).")],
    output: FormatOption = Format.table,
) -> None:
    """One dataset: fields with types, rules in words, SLA, purposes, legal bases, subscribers."""
    from exchange.views.catalog_entries import catalog_json

    [entry] = _described(dataset=dataset)
    if output is Format.json:
        typer.echo(catalog_json(entry))
        return
    if output is Format.csv:
        emit_csv(
            FIELD_CSV_COLUMNS,
            [
                {
                    "dataset": entry.id,
                    "field": f.name,
                    **asdict(f),
                    "special_category": f.special_category.text if f.special_category else "",
                }
                for f in entry.fields
            ],
        )
        return
    for part in _show_parts(entry):
        if isinstance(part, Table):
            print_table(part)
        else:
            print_whole(part)


# -- reading ----------------------------------------------------------------------------


def _described(*, dataset: str | None = None, query: CatalogQuery | None = None) -> list[CatalogEntry]:
    """The entries asked for: through the bus when there is a state database, else the catalog alone."""
    from exchange.catalog import load_catalog

    settings = settings_from_env()
    if _has_state(settings):
        try:
            with bus_from_env(settings) as bus:
                return _entries(bus.catalog, bus.engine, dataset, query)
        except TransientError as exc:
            err_console.print(
                f"[yellow]![/] state database unavailable, freshness unknown: {exc}",
                highlight=False,
                soft_wrap=True,
            )
    return _entries(load_catalog(settings.catalog_dir), None, dataset, query)


def _entries(
    catalog: Catalog, engine: Any, dataset: str | None, query: CatalogQuery | None
) -> list[CatalogEntry]:
    from exchange.views.catalog_entries import catalog_entries, catalog_entry

    if dataset is not None:
        return [catalog_entry(catalog, dataset, engine=engine)]
    if query is not None:
        query.check(catalog)
    return catalog_entries(catalog, engine=engine, query=query)


def _has_state(settings: Settings) -> bool:
    """A state database exists: a server's URL, or a SQLite file already there (none is created)."""
    from sqlalchemy.engine import make_url

    url = make_url(settings.state_url)
    if url.get_backend_name() != "sqlite":
        return True
    return bool(url.database) and url.database != ":memory:" and Path(url.database).is_file()


# -- printing ---------------------------------------------------------------------------


def _list_table(entries: list[CatalogEntry]) -> Table:
    table = Table(title=f"Catalog: {len(entries)} dataset(s)", title_justify="left")
    columns = ("dataset", "owner", "description", "fields", "tags", "purposes", "subscribers", "freshness")
    for column in columns:
        table.add_column(column, justify="right" if column in ("fields", "subscribers") else "left")
    for e in entries:
        table.add_row(
            e.id,
            e.owner.id,
            e.description,
            str(len(e.fields)),
            ", ".join(e.tags),
            ", ".join(p.code for p in e.purposes),
            str(e.subscribers),
            _freshness_text(e),
        )
    return table


def _freshness_text(entry: CatalogEntry) -> str:
    fresh = entry.freshness
    when = f" (last commit {fresh.last_committed_at})" if fresh.last_committed_at else ""
    return f"{fresh.status}{when}"


def _sla_text(entry: CatalogEntry) -> str:
    sla = entry.sla
    parts = [f"fresh within {sla.freshness}" if sla.freshness else "no freshness promise"]
    if sla.min_rows:  # at least 0 rows promises nothing
        parts.append(f"at least {sla.min_rows:,} row(s) per run")
    if sla.max_rows is not None:
        parts.append(f"at most {sla.max_rows:,} row(s) per run")
    return f"{'; '.join(parts)}; a breach {'fails the run' if sla.on_breach == 'fail' else 'warns'}"


def _show_parts(e: CatalogEntry) -> list[Any]:
    facts = Table.grid(padding=(0, 2))
    facts.add_column(style="bold")
    facts.add_column()
    current = next((v for v in e.schema_versions if v.current), None)
    schema = f"{current.label}, SHA-256 {current.fingerprint_sha256}" if current else "—"
    consent = "yes (sensitive fields never leave on consent)" if e.consent_access else "no"
    for label, value in (
        ("Owner", f"{e.owner.name} ({e.owner.id})"),
        ("Description", e.description),
        ("Why it is shared", e.purpose),
        ("Contract", f"version {e.version}, compatibility {e.compatibility}"),
        ("Schema", f"{schema}; {len(e.schema_versions)} version(s)"),
        ("Subject field", e.subject_field),
        ("Key", ", ".join(e.key_fields)),
        ("Cursor", e.cursor_field or "— (each read is whole)"),
        ("SLA", _sla_text(e)),
        ("Freshness", _freshness_text(e)),
        ("Subscribers", str(e.subscribers)),
        ("Consent-based access", consent),
    ):
        facts.add_row(label, value)
    parts: list[Any] = [Panel.fit(facts, title=e.id, title_align="left")]

    fields = Table(title="Fields", title_justify="left")
    for column in ("field", "type", "classification", "tags", "reversible by", "description"):
        fields.add_column(column)
    for f in e.fields:
        reversible_by = ", ".join(f.reversible_by)
        tags = ", ".join(f.tags)
        if f.special_category is not None:  # in words: a reader need not know which tags count
            tags = f"{tags}\n[bold]{f.special_category.text}[/]" if tags else f.special_category.text
        fields.add_row(f.name, f.shown_type, f.classification, tags, reversible_by, f.description)
    parts.append(fields)

    rules = Table(title="Rules", title_justify="left")
    rules.add_column("rule")
    rules.add_column("judges")
    for r in e.rules:
        rules.add_row(
            r.text, "each row (one breaking it is quarantined)" if r.level == "row" else "each batch"
        )
    parts.append(rules if e.rules else "No rules beyond the schema.")

    purposes = Table(title="Purposes served", title_justify="left")
    purposes.add_column("purpose")
    purposes.add_column("description")
    for p in e.purposes:
        purposes.add_row(p.code, p.description)
    parts.append(purposes if e.purposes else "No purpose served yet.")

    bases = Table(title="Legal bases (statutes)", title_justify="left")
    for column in ("statute", "law", "recipient", "purpose", "fields allowed", "valid from", "valid until"):
        bases.add_column(column)
    for b in e.legal_bases:
        until = b.valid_until or "—"
        bases.add_row(
            b.statute + ("" if b.in_force else " (not in force)"),
            b.law,
            f"{b.recipient_name} ({b.recipient})",
            b.purpose,
            ", ".join(b.fields),
            b.valid_from or "—",
            until,
        )
    no_statute = "No statute names this dataset: access needs each subject's consent."
    parts.append(bases if e.legal_bases else no_statute)
    return parts
