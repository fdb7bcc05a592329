"""`govbus privacy risk | budget | retention` (Typer + Rich), and the privacy part of `govbus check`.

Mounted by exchange/cli/main.py as `govbus privacy`. See docs/privacy.md.

* `risk SUBSCRIPTION` — what the subscription would receive now (the dataset's current
  state, decided, minimized and through its disclosure policy): rows unique on the
  quasi-identifiers, the smallest class, and the linkage attack of every other
  subscription of the dataset (the share of rows, and of persons through a pseudonym,
  another copy singles out); exit 1 when it breaks its policy's thresholds, naming the
  fields to coarsen.
* `budget` — the privacy budget (epsilon) each recipient has spent per purpose.
* `retention` — enforce the contracts' `data_life` on the bus's copies (snapshot, staged
  segments, quarantine), purge at recipients what they kept past a consent's `data_life`
  (`exchange.erasure.consent_retention`), and record the expiry of consents whose
  validity has ended.

No command prints a value of a row or an identifier: counts, shares and field names.

Start-up: typer, rich, the standard library and the kernel only at module level.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from exchange.cli.common import bus_from_env, console, err_console
from exchange.cli.output import Format, FormatOption, emit_csv, emit_json, print_table
from govbus.errors import BadInput, GovBusError

if TYPE_CHECKING:
    from exchange.catalog import Catalog
    from exchange.run.disclosure import Assessment
    from exchange.state import Settings

__all__ = ["check_privacy", "privacy_app"]

privacy_app = typer.Typer(
    help="Disclosure control: measured re-identification risk, privacy budgets, retention.",
    no_args_is_help=True,
)

LINKAGE_COLUMNS = ("other", "fields", "singled_out", "rows", "share", "linked_persons", "persons")


def _shape(found: Assessment) -> dict[str, Any]:
    r = found.report
    return {
        "subscription": found.subscription,
        "rows": r.rows,
        "suppressed": r.suppressed,
        "quasi_identifiers": list(r.quasi_identifiers),
        "uniques": r.uniques,
        "smallest_class": r.smallest_class,
        "classes": r.classes,
        "linkage": [
            {
                "other": item.other,
                "fields": list(item.fields),
                "singled_out": item.singled_out,
                "rows": item.rows,
                "share": round(item.share, 6),
                "linked_persons": item.linked_subjects,
                "persons": item.subjects,
            }
            for item in r.linkage
        ],
        "coarsen": list(r.coarsen),
        "policy": found.policy.describe() if found.policy is not None else None,
        "refused": list(found.problems),
    }


@privacy_app.command("risk")
def risk(
    subscription: Annotated[str, typer.Argument(help="A subscription id (`govbus subscription list`).")],
    output: FormatOption = Format.table,
) -> None:
    """Re-identification risk of what a subscription would receive now; exit 1 above its policy."""
    from exchange.run.disclosure import assess

    with bus_from_env() as bus:
        sub = bus.catalog.subscriptions.get(subscription)
        if sub is None:
            raise BadInput(
                f"no subscription {subscription!r}",
                where="subscription",
                hint="`govbus subscription list` lists them",
            )
        found = assess(bus, sub)
    shape = _shape(found)
    if output is Format.json:
        emit_json(shape)
    elif output is Format.csv:
        emit_csv(LINKAGE_COLUMNS, shape["linkage"])
    else:
        _print_risk(shape)
    if found.refused:
        raise typer.Exit(1)


def _print_risk(shape: dict[str, Any]) -> None:
    qis = ", ".join(shape["quasi_identifiers"]) or "none (the contract tags no quasi-identifier it receives)"
    console.print(
        f"[bold]{shape['subscription']}[/]: {shape['rows']:,} row(s) would be delivered", highlight=False
    )
    console.print(f"  quasi-identifiers: {qis}", highlight=False, soft_wrap=True)
    console.print(
        f"  unique on them: {shape['uniques']:,}; smallest class: {shape['smallest_class']:,}; "
        f"classes: {shape['classes']:,}; suppressed to reach k: {shape['suppressed']:,}",
        highlight=False,
    )
    table = Table(title="Linkage with the other subscriptions' copies", title_justify="left")
    for column in ("other copy", "matched on", "rows singled out", "share", "persons linked"):
        table.add_column(column)
    for item in shape["linkage"]:
        persons = "—" if item["persons"] is None else f"{item['linked_persons']:,} of {item['persons']:,}"
        table.add_row(
            item["other"],
            ", ".join(item["fields"]),
            f"{item['singled_out']:,} of {item['rows']:,}",
            f"{item['share']:.1%}",
            persons,
        )
    print_table(table, console)
    if shape["coarsen"]:
        console.print(f"  coarsen first: {', '.join(shape['coarsen'])}", highlight=False)
    for problem in shape["refused"]:
        err_console.print(f"[red]✗[/] refused: {problem}", highlight=False, soft_wrap=True)
    if shape["policy"] is None:
        console.print("  no disclosure policy applies (the purpose and the subscription state none)")
    elif not shape["refused"]:
        console.print("[green]✓[/] within its disclosure policy")


@privacy_app.command("budget")
def budget(
    recipient: Annotated[str | None, typer.Option(help="Only this agency.")] = None,
    output: FormatOption = Format.table,
) -> None:
    """The privacy budget (epsilon) spent per recipient and purpose, of the catalog's total."""
    import consent

    with bus_from_env() as bus, bus.engine.connect() as conn:
        scopes = sorted(
            {
                (s.agency, s.purpose, s.disclosure.budget)
                for s in bus.catalog.subscriptions.values()
                if s.disclosure is not None and s.disclosure.budget is not None
            }
        )
        rows = [
            {"recipient": who, "purpose": why, "spent": consent.budget_spent(conn, who, why), "budget": total}
            for who, why, total in scopes
            if recipient is None or who == recipient
        ]
    if output is Format.json:
        emit_json({"budgets": rows})
        return
    if output is Format.csv:
        emit_csv(("recipient", "purpose", "spent", "budget"), rows)
        return
    if not rows:
        console.print("No subscription releases differentially private aggregates.")
        return
    table = Table(title="Privacy budgets (epsilon)", title_justify="left")
    for column in ("recipient", "purpose", "spent", "budget", "left"):
        table.add_column(column)
    for row in rows:
        left = max(row["budget"] - row["spent"], 0.0)
        table.add_row(
            row["recipient"], row["purpose"], f"{row['spent']:g}", f"{row['budget']:g}", f"{left:g}"
        )
    print_table(table, console)


