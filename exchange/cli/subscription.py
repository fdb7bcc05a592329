"""`govbus subscription list | request | show | approve | reject | suspend | resume | end |
decisions | export`, `govbus backfill` and `govbus cursor reset`.

Mounted by `exchange.cli.main`. An agency asks (`request`), the dataset's owner decides
(`approve` / `reject` with `--agency`), the data-protection officer too where the fields
call for it (`--role data-protection`); each decision is signed and in the ledger, and
`decisions --export DIR` writes each one as the exact signed bytes, the raw signature and
the bus's public key, for `openssl pkeyutl -verify`. An approved subscription is active
at the next run, which first delivers the dataset's current state. Who acts is the OS
user unless `--as` names someone; it is recorded in the ledger.

Each command imports the bus and the subscriptions room when it runs, not at start-up.
"""

from __future__ import annotations

import getpass
import json
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from exchange.cli.common import bus_from_env, console, format_when
from exchange.cli.output import Format, FormatOption, emit_csv, emit_json, print_table
from govbus.errors import BadInput

if TYPE_CHECKING:
    from exchange.subscriptions.requests import Request

__all__ = ["backfill", "cursor_app", "subscription_app"]

subscription_app = typer.Typer(
    help="Ask for a dataset, decide on requests, and run a subscription's life.", no_args_is_help=True
)
cursor_app = typer.Typer(
    help="A dataset's source cursor: where its next stage reads from.", no_args_is_help=True
)

AS_HELP = "Who acts, as recorded in the ledger (default: the OS user)."
LIST_CSV_COLUMNS = ("id", "agency", "dataset", "purpose", "basis", "origin", "state", "since")
"""The CSV header of `govbus subscription list --format csv` (the JSON rows' keys)."""
SHOW_CSV_COLUMNS = ("field", "value")
"""`subscription show --format csv`: one row per field of the JSON object (nested values as JSON)."""


def _who(as_name: str | None) -> str:
    return as_name or getpass.getuser()


def _sink(pairs: list[str]) -> dict[str, Any]:
    sink: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise BadInput(f"{pair!r} is not KEY=VALUE", where="--sink", hint="e.g. --sink connector=sql")
        sink[key.strip()] = value
    if "connector" not in sink:
        raise BadInput(
            "the sink names no connector", where="--sink", hint="add --sink connector=sql (or parquet, ...)"
        )
    return sink


@subscription_app.command("request")
def request(
    dataset: Annotated[str, typer.Argument(help="The dataset asked for (see `govbus catalog list`).")],
    agency: Annotated[str, typer.Option(help="The agency asking (the recipient).")],
    purpose: Annotated[str, typer.Option(help="A purpose code of purposes.yaml.")],
    fields: Annotated[str, typer.Option(help="Comma-separated field names.")],
    sink: Annotated[list[str], typer.Option(help="Where to deliver, KEY=VALUE (repeat): connector=..., ...")],
    statute: Annotated[
        str | None, typer.Option(help="The statute allowing it; none: each subject's consent.")
    ] = None,
    sub_id: Annotated[
        str | None, typer.Option("--id", help="The subscription's id (default AGENCY.DATASET).")
    ] = None,
    schedule: Annotated[str | None, typer.Option(help="@daily, @weekly, a cron, or after:DATASET.")] = None,
    ends_on: Annotated[str | None, typer.Option(help="Last day of deliveries, YYYY-MM-DD.")] = None,
    pseudonymize: Annotated[
        bool, typer.Option("--pseudonymize", help="Receive a pseudonym, not the subject id.")
    ] = False,
    note: Annotated[str, typer.Option(help="Why the agency needs it, for the approvers.")] = "",
    as_name: Annotated[str | None, typer.Option("--as", help=AS_HELP)] = None,
) -> None:
    """Ask for a dataset; refused at once, with every reason, if the catalog's rules do not allow it."""
    from exchange.subscriptions import requests

    try:
        end = date.fromisoformat(ends_on) if ends_on else None
    except ValueError:
        raise BadInput(f"{ends_on!r} is not a date", where="--ends-on", hint="YYYY-MM-DD") from None
    spec = requests.RequestSpec(
        agency=agency,
        dataset=dataset,
        purpose=purpose,
        fields=tuple(f.strip() for f in fields.split(",") if f.strip()),
        sink=_sink(sink),
        statute=statute,
        id=sub_id,
        schedule=schedule,
        ends_on=end,
        pseudonymize_subject=pseudonymize,
        note=note,
        requested_by=_who(as_name),
    )
    with bus_from_env() as bus:
        made = requests.submit(bus, spec)
        from exchange.subscriptions.decisions import required_roles

        roles = required_roles(bus.catalog, made)
        owner = bus.catalog.datasets[made.spec.dataset].contract.owner
    console.print(
        f"[green]✓[/] request {made.id} stored (ledger entry {made.ledger_seq}); "
        f"it needs the approval of: {', '.join(roles)} (owner: {owner})",
        highlight=False,
        soft_wrap=True,
    )


