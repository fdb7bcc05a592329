"""`govbus audit ...`: verify the ledger and its checkpoints, export and verify bundles, proofs.

`verify` checks the state database (chain, signatures, signed checkpoints, RFC 6962 tree,
and rollbacks: delivery entries that no checkpoint covers though every run ends with one,
repeated checkpoint heads, and subscriptions' delivery records pointing past the end of
the ledger);
`verify --bundle PATH --trusted-keys KEYS [--pin CHECKPOINT.json]` checks an exported
bundle offline with no database (without pinned keys only `--trust-bundled-keys` runs it,
and an intact bundle then exits 3, never a plain 0: keys shipped in the bundle prove
nothing); `export` writes a bundle; `proof SEQ [--checkpoint N]` prints an entry's
inclusion proof (JSON) and `check-proof FILE` checks one offline; `consistency --from N
--to M` prints the RFC 6962 consistency proof between two checkpoints; `checkpoint` signs the
current tree head (every run ends with one); `report` sums deliveries, denials and
quarantine per agency and purpose over a period (`exchange.views.audit_report`); `catalog`
records a changed catalog in the ledger (`exchange.run.catalog_changes`; every run does it
too). `subject` (the citizen's report) lives in `exchange.cli.subject`.
A failed check prints one `✗` line per problem, naming the entry or checkpoint, and
exits with code 1. The audit part and the report's views are imported when a command
runs, not by `govbus --help`.
"""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from exchange.cli import views
from exchange.cli.common import bus_from_env, console, err_console
from govbus.errors import BadInput

if TYPE_CHECKING:
    import sqlalchemy as sa

    import audit

__all__ = ["ReportFormat", "audit_app", "console", "err_console"]

audit_app = typer.Typer(help="The tamper-evident ledger of every delivery.", no_args_is_help=True)


def _short(root: str | None) -> str:
    return f"{root[:16]}…" if root else "-"


def _print_report(report: audit.VerifyReport, file_problems: list[str], what: str) -> None:
    """Print a verify report; exit 1 if anything is wrong."""
    if report.ok and not file_problems:
        console.print(f"[green]✓[/] {what} intact: {report.entries} entries, chain and signatures verified")
        latest = report.latest_checkpoint
        if latest is None:
            console.print("[yellow]![/] no checkpoint yet: entries removed from the end cannot be detected")
        else:
            console.print(
                f"[green]✓[/] {report.checkpoints} checkpoint(s) verified; latest #{latest.number}: "
                f"{latest.tree_size} entries, root {_short(latest.root)}",
                highlight=False,
            )
        return
    for text in file_problems:
        err_console.print(f"[red]✗[/] {text}", highlight=False)
    for seq, text in report.problems:
        err_console.print(f"[red]✗[/] entry {seq}: {text}", highlight=False)
    for number, text in report.checkpoint_problems:
        err_console.print(f"[red]✗[/] checkpoint {number}: {text}", highlight=False)
    total = len(file_problems) + len(report.problems) + len(report.checkpoint_problems)
    err_console.print(
        f"[red]{what} NOT intact[/]: {total} problem(s) in {report.entries} entries "
        f"and {report.checkpoints} checkpoint(s)"
    )
    raise typer.Exit(1)


def _deliveries_past_the_ledger(conn: sa.Connection, report: audit.VerifyReport) -> list[str]:
    """A delivery record (the `deliveries` table) naming a ledger entry the ledger no longer holds.

    Each delivered batch's record and its ledger entry commit in one transaction, so a
    record past the ledger's end means entries were removed from the end (rolled back).
    """
    import sqlalchemy as sa

    from exchange import state

    newest = conn.execute(sa.select(sa.func.max(state.deliveries.c.ledger_seq))).scalar()
    head = report.head_seq or 0
    if newest is None or newest <= head:
        return []
    return [
        f"the state database records a delivery logged in ledger entry {newest}, but the ledger "
        f"ends at entry {head} (entries removed from the end: rolled back?)"
    ]


def _cosignature_shortfalls(conn: sa.Connection, catalog_root: Path) -> list[str]:
    """Forged cosignatures and checkpoints short of the witnesses catalog/ledger.yaml requires."""
    import audit

    policy = audit.load_witness_policy(catalog_root)
    found = audit.cosignature_problems(audit.read_checkpoints(conn), audit.read_cosignatures(conn), policy)
    return [f"checkpoint {number}: {text}" for number, text in found]