@privacy_app.command("retention")
def retention() -> None:
    """Enforce `data_life`: the bus's copies, consents' data life at recipients; record expired consents.

    Schedule it daily. Exit 1 when a purge could not be delivered or a consent's subject
    is no longer held by the bus (each named by id, with what to do).
    """
    from exchange.erasure.consent_retention import purge_lapsed_data_life
    from exchange.erasure.holdings import enforce_retention

    with bus_from_env() as bus:
        removals = enforce_retention(bus)
        lapsed = purge_lapsed_data_life(bus)
        with bus.locked("ledger"), bus.engine.begin() as conn:
            expired = bus.register.expire_due(conn)
    for removal in removals:
        console.print(
            f"  {removal.dataset}: {removal.rows:,} row(s) past their data_life removed from the "
            f"{removal.copy} (ledger: bus-copy.removed)",
            highlight=False,
        )
    if not removals:
        console.print("No row of the bus's copies is past its dataset's data_life.")
    for outcome in lapsed.issued:
        p = outcome.purge
        console.print(
            f"  purge {p.purge_id}: {p.recipient} must erase a subject's rows of {p.dataset} kept past "
            f"consent {p.consent_id}'s data_life ({len(p.batches)} batch(es), channel {p.channel}, "
            f"now {p.status})",
            highlight=False,
            soft_wrap=True,
        )
    if not lapsed.issued:
        console.print("No delivery is past its consent's data_life without a purge.")
    for outcome in lapsed.failed:
        err_console.print(
            f"[red]✗[/] purge {outcome.purge.purge_id} for {outcome.purge.recipient} not delivered: "
            f"{outcome.problem} (run again to retry)",
            highlight=False,
            soft_wrap=True,
        )
    for consent_id in lapsed.unresolved:
        err_console.print(
            f"[yellow]![/] consent {consent_id}: data_life elapsed, but the bus no longer holds the subject "
            "to name them to the recipient: issue `govbus consent erase SUBJECT --recipient R --dataset D`",
            highlight=False,
            soft_wrap=True,
        )
    console.print(f"{expired} consent(s) expired (an `expired` event each).", highlight=False)
    if lapsed.failed or lapsed.unresolved:
        raise typer.Exit(1)