def _decide(
    request_id: str, decision: str, role: str, agency: str | None, reason: str, as_name: str | None
) -> None:
    from exchange.subscriptions import decisions

    with bus_from_env() as bus:
        decided = decisions.decide(
            bus, request_id, decision=decision, role=role, agency=agency, by=_who(as_name), reason=reason
        )
    last = decided.decisions[-1]
    console.print(
        f"[green]✓[/] {decision} by {role} recorded (ledger entry {last.get('ledger_seq')}, signed by key "
        f"{last['signature']['keyId']}); request {decided.id} is {decided.status}",
        highlight=False,
        soft_wrap=True,
    )
    if decided.status == "approved":
        console.print("  it becomes active at the dataset's next run, which first delivers the current state")


RoleOption = Annotated[str, typer.Option(help="owner (the dataset's agency) or data-protection.")]
AgencyOption = Annotated[str | None, typer.Option(help="The deciding agency (for the owner role).")]


@subscription_app.command("approve")
def approve(
    request_id: Annotated[str, typer.Argument(help="The request's id.")],
    role: RoleOption = "owner",
    agency: AgencyOption = None,
    reason: Annotated[str, typer.Option(help="Why (recorded, signed).")] = "approved",
    as_name: Annotated[str | None, typer.Option("--as", help=AS_HELP)] = None,
) -> None:
    """Approve a request (signed, in the ledger)."""
    _decide(request_id, "approve", role, agency, reason, as_name)


@subscription_app.command("reject")
def reject(
    request_id: Annotated[str, typer.Argument(help="The request's id.")],
    reason: Annotated[str, typer.Option(help="Why, and what the agency should change.")],
    role: RoleOption = "owner",
    agency: AgencyOption = None,
    as_name: Annotated[str | None, typer.Option("--as", help=AS_HELP)] = None,
) -> None:
    """Reject a request with a reason (signed, in the ledger)."""
    _decide(request_id, "reject", role, agency, reason, as_name)


def _change(action: str, sub_id: str, reason: str, as_name: str | None) -> Any:
    from exchange.subscriptions import lifecycle

    with bus_from_env() as bus:
        life = getattr(lifecycle, action)(bus, sub_id, by=_who(as_name), reason=reason)
        purged = None
        sub = bus.catalog.subscriptions.get(sub_id)
        if action == "end" and sub is not None and sub.statute:
            from govbus.instants import utc_now

            statute = bus.catalog.statutes[sub.statute]
            if not statute.in_force(utc_now()):
                from exchange.erasure import purges

                purged = purges.purge_ended_statutes(bus, sub.statute)
    console.print(f"[green]✓[/] {sub_id} is {life.status}", highlight=False)
    if purged:
        console.print(f"  its statute has lapsed: purges issued for {', '.join(purged)}", highlight=False)