@audit_app.command("verify")
def audit_verify(
    bundle: Annotated[
        Path | None,
        typer.Option("--bundle", help="Check this exported bundle folder offline (no database)."),
    ] = None,
    trusted_keys: Annotated[
        list[Path] | None,
        typer.Option("--trusted-keys", help="With --bundle: PEM public key file(s) or folder(s) to trust."),
    ] = None,
    trust_bundled_keys: Annotated[
        bool,
        typer.Option(
            "--trust-bundled-keys",
            help="With --bundle: check against the bundle's own keys instead (exit 3 if intact).",
        ),
    ] = False,
    pin: Annotated[
        Path | None,
        typer.Option(
            "--pin", help="With --bundle: the last checkpoint you hold (JSON); an older bundle fails."
        ),
    ] = None,
) -> None:
    """Check the whole ledger: hash chain, order, every signature and every signed checkpoint.

    Also every access request and its signed decisions: signatures, the request's fingerprint,
    and that each equals its ledger entry.
    """
    import audit
    from audit import verify_bundle

    if bundle is None:
        from exchange.subscriptions import decisions

        with bus_from_env() as bus, bus.engine.connect() as conn:
            report = bus.ledger.verify(conn)
            # Requests and their signed decisions, held against the ledger's copies.
            problems = decisions.verify(conn, bus.keys.public_keys())
            problems.extend(_deliveries_past_the_ledger(conn, report))
            problems.extend(_cosignature_shortfalls(conn, bus.catalog.root))
        _print_report(report, problems, "ledger")
        return
    if not trusted_keys and not trust_bundled_keys:
        raise BadInput(
            "a bundle's own keys prove nothing: name the keys to trust",
            where="--trusted-keys",
            hint="pass the bus's published keys (`govbus keys list --pem`), or --trust-bundled-keys "
            "to check only that the bundle is consistent in itself",
        )
    keys = audit.load_trusted_keys(trusted_keys) if trusted_keys else None
    result = verify_bundle(bundle, keys, _read_pin(pin) if pin else None)
    _print_report(result.ledger, result.file_problems, "bundle")
    if result.keys_source == "bundle":
        err_console.print(
            "[yellow bold]! NOT TRUSTED[/]: checked only against the public keys shipped in the "
            "bundle, which anyone who rewrote it could replace; pass --trusted-keys (exit 3)",
            highlight=False,
        )
        raise typer.Exit(3)
    if pin is None:
        err_console.print(
            "[yellow]![/] no --pin: a bundle cut back to an older checkpoint is only caught "
            "against the last checkpoint you hold",
            highlight=False,
        )


def _read_pin(path: Path) -> audit.Checkpoint:
    """The checkpoint an auditor holds: a line of `checkpoints.jsonl` or `checkpoint` of a proof."""
    from audit import Checkpoint

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return Checkpoint.from_json(data.get("checkpoint", data) if isinstance(data, dict) else data)
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise BadInput(
            "cannot read the pinned checkpoint",
            where=str(path),
            hint="save one line of a verified bundle's checkpoints.jsonl (or a proof's `checkpoint`) as JSON",
        ) from exc


@audit_app.command("export")
def audit_export(
    path: Annotated[Path, typer.Argument(help="A new folder to write the bundle to.")],
) -> None:
    """Write the ledger, its checkpoints and the public keys to a bundle folder."""
    from audit import export_bundle, load_witness_policy

    with bus_from_env() as bus, bus.engine.connect() as conn:
        policy = load_witness_policy(bus.catalog.root)
        manifest = export_bundle(conn, path, bus.keys.public_keys(), bus.keys.signing_key(), policy)
    console.print(
        f"[green]✓[/] exported {manifest['entries']} entries and {manifest['checkpoints']} "
        f"checkpoint(s) to {path} (root {_short(manifest['root'])})",
        highlight=False,
        soft_wrap=True,
    )


@audit_app.command("proof")
def audit_proof(
    seq: Annotated[int, typer.Argument(help="The entry's sequence number.")],
    checkpoint: Annotated[
        int | None,
        typer.Option("--checkpoint", help="Prove against this (older) checkpoint; default the latest."),
    ] = None,
) -> None:
    """Print the inclusion proof (JSON) of an entry against a signed checkpoint (default: the latest)."""
    from audit import entry_proof

    with bus_from_env() as bus, bus.engine.connect() as conn:
        document = entry_proof(conn, seq, checkpoint=checkpoint)
    typer.echo(json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False))


@audit_app.command("consistency")
def audit_consistency(
    old: Annotated[int, typer.Option("--from", help="The older checkpoint's number (the one you hold).")],
    new: Annotated[int, typer.Option("--to", help="The newer checkpoint's number.")],
) -> None:
    """Print the RFC 6962 consistency proof (JSON) that checkpoint --to extends checkpoint --from."""
    from audit import consistency_document

    with bus_from_env() as bus, bus.engine.connect() as conn:
        document = consistency_document(conn, old, new)
    typer.echo(json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False))


