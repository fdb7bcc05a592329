"""`govbus consent ...` (Typer + Rich).

Mounted by exchange/cli/main.py as `govbus consent`; the key commands and
`verify-delivery` are in `exchange/cli/keys.py`, the receipt commands in
`exchange/cli/receipts.py`, the erasure commands in `exchange/cli/erasure.py`.

What a user must know: no command prints a raw subject id except `show` and `receipt`,
which are the citizen's own view (the id was typed by the user). Errors are GovBus
errors; `exchange.cli.main.main` turns them into one line and an exit code.

The consent part is imported when a command runs, not by `govbus --help`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from exchange.cli.common import bus_from_env, console, err_console, format_when
from exchange.cli.output import Format, FormatOption, emit_csv, emit_json, print_table, print_whole
from govbus import instants
from govbus.errors import BadInput

if TYPE_CHECKING:
    import consent
    from exchange.bus import Bus

__all__ = ["consent_app", "console", "err_console", "scope_check"]

consent_app = typer.Typer(
    help="Citizens' consents: grant, pause, resume, revoke, import, show, explain, receipts; erasure.",
    no_args_is_help=True,
)

At = Annotated[str | None, typer.Option("--at", help="When it takes effect (ISO 8601; default now).")]
ConsentId = Annotated[str, typer.Argument(help="The consent id (a UUID).")]


def _instant(text: str | None, where: str, *, end_of_day: bool = False) -> datetime | None:
    return None if text is None else instants.parse_instant(text, where=where, end_of_day=end_of_day)


def scope_check(bus: Bus) -> consent.ScopeCheck:
    """A `consent.ScopeCheck` from the catalog: recipient, dataset, purpose and fields exist."""

    def check(recipient: str, dataset: str, purpose: str, fields: Sequence[str]) -> None:
        catalog = bus.catalog
        if recipient not in catalog.agencies:
            raise BadInput(
                "is not a member agency",
                where="recipient",
                hint="known: " + ", ".join(sorted(catalog.agencies)),
            )
        if dataset not in catalog.datasets:
            raise BadInput(
                "is not a dataset of the catalog",
                where="dataset",
                hint="known: " + ", ".join(sorted(catalog.datasets)),
            )
        if purpose not in catalog.purposes:
            raise BadInput(
                "is not a declared purpose",
                where="purpose",
                hint="known: " + ", ".join(sorted(catalog.purposes)),
            )
        names = set(catalog.datasets[dataset].schema.arrow.names)
        unknown = [name for name in fields if name not in names]
        if unknown:
            raise BadInput(f"field {unknown[0]} is not in dataset {dataset}", where="fields")

    return check


@consent_app.command("grant")
def grant(
    subject: Annotated[str, typer.Argument(help="The citizen's id (stored only as an audit pseudonym).")],
    recipient: Annotated[str, typer.Option(help="Agency that may receive the data.")],
    dataset: Annotated[str, typer.Option(help="Dataset id, e.g. tax.income.")],
    purpose: Annotated[str, typer.Option(help="Purpose code, e.g. HOUSING_ALLOWANCE.")],
    fields: Annotated[str, typer.Option(help="Fields consented to, comma-separated.")],
    valid_from: Annotated[str | None, typer.Option(help="Start (ISO 8601; default now).")] = None,
    valid_until: Annotated[str | None, typer.Option(help="End, exclusive (a date: through it).")] = None,
    data_life: Annotated[str | None, typer.Option(help="How long the recipient may keep it (P1Y).")] = None,
    frequency: Annotated[str | None, typer.Option(help="ONCE or the interval between fetches (P1D).")] = None,
    method: Annotated[str, typer.Option("--method", help="How it was collected (paper-form).")] = "",
    evidence: Annotated[str, typer.Option(help="Reference to the signed form or channel record.")] = "",
    given_at: Annotated[
        str | None, typer.Option(help="When the citizen gave it (default: its start, or now).")
    ] = None,
) -> None:
    """Record a citizen's consent; prints its id (never the citizen's id)."""
    names = [name.strip() for name in fields.split(",") if name.strip()]
    with bus_from_env() as bus:
        scope_check(bus)(recipient, dataset, purpose, names)
        with bus.engine.begin() as conn:
            consent_id = bus.register.grant(
                conn,
                subject,
                recipient,
                dataset,
                purpose,
                names,
                valid_from=_instant(valid_from, "--valid-from"),
                valid_until=_instant(valid_until, "--valid-until", end_of_day=True),
                evidence=evidence,
                data_life=data_life,
                frequency=frequency,
                collection_method=method,
                given_at=_instant(given_at, "--given-at"),
            )
    console.print(
        f"[green]✓[/] consent [bold]{consent_id}[/] granted: {recipient} may receive "
        f"{', '.join(names)} of {dataset} for {purpose}",
        highlight=False,
    )
    for warning in grant_warnings(bus, recipient, dataset, purpose, names, method):
        err_console.print(f"[yellow]![/] {warning}", highlight=False, soft_wrap=True)


def grant_warnings(
    bus: Bus, recipient: str, dataset: str, purpose: str, fields: Sequence[str], method: str
) -> list[str]:
    """What makes a grant doubtful: no subscription could use it, no collection method."""
    warnings = []
    scope = [
        s
        for s in bus.catalog.subscriptions_for(dataset)
        if s.agency == recipient and s.purpose == purpose and s.statute is None
    ]
    if not any(set(s.fields) <= set(fields) for s in scope):
        asked = "; ".join(f"{s.id} asks for {', '.join(s.fields)}" for s in scope)
        warnings.append(
            f"no subscription can use this consent: {recipient} has no consent-based subscription to "
            f"{dataset} for {purpose} asking only for fields it covers"
            + (f" ({asked})" if asked else "")
            + "; nothing will be delivered under it"
        )
    if not method:
        warnings.append("no collection method given (--method): the receipt will say 'not declared'")
    return warnings


def _change(verb: str, consent_id: str, at: str | None) -> None:
    with bus_from_env() as bus, bus.engine.begin() as conn:
        method = {
            "paused": bus.register.pause,
            "resumed": bus.register.resume,
            "revoked": bus.register.revoke,
        }[verb]
        changed = method(conn, consent_id, _instant(at, "--at"))
    if changed:
        console.print(f"[green]✓[/] consent {consent_id} {verb}", highlight=False)
    else:
        console.print(f"consent {consent_id} was already {verb}: nothing changed", highlight=False)


@consent_app.command("revoke")
def revoke(
    consent_id: ConsentId,
    at: At = None,
    erase: Annotated[
        bool, typer.Option("--erase", help="Also purge what recipients received under it (needs --subject).")
    ] = False,
    subject: Annotated[
        str | None,
        typer.Option(help="With --erase: the citizen's id, checked against the consent (never stored)."),
    ] = None,
) -> None:
    """Revoke a consent: no delivery relies on it from then on; with --erase, recipients purge its data."""
    if not erase:
        if subject is not None:
            raise BadInput("--subject is used only with --erase", where="--subject")
        _change("revoked", consent_id, at)
        return
    if subject is None:
        raise BadInput(
            "an erasure needs the citizen's id",
            where="--subject",
            hint="the bus keeps only a pseudonym: it can name the citizen to recipients only if given the id",
        )
    from exchange.cli.erasure import print_run
    from exchange.erasure.purges import erase_consent

    with bus_from_env() as bus:
        run = erase_consent(bus, consent_id, subject, at=_instant(at, "--at"))
    state = "revoked" if run.revoked else "was already revoked"
    console.print(f"[green]✓[/] consent {consent_id} {state}; erasure requested", highlight=False)
    print_run(run, "Erasure of what was delivered under the consent")


@consent_app.command("pause")
def pause(consent_id: ConsentId, at: At = None) -> None:
    """Pause a consent until it is resumed."""
    _change("paused", consent_id, at)


@consent_app.command("resume")
def resume(consent_id: ConsentId, at: At = None) -> None:
    """Resume a paused consent."""
    _change("resumed", consent_id, at)


@consent_app.command("import")
def import_file(path: Annotated[Path, typer.Argument(help="CSV file with a header row.")]) -> None:
    """Import consents and changes from CSV; bad lines are listed by number, the rest imported."""
    import consent

    with bus_from_env() as bus, bus.engine.begin() as conn:
        report = consent.import_consents(bus.register, conn, path, scope_check=scope_check(bus))
    table = Table(title=f"Import of {path.name}", title_justify="left")
    table.add_column("line", justify="right")
    table.add_column("action")
    table.add_column("result", overflow="fold")
    table.add_column("consent", no_wrap=True, min_width=36)
    for line in report.lines:
        result = (
            f"[red]rejected[/]: {line.reason}" if line.outcome == "rejected" else f"[green]{line.outcome}[/]"
        )
        table.add_row(str(line.line), line.action, result, line.consent_id or "")
    print_table(table, console)
    counts = ", ".join(f"{n} {outcome}" for outcome, n in sorted(report.counts().items()))
    console.print(f"{len(report.lines)} line(s): {counts or 'none'}", highlight=False)
    if report.rejected:
        raise typer.Exit(BadInput.exit_code)


@consent_app.command("show")
def show(
    subject: Annotated[str, typer.Argument(help="The citizen's id.")],
    history: Annotated[bool, typer.Option("--history", help="List every change too.")] = False,
    output: FormatOption = Format.table,
) -> None:
    """A citizen's consents with their status, terms and (with --history) every change."""
    from exchange.views import mask_id
    from exchange.views.consents import CONSENT_CSV_COLUMNS, consents_csv_rows, subject_consents

    with bus_from_env() as bus:
        # Expiry is an event: record those due (at their end) so every format shows EXPIRED.
        with bus.locked("ledger"), bus.engine.begin() as conn:
            bus.register.expire_due(conn)
        consents = subject_consents(bus, subject, history=history)
    if output is Format.json:  # the shape names no subject: a script already has the id
        emit_json({"consents": [c.to_json() for c in consents]})
        return
    if output is Format.csv:
        emit_csv(CONSENT_CSV_COLUMNS, consents_csv_rows(consents))
        return
    # The id is shown masked, as the portal shows it: terminals are logged and shared.
    masked = mask_id(subject)
    if not consents:
        console.print(f"No consent is recorded for subject {masked}.", highlight=False)
        return
    console.print(f"[bold]Consents of subject {masked}[/]: {len(consents)}", highlight=False)
    for c in consents:
        grid = Table.grid(padding=(0, 2))
        grid.add_column(style="dim", no_wrap=True)
        grid.add_column(overflow="fold")
        for label, value in (
            ("recipient", c.recipient),
            ("dataset", c.dataset),
            ("purpose", c.purpose),
            ("fields", ", ".join(c.fields)),
            ("valid from", format_when(c.valid_from)),
            ("valid until", format_when(c.valid_until)),
            ("status", f"{c.status} (version {c.version})"),
            ("data life", c.data_life or "not stated"),
            ("frequency", c.frequency or "any"),
            ("collected by", c.collection_method or "not stated"),
            ("evidence", c.evidence or "—"),
        ):
            grid.add_row(label, value)
        for event in c.history or ():
            grid.add_row(
                f"v{event.version} {event.event}",
                f"effective {format_when(event.at)}, recorded {format_when(event.recorded_at)}",
            )
        console.print(f"\n[bold]consent {c.consent_id}[/]", highlight=False)
        print_whole(grid)