ReasonOption = Annotated[str, typer.Option(help="Why (recorded in the ledger).")]


@subscription_app.command("suspend")
def suspend(
    sub_id: Annotated[str, typer.Argument()],
    reason: ReasonOption = "",
    as_name: Annotated[str | None, typer.Option("--as", help=AS_HELP)] = None,
) -> None:
    """Pause deliveries; on resume the subscription first receives the current state again."""
    _change("suspend", sub_id, reason, as_name)


@subscription_app.command("resume")
def resume(
    sub_id: Annotated[str, typer.Argument()],
    reason: ReasonOption = "",
    as_name: Annotated[str | None, typer.Option("--as", help=AS_HELP)] = None,
) -> None:
    """Deliver again: the current state first, then the changes."""
    _change("resume", sub_id, reason, as_name)


@subscription_app.command("end")
def end(
    sub_id: Annotated[str, typer.Argument()],
    reason: ReasonOption = "",
    as_name: Annotated[str | None, typer.Option("--as", help=AS_HELP)] = None,
) -> None:
    """End for good; if its statute has lapsed, purge what it received."""
    _change("end", sub_id, reason, as_name)


@subscription_app.command("list")
def list_(
    agency: Annotated[str | None, typer.Option(help="Only this agency's subscriptions and requests.")] = None,
    dataset: Annotated[str | None, typer.Option(help="Only this dataset's.")] = None,
    output: FormatOption = Format.table,
) -> None:
    """Every subscription (catalog files and approved requests) and every open or refused request."""
    from exchange.views import subscriptions as listing

    with bus_from_env() as bus:
        rows = listing.subscription_rows(bus, agency=agency, dataset=dataset)
    if output is Format.json:
        emit_json([r.to_json() for r in rows])
        return
    if output is Format.csv:
        emit_csv(LIST_CSV_COLUMNS, [r.to_json() for r in rows])
        return
    table = Table(title="Subscriptions and requests", title_justify="left")
    for column in LIST_CSV_COLUMNS:
        table.add_column(column)
    for r in rows:
        table.add_row(r.id, r.agency, r.dataset, r.purpose, r.basis, r.origin, r.state, format_when(r.since))
    print_table(table, console)


@subscription_app.command("show")
def show(
    sub_id: Annotated[str, typer.Argument(help="A subscription or request id.")],
    output: FormatOption = Format.table,
) -> None:
    """One subscription or request: what it asks, its decisions, its state and initial load."""
    from exchange.views import subscriptions as listing

    with bus_from_env() as bus:
        detail = listing.subscription_detail(bus, sub_id)
    if output is Format.json:
        emit_json(detail)
        return
    if output is Format.csv:
        emit_csv(SHOW_CSV_COLUMNS, [{"field": key, "value": value} for key, value in detail.items()])
        return
    for key, value in detail.items():
        if key == "decisions":
            for d in value:
                console.print(
                    f"decision: {d['decision']} by {d['role']} {d.get('agency') or ''} ({d['by']}) "
                    f"at {d['at']}: "
                    f"{d['reason']} (ledger entry {d.get('ledger_seq')})",
                    highlight=False,
                    markup=False,
                    soft_wrap=True,
                )
        else:
            console.print(f"{key}: {value}", highlight=False, soft_wrap=True, markup=False)