@audit_app.command("check-proof")
def audit_check_proof(
    proof: Annotated[
        Path, typer.Argument(help="A proof document (JSON): `audit proof` or a citizen report.")
    ],
    trusted_keys: Annotated[
        list[Path],
        typer.Option("--trusted-keys", help="PEM public key file(s) or folder(s) of the bus to trust."),
    ],
) -> None:
    """Check one entry's inclusion proof offline: entry hash, signatures, path to the signed root."""
    import audit
    from audit import check_entry_proof

    try:
        document = json.loads(proof.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise BadInput(
            "cannot read the proof as JSON",
            where=str(proof),
            hint="save the proof text exactly as shown, as UTF-8",
        ) from exc
    problems = check_entry_proof(document, audit.load_trusted_keys(trusted_keys))
    if problems:
        for text in problems:
            err_console.print(f"[red]✗[/] {text}", highlight=False)
        err_console.print(f"[red]proof NOT valid[/]: {len(problems)} problem(s)")
        raise typer.Exit(1)
    checkpoint = document["checkpoint"]
    console.print(
        f"[green]✓[/] entry {document['entry']['seq']} is in the ledger: its hash and signature hold "
        f"and its path leads to checkpoint #{checkpoint['number']} ({checkpoint['tree_size']} entries, "
        f"root {_short(checkpoint['root'])}), signed by key {checkpoint['key_id']}",
        highlight=False,
        soft_wrap=True,
    )


class ReportFormat(StrEnum):
    """`govbus audit report --format`: a terminal table, or CSV / Parquet rows (Parquet needs --out)."""

    table = "table"
    csv = "csv"
    parquet = "parquet"


@audit_app.command("report")
def audit_report_command(
    start: Annotated[
        str | None,
        typer.Option("--from", help="First day (YYYY-MM-DD, UTC) or instant (ISO 8601), included."),
    ] = None,
    end: Annotated[
        str | None,
        typer.Option("--to", help="Last day, included (YYYY-MM-DD), or an instant, excluded (ISO 8601)."),
    ] = None,
    output: Annotated[
        ReportFormat, typer.Option("--format", help="table, csv or parquet.")
    ] = ReportFormat.table,
    out: Annotated[Path | None, typer.Option("--out", help="Write the csv or parquet file here.")] = None,
) -> None:
    """Per agency and purpose: rows delivered, denied (by reason) and quarantined in a period."""
    from exchange.views.audit_report import audit_report, csv_text, parse_period, write_report
    from exchange.views.roles import AUDITOR, Principal

    begin, until = parse_period(start, end)
    if output is ReportFormat.parquet and out is None:
        raise BadInput("Parquet is a binary file", where="--out", hint="name the file: --out report.parquet")
    if output is ReportFormat.table and out is not None:
        raise BadInput("a table is for the terminal", where="--out", hint="add --format csv or parquet")
    with bus_from_env() as bus:
        report = audit_report(bus, Principal(AUDITOR), begin, until)
    if output is ReportFormat.table:
        views.print_audit_report(report, console)
    elif out is None:
        typer.echo(csv_text(report), nl=False)
    else:
        rows = write_report(report, out, output.value)
        console.print(f"[green]✓[/] wrote {rows} row(s) to {out}", highlight=False, soft_wrap=True)


@audit_app.command("catalog")
def audit_catalog() -> None:
    """Record the catalog in the ledger now if it changed since last recorded (every run does too)."""
    from exchange.run.catalog_changes import record_catalog_change

    with bus_from_env() as bus:
        entry = record_catalog_change(bus)
    if entry is None:
        console.print("[green]✓[/] the ledger already records this catalog: nothing changed")
        return
    from audit import CatalogChangedEntry

    recorded = CatalogChangedEntry.from_payload(entry.payload, seq=entry.seq)
    for change in recorded.changes:
        fields = [f"+{f}" for f in change.fields_added or ()] + [f"-{f}" for f in change.fields_removed or ()]
        console.print(
            f"  {change.change:8} {change.item}" + (f"  fields {' '.join(fields)}" if fields else ""),
            highlight=False,
        )
    console.print(
        f"[green]✓[/] recorded entry {entry.seq}: {len(recorded.changes)} change(s), "
        f"catalog {_short(recorded.catalog_sha256)}",
        highlight=False,
    )


@audit_app.command("checkpoint")
def audit_checkpoint(
    note: Annotated[
        bool, typer.Option("--note", help="Print its C2SP signed note (tlog-checkpoint) instead.")
    ] = False,
) -> None:
    """Sign and store the ledger's current tree head (size, root, time) and its signed note."""
    with bus_from_env() as bus, bus.engine.begin() as conn:
        checkpoint = bus.ledger.checkpoint(conn)
    if note:
        typer.echo(checkpoint.note or "", nl=False)
        return
    console.print(
        f"[green]✓[/] checkpoint #{checkpoint.number}: {checkpoint.tree_size} entries, "
        f"root {_short(checkpoint.root)}",
        highlight=False,
    )
