"""`govbus consent erase | purge-statute | purges | purge-confirm | purge-sign | verify-purge` (Typer + Rich).

Mounted by `exchange/cli/main.py` with `register(consent_app)`; `govbus consent revoke ID
--erase --subject SUBJECT` (in `exchange/cli/consent.py`) uses `print_run` from here.

What a user must know: the subject id typed for an erasure is used to name the subject
to each recipient and is never printed, logged or stored (the bus keeps its audit
pseudonym). A purge the bus could not deliver stays issued: the command ends with exit
code 75, and running it again delivers it.

The consent part and the erasure room are imported when a command runs, not by
`govbus --help`.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from exchange.cli.common import (
    TrustedKeys,
    bus_from_env,
    console,
    err_console,
    trusted_public_keys,
)
from govbus.errors import BadInput, TransientError

if TYPE_CHECKING:
    import consent
    from exchange.erasure import purges
    from exchange.erasure.delivery import PurgeOutcome

__all__ = ["print_run", "register"]

SubjectArg = Annotated[str, typer.Argument(help="The citizen's id (never printed or stored).")]


def _result(outcome: PurgeOutcome) -> str:
    purge = outcome.purge
    if outcome.problem is not None:
        return f"[red]not delivered[/]: {outcome.problem}"
    if purge.channel == "manual":
        return f"[yellow]tell the recipient by hand[/], then `govbus consent purge-confirm {purge.purge_id}`"
    if purge.status == "confirmed":
        return (
            f"{purge.rows_deleted} row(s) deleted by the bus" if purge.confirmed_by == "bus" else "confirmed"
        )
    return f"purge-{purge.purge_id}.json is in the recipient's folder, awaiting its confirmation"


def print_run(run: purges.PurgeRun, what: str) -> None:
    """One line per purge a command issued or delivered; exit 75 if any was not delivered."""
    if not run.outcomes:
        console.print(f"{what}: nothing to purge (no delivery left uncovered)", highlight=False)
        return
    console.print(f"[bold]{what}[/]: {len(run.outcomes)} purge(s)", highlight=False)
    for outcome in run.outcomes:
        purge = outcome.purge
        mark = "[red]✗[/]" if outcome.problem else "[green]✓[/]" if purge.status != "issued" else "•"
        earlier = "" if outcome.new else " (issued earlier)"
        console.print(
            f"  {mark} {purge.recipient} ({purge.subscription}, {purge.channel}): {purge.status}{earlier}, "
            f"{_result(outcome)} — purge {purge.purge_id}",
            highlight=False,
            soft_wrap=True,
        )
    if run.failed:
        err_console.print(
            f"[red]{len(run.failed)} purge(s) not delivered[/]: run the same command again to retry",
            highlight=False,
        )
        raise typer.Exit(TransientError.exit_code)


def erase(
    subject: SubjectArg,
    recipient: Annotated[str | None, typer.Option(help="Only what this agency received.")] = None,
    dataset: Annotated[str | None, typer.Option(help="Only this dataset.")] = None,
) -> None:
    """An erasure order: every recipient that received the citizen's data (whatever the basis) purges it."""
    from exchange.erasure import purges

    with bus_from_env() as bus:
        run = purges.erase_subject(bus, subject, recipient=recipient, dataset=dataset)
    for removal in run.held:  # the bus's own copies (docs/privacy.md)
        console.print(
            f"  [green]✓[/] the bus's {removal.copy} of {removal.dataset}: {removal.rows} row(s) removed",
            highlight=False,
        )
    print_run(run, "Erasure order")


def purge_statute(
    statute: Annotated[
        str | None, typer.Argument(help="A statute whose valid_until has passed (default: every ended one).")
    ] = None,
) -> None:
    """A statute ended: its recipients purge everything they received under it."""
    from exchange.erasure import purges

    with bus_from_env() as bus:
        runs = purges.purge_ended_statutes(bus, statute)
    if not runs:
        console.print("No statute of the catalog has ended: nothing to purge.", highlight=False)
    failed = False
    for statute_id, run in runs.items():
        try:
            print_run(run, f"Statute {statute_id} ended")
        except typer.Exit:
            failed = True
    if failed:
        raise typer.Exit(TransientError.exit_code)


def _when(value: datetime | None) -> str:
    return "—" if value is None else f"{value:%Y-%m-%d %H:%M}"


def _as_json(purge: consent.Purge) -> dict[str, Any]:
    return {
        "purge_id": purge.purge_id,
        "recipient": purge.recipient,
        "dataset": purge.dataset,
        "subscription": purge.subscription,
        "reason": purge.reason,
        "basis": {"consent_id": purge.consent_id, "statute": purge.statute},
        "channel": purge.channel,
        "status": purge.status,
        "batches": [{"ledger_seq": seq, "batch_id": batch} for seq, batch in purge.batches],
        "issued_at": purge.issued_at.isoformat(),
        "delivered_at": purge.delivered_at.isoformat() if purge.delivered_at else None,
        "confirmed_at": purge.confirmed_at.isoformat() if purge.confirmed_at else None,
        "confirmed_by": purge.confirmed_by,
        "rows_deleted": purge.rows_deleted,
        "evidence": purge.evidence,
        "instruction_sha256": purge.instruction_sha256,
    }