@consent_app.command("explain")
def explain(
    subject: Annotated[str, typer.Argument(help="The citizen's id (not echoed).")],
    dataset: Annotated[str, typer.Argument(help="Dataset id.")],
    recipient: Annotated[str, typer.Argument(help="Recipient agency id.")],
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="Replay the decision at this time, from what was recorded by then."),
    ] = None,
) -> None:
    """The decision for one citizen, dataset and recipient, and its basis (statute or consent)."""
    import consent

    at = _instant(as_of, "--as-of") or instants.utc_now()
    with bus_from_env() as bus, bus.engine.connect() as conn:
        subs = [s for s in bus.catalog.subscriptions_for(dataset) if s.agency == recipient]
        answers = [
            (
                s,
                consent.explain(
                    bus.register,
                    conn,
                    subject,
                    dataset=dataset,
                    recipient=recipient,
                    purpose=s.purpose,
                    fields=s.fields,
                    at=at,
                    known_at=at if as_of else None,
                    statute=bus.catalog.statutes[s.statute] if s.statute else None,
                ),
            )
            for s in subs
        ]
    when = f"as of {format_when(at)}" + (" (replayed from what was recorded then)" if as_of else "")
    if not answers:
        console.print(
            f"[red]DENIED[/]: {recipient} has no subscription to {dataset}; nothing is delivered ({when})",
            highlight=False,
        )
        return
    for sub, answer in answers:
        verdict = "[green]ALLOWED[/]" if answer.allowed else "[red]DENIED[/]"
        basis = f"basis {answer.basis_kind} {answer.basis}" if answer.basis else "no legal basis"
        console.print(
            f"{verdict} {sub.id} ({sub.purpose}; fields {', '.join(sub.fields)}) {when}: {basis}",
            highlight=False,
        )
        for reason in answer.reasons:
            console.print(f"  • {reason}", highlight=False)
        for item in answer.consents:
            covers = "" if item.covers else f", does not cover {', '.join(item.missing) or 'every field'}"
            console.print(f"  consent {item.consent_id}: {item.state}{covers}", highlight=False)
