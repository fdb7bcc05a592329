"""`govbus audit witness init | cosign | add` and `govbus audit note`: C2SP notes and witnesses.

Who runs what:

* a witness (another agency, an outside auditor), on its own machine, with its own key:
  `witness init --key-file K --name NAME` once (prints the verifier key the bus's
  `catalog/ledger.yaml` lists), then for each bundle the bus publishes
  `witness cosign --bundle B --key-file K --trusted-keys BUS_KEYS --out C.jsonl`: it
  verifies the bundle, refuses (exit 65, nothing written) a checkpoint older than, or
  inconsistent with, the last one it cosigned, and writes its cosignatures;
* the bus operator: `witness add --cosignature C.jsonl` records them (checked against the
  catalog's witness keys) so `govbus audit export` ships them and `govbus audit verify`
  counts them; `note [--checkpoint N]` prints a checkpoint's signed note.

Nothing of the parts is imported until a command runs (`govbus --help` stays light).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from exchange.cli.common import bus_from_env, console
from govbus.errors import BadInput

__all__ = ["register", "witness_app"]

witness_app = typer.Typer(
    help="Witnesses: cosign the ledger's checkpoints after checking they extend the last one.",
    no_args_is_help=True,
)

KeyFile = Annotated[Path, typer.Option("--key-file", help="The witness's private key (PEM); never in git.")]


@witness_app.command("init")
def witness_init(
    key_file: KeyFile,
    name: Annotated[
        str, typer.Option("--name", help="The witness's key name, e.g. audit-office.example/w1.")
    ],
) -> None:
    """Create the witness's Ed25519 key and state file; print the verifier key for the bus's catalog."""
    from audit import Witness

    witness = Witness.init(key_file, name)
    console.print(
        f"[green]✓[/] witness {witness.name}: key {key_file} (mode 600), state {witness.state_file}"
    )
    console.print("Give the bus this verifier key (catalog/ledger.yaml, witnesses: - key: ...):")
    typer.echo(witness.key.vkey())


@witness_app.command("cosign")
def witness_cosign(
    key_file: KeyFile,
    trusted_keys: Annotated[
        list[Path],
        typer.Option("--trusted-keys", help="The bus's public key(s) (PEM files or folders) you trust."),
    ],
    out: Annotated[Path, typer.Option("--out", help="Write the cosigned checkpoints here (JSON lines).")],
    bundle: Annotated[
        Path | None, typer.Option("--bundle", help="The bundle the bus published (`govbus audit export`).")
    ] = None,
    consistency: Annotated[
        Path | None,
        typer.Option(
            "--consistency",
            help="Instead of --bundle: `govbus audit consistency --from <held> --to <newest>` output.",
        ),
    ] = None,
) -> None:
    """Verify a bundle (or a consistency proof) against the last checkpoint you cosigned; then cosign."""
    import json

    import audit

    if (bundle is None) == (consistency is None):
        raise BadInput("give either --bundle or --consistency", where="govbus audit witness cosign")
    witness = audit.Witness.load(key_file)
    keys = audit.load_trusted_keys(trusted_keys)
    if bundle is not None:
        cosigned = witness.cosign_bundle(bundle, keys)
    else:
        try:
            document = json.loads(Path(str(consistency)).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise BadInput("cannot read it as JSON", where=str(consistency)) from exc
        cosigned = witness.cosign_consistency(document, keys)
    audit.write_cosigned_file(out, cosigned)
    if not cosigned:
        console.print("nothing new to cosign: the newest checkpoint is the one you hold")
        return
    numbers = ", ".join(f"#{c.number}" for c in cosigned)
    console.print(f"[green]✓[/] cosigned checkpoint(s) {numbers} as {witness.name}: {out}", highlight=False)


@witness_app.command("add")
def witness_add(
    cosignature: Annotated[
        Path, typer.Option("--cosignature", help="A witness's `cosign --out` file (JSON lines of notes).")
    ],
) -> None:
    """Record a witness's cosignatures of this bus's checkpoints (checked against catalog/ledger.yaml)."""
    import audit

    items = audit.read_cosigned_file(cosignature)
    with bus_from_env() as bus:
        policy = audit.load_witness_policy(bus.catalog.root)
        if not policy.witnesses:
            raise BadInput(
                "the catalog declares no witness",
                where=str(bus.catalog.root / "ledger.yaml"),
                hint="add the witness's verifier key under `witnesses:` first",
            )
        with bus.engine.begin() as conn:
            for item in items:
                checkpoint = audit.checkpoint_numbered(conn, item.number)
                if checkpoint is None or checkpoint.note_body != audit.parse_note(item.note)[0]:
                    raise BadInput(
                        f"checkpoint {item.number} of this ledger has no such note (another log?)",
                        where=str(cosignature),
                    )
                added = audit.record_cosignatures(conn, checkpoint, item.cosignatures, policy.witnesses)
                names = ", ".join(added) or "already recorded"
                console.print(f"[green]✓[/] checkpoint #{item.number}: {names}", highlight=False)


def audit_note(
    checkpoint: Annotated[
        int | None, typer.Option("--checkpoint", help="Its number; default the latest.")
    ] = None,
) -> None:
    """Print a checkpoint's C2SP signed note (tlog-checkpoint), with the cosignatures recorded for it."""
    import audit

    with bus_from_env() as bus, bus.engine.connect() as conn:
        found = (
            audit.latest_checkpoint(conn)
            if checkpoint is None
            else audit.checkpoint_numbered(conn, checkpoint)
        )
        lines = audit.read_cosignatures(conn).get(found.number, []) if found is not None else []
    if found is None or found.note is None:
        raise BadInput(
            "no such checkpoint with a signed note",
            where=f"--checkpoint {checkpoint}" if checkpoint else "ledger",
            hint="checkpoints taken before notes existed have none; run `govbus audit checkpoint`",
        )
    typer.echo(found.note + "".join(line.line for line in lines), nl=False)


def register(audit_app: typer.Typer) -> None:
    """Add `witness ...` and `note` to `govbus audit`."""
    audit_app.add_typer(witness_app, name="witness")
    audit_app.command("note")(audit_note)