def list_purges(
    status: Annotated[
        str | None, typer.Option(help="pending (not confirmed yet), issued, delivered or confirmed.")
    ] = None,
    recipient: Annotated[str | None, typer.Option(help="Only this recipient agency.")] = None,
    output: Annotated[str, typer.Option("--format", help="table or json.")] = "table",
) -> None:
    """Purge instructions and which recipients have confirmed them (no subject is shown)."""
    from exchange.erasure import purges

    if output not in ("table", "json"):
        raise BadInput("must be table or json", where="--format")
    with bus_from_env() as bus:
        found = purges.list_purges(bus, status=status, recipient=recipient)
    if output == "json":
        console.print_json(json.dumps([_as_json(p) for p in found]))
        return
    if not found:
        console.print("No purge instruction matches.", highlight=False)
        return
    pending = sum(1 for p in found if p.pending)
    console.print(
        f"[bold]Purge instructions[/]: {len(found)} ({len(found) - pending} confirmed, {pending} pending)",
        highlight=False,
    )
    for p in found:
        console.print(
            f"  {p.purge_id}  {p.recipient} · {p.dataset} · {p.reason} · {p.channel}",
            highlight=False,
            soft_wrap=True,
        )
        console.print(f"      {_state(p)}", highlight=False, soft_wrap=True)


def _state(p: consent.Purge) -> str:
    """When it was issued, delivered and confirmed, in one line."""
    steps = [f"issued {_when(p.issued_at)}"]
    if p.delivered_at is not None and p.confirmed_by != "bus":
        steps.append(f"delivered {_when(p.delivered_at)}")
    if p.confirmed_at is None:
        steps.append("[yellow]not confirmed yet[/]")
    elif p.confirmed_by == "bus":
        steps.append(
            f"[green]confirmed[/] {_when(p.confirmed_at)} by the bus, {p.rows_deleted} row(s) deleted"
        )
    else:
        evidence = f" ({p.evidence})" if p.evidence else ""
        steps.append(f"[green]confirmed[/] {_when(p.confirmed_at)} by the recipient{evidence}")
    return " · ".join(steps)


def purge_confirm(
    purge_id: Annotated[str, typer.Argument(help="The purge id (from `govbus consent purges`).")],
    evidence: Annotated[
        str,
        typer.Option(
            help="Reference to the recipient's confirmation (a ticket or letter, no personal data)."
        ),
    ] = "",
    confirmation: Annotated[
        Path | None,
        typer.Option(
            "--confirmation",
            help="The recipient's signed confirmation (`govbus consent purge-sign`); required when "
            "agencies.yaml declares its signing_public_key.",
        ),
    ] = None,
) -> None:
    """Record that the recipient applied a purge instruction (its signed confirmation, if it has a key)."""
    from exchange.erasure import purges

    document = _read_json(confirmation) if confirmation is not None else None
    with bus_from_env() as bus:
        changed = purges.confirm_purge(bus, purge_id, evidence=evidence, confirmation=document)
    if changed:
        signed = " (signature verified against its catalog key)" if document is not None else ""
        console.print(f"[green]✓[/] purge {purge_id} confirmed by the recipient{signed}", highlight=False)
    else:
        console.print(f"purge {purge_id} was already confirmed: nothing changed", highlight=False)


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise BadInput(
            "cannot read it as JSON", where=str(path), hint="pass the file purge-sign wrote"
        ) from exc


def purge_sign(
    instruction: Annotated[Path, typer.Argument(help="The purge-<id>.json the bus put in your folder.")],
    key_file: Annotated[Path, typer.Option("--key-file", help="Your agency's Ed25519 private key (PEM).")],
    out: Annotated[Path, typer.Option("--out", help="Write the signed confirmation (JSON) here.")],
    rows_deleted: Annotated[int | None, typer.Option(help="How many rows you deleted (optional).")] = None,
    trusted_keys: TrustedKeys = None,
) -> None:
    """What a recipient runs after applying a purge: check the bus signed it, then sign its confirmation."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    import audit
    import consent
    from govbus.instants import utc_now

    try:
        private = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise BadInput("cannot read an unencrypted PEM private key", where=str(key_file)) from exc
    if not isinstance(private, Ed25519PrivateKey):
        raise BadInput(
            "is not an Ed25519 private key", where=str(key_file), hint="openssl genpkey -algorithm ed25519"
        )
    signing = audit.SigningKey(private, audit.key_id_of(private.public_key()))
    document = consent.confirm_instruction(
        instruction,
        trusted_public_keys(trusted_keys),
        signing,
        confirmed_at=utc_now(),
        rows_deleted=rows_deleted,
    )
    out.write_text(
        json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    console.print(
        f"[green]✓[/] confirmation of purge {document['purge_id']} signed with key {signing.key_id}: {out}",
        highlight=False,
    )


def verify_purge(
    path: Annotated[Path, typer.Argument(help="A purge-<id>.json file or a folder holding some.")],
    trusted_keys: TrustedKeys = None,
) -> None:
    """Check purge instructions' signatures against the bus's public keys (what a recipient runs)."""
    import consent

    checks = consent.verify_purge(path, trusted_public_keys(trusted_keys))
    for check in checks:
        name = check.path.name
        if check.ok:
            console.print(f"[green]✓[/] {name}: authentic (key {check.key_id})", highlight=False)
        for problem in check.problems:
            err_console.print(f"[red]✗[/] {name}: {problem}", highlight=False)
    if not all(check.ok for check in checks):
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add the purge commands to `govbus consent`."""
    app.command("erase")(erase)
    app.command("purge-statute")(purge_statute)
    app.command("purges")(list_purges)
    app.command("purge-confirm")(purge_confirm)
    app.command("purge-sign")(purge_sign)
    app.command("verify-purge")(verify_purge)