def check_privacy(settings: Settings) -> bool:
    """The privacy part of `govbus check`: warnings, then refusals; True when the check fails.

    Warnings: a field whose classification contradicts its tags, a controller that leaves
    a receipt field undeclared. Refusals: a translations file of what citizens read
    (`catalog/translations/<code>.yaml`) that names what the catalog lacks or holds a bad
    text, and a subscription whose would-be delivery breaks its disclosure policy
    (measured only where the state database exists, with data).
    """
    import contracts
    from exchange.catalog.loader import load_catalog
    from exchange.catalog.receipt_terms import controller_gaps

    catalog = load_catalog(settings.catalog_dir)
    for dataset in sorted(catalog.datasets.values(), key=lambda d: d.id):
        for warning in contracts.tag_warnings(dataset.contract):
            err_console.print(f"[yellow]![/] {warning}", highlight=False, soft_wrap=True)
    for gap in controller_gaps(catalog):
        err_console.print(f"[yellow]![/] {gap}", highlight=False, soft_wrap=True)
    failed = _check_translations(catalog)
    governed = [s for s in catalog.subscriptions.values() if s.disclosure is not None]
    if not governed or not _state_exists(settings):
        return failed
    from exchange import Bus
    from exchange.run.disclosure import assess

    try:
        bus = Bus.open(settings, catalog=catalog)
    except GovBusError:
        return failed  # the state database is not reachable: the catalog alone was checked
    try:
        for sub in sorted(bus.catalog.subscriptions.values(), key=lambda s: s.id):
            if sub.disclosure is None:
                continue
            found = assess(bus, sub)
            for problem in found.problems:
                failed = True
                err_console.print(f"[red]✗[/] {sub.file}: {sub.id}: disclosure: {problem}", soft_wrap=True)
            if not found.problems and found.report.rows:
                console.print(
                    f"[green]✓[/] {sub.id}: within its disclosure policy (smallest class "
                    f"{found.report.smallest_class}, {found.report.rows:,} rows)",
                    highlight=False,
                )
    finally:
        bus.close()
    return failed


def _check_translations(catalog: Catalog) -> bool:
    """Each declared language's translations of the catalog's citizen texts; True on a problem."""
    from exchange.catalog.translations import catalog_texts, language_codes

    failed = False
    try:
        languages = language_codes(catalog.root, default="en")
    except GovBusError as exc:
        err_console.print(f"[red]✗[/] {exc}", highlight=False, soft_wrap=True)
        return True
    for code in languages[1:]:
        try:
            catalog_texts(catalog, code, languages[0])
        except GovBusError as exc:
            failed = True
            err_console.print(f"[red]✗[/] {exc}", highlight=False, soft_wrap=True)
    return failed


def _state_exists(settings: Settings) -> bool:
    """True when the state database is there and migrated (`govbus check` creates nothing)."""
    from exchange import state

    url = settings.state_url
    if url.startswith("sqlite"):
        import sqlalchemy as sa

        if not Path(sa.make_url(url).database or "").is_file():
            return False
    engine = state.make_engine(url)
    try:
        return state.migrate.current(engine) == state.migrate.head()
    except GovBusError:
        return False
    finally:
        engine.dispose()