@subscription_app.command("decisions")
def decisions_(
    request_id: Annotated[str, typer.Argument(help="The request's id.")],
    export: Annotated[
        Path, typer.Option(help="Folder to write each decision's signed bytes, signature and key to.")
    ],
) -> None:
    """Write each decision as `decision-N.json` (the signed bytes), `.sig` (raw Ed25519) and the key's PEM."""
    import base64

    import audit
    from exchange.subscriptions.requests import read_request

    with bus_from_env() as bus:
        with bus.engine.connect() as conn:
            found: Request | None = read_request(conn, request_id)
        if found is None:
            raise BadInput(f"no request {request_id!r}", where="request", hint="`govbus subscription list`")
        public = bus.keys.public_keys()
    export.mkdir(parents=True, exist_ok=True)
    for number, stored in enumerate(found.decisions, start=1):
        document = {k: v for k, v in stored.items() if k not in ("ledger_seq", "signature")}
        signature = stored["signature"]
        (export / f"decision-{number}.json").write_bytes(audit.canonical_json(document).encode("utf-8"))
        (export / f"decision-{number}.sig").write_bytes(base64.b64decode(signature["value"]))
        key_id = signature["keyId"]
        if key_id in public:
            (export / f"bus-{key_id}.pub.pem").write_text(audit.public_key_pem(public[key_id]))
        console.print(
            f"decision-{number}: openssl pkeyutl -verify -pubin -inkey bus-{key_id}.pub.pem -rawin "
            f"-in decision-{number}.json -sigfile decision-{number}.sig",
            highlight=False,
            soft_wrap=True,
        )


@subscription_app.command("export")
def export_(
    agency: Annotated[str, typer.Option(help="Whose approved requests.")],
    out: Annotated[Path | None, typer.Option(help="Write to this file (default: print).")] = None,
) -> None:
    """The agency's approved requests as a catalog/subscriptions/<agency>.yaml file, for git."""
    from exchange.subscriptions.merge import export_yaml
    from exchange.subscriptions.requests import APPROVED, list_requests

    with bus_from_env() as bus, bus.engine.connect() as conn:
        text = export_yaml(list_requests(conn, agency=agency, status=APPROVED), agency)
    if out is None:
        console.out(text, highlight=False)
    else:
        out.write_text(text)
        console.print(f"[green]✓[/] wrote {out}", highlight=False)


def backfill(
    dataset: Annotated[str, typer.Argument(help="The dataset.")],
    subscription: Annotated[str, typer.Option(help="The subscription to send the current state again.")],
    since: Annotated[
        str | None, typer.Option(help="Only rows whose cursor field is at or after this date/instant.")
    ] = None,
    reason: Annotated[str, typer.Option(help="Why (recorded in the ledger).")] = "",
    as_name: Annotated[str | None, typer.Option("--as", help=AS_HELP)] = None,
) -> None:
    """Send a subscription the dataset's current state again at its next run (all, or since a date)."""
    from exchange.subscriptions import lifecycle
    from govbus.instants import parse_instant

    bound = parse_instant(since, where="--since") if since else None
    with bus_from_env() as bus:
        lifecycle.request_backfill(
            bus,
            subscription,
            by=_who(as_name),
            since=bound,
            reason=reason,
            dataset_id=dataset,
            where="--subscription",
        )
    console.print(
        f"[green]✓[/] {subscription} receives {dataset}'s current state at its next run", highlight=False
    )


@cursor_app.command("reset")
def reset(
    dataset: Annotated[str, typer.Argument(help="The dataset.")],
    reason: Annotated[str, typer.Option(help="Why the source is read again (recorded).")],
    to: Annotated[
        str | None, typer.Option(help="Cursor value (JSON) to read after; default: from the start.")
    ] = None,
    as_name: Annotated[str | None, typer.Option("--as", help=AS_HELP)] = None,
) -> None:
    """Read the dataset's source again at its next stage (every subscriber receives those rows)."""
    from exchange.run.cursor_reset import reset_cursor

    value = None
    if to is not None:
        try:
            value = json.loads(to)
        except json.JSONDecodeError:
            value = to
    with bus_from_env() as bus:
        seq = reset_cursor(bus, dataset, to=value, by=_who(as_name), reason=reason)
    where = "the start" if to is None else "there"
    console.print(
        f"[green]✓[/] {dataset}'s next stage reads from {where} (ledger entry {seq})",
        highlight=False,
    )
