"""`govbus consent receipt | verify-receipt`: the signed receipt a citizen keeps, and its check.

Registered on the consent group by `exchange.cli.main` (`register(consent_app)`), as the
erasure commands are. The consent part is imported when a command runs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from exchange.cli.common import TrustedKeys, bus_from_env, console, err_console, trusted_public_keys
from govbus.errors import BadInput

__all__ = ["receipt", "register", "verify_receipt"]

ConsentId = Annotated[str, typer.Argument(help="The consent id (a UUID).")]


def receipt(
    consent_id: ConsentId,
    subject: Annotated[
        str | None,
        typer.Option(help="The citizen's own id: put it on the receipt (checked against the consent)."),
    ] = None,
    out: Annotated[Path | None, typer.Option(help="Write the receipt to this file.")] = None,
) -> None:
    """The signed consent receipt (JSON, Kantara CR v1.1 / ISO/IEC TS 27560; JWS EdDSA) a citizen can keep."""
    import consent

    with bus_from_env() as bus:
        with bus.engine.connect() as conn:
            record = bus.register.get(conn, consent_id)
            if record is None:
                raise BadInput(
                    "no consent has this id",
                    where="consent_id",
                    hint="`govbus consent show SUBJECT` lists a citizen's consents",
                )
            history = bus.register.history(conn, consent_id)
        if record.status in (consent.ACTIVE, consent.PAUSED) and record.valid_until is not None:
            # Expiry is an event: record it (at the end of the validity) before describing the consent.
            with bus.locked("ledger"), bus.engine.begin() as conn:
                if bus.register.expire_due(conn):
                    record = bus.register.get(conn, consent_id) or record
                    history = bus.register.history(conn, consent_id)
        from exchange.catalog.receipt_terms import receipt_terms

        terms = receipt_terms(
            bus.catalog, dataset=record.dataset, purpose=record.purpose, recipient=record.recipient
        )
        document = consent.build_receipt(
            record,
            history,
            signing_key=bus.keys.signing_key(),
            register=bus.register,
            subject_id=subject,
            terms=terms,
        )
    text = json.dumps(document, indent=2, ensure_ascii=False, sort_keys=True) + "\n"
    if out is not None:
        out.write_text(text, encoding="utf-8")
        console.print(
            f"[green]✓[/] receipt written to {out} (signed by key {document['signature']['keyId']})",
            highlight=False,
        )
    else:
        console.print_json(text)


def verify_receipt(
    path: Annotated[Path, typer.Argument(help="A receipt JSON file.")],
    trusted_keys: TrustedKeys = None,
) -> None:
    """Check a consent receipt's signature against the bus's public keys (works offline)."""
    import consent

    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        raise BadInput("is not a readable JSON file", where=str(path)) from None
    result = consent.verify_receipt(document, trusted_public_keys(trusted_keys))
    if result.ok:
        console.print(
            f"[green]✓[/] receipt {document.get('consentReceiptID')} is authentic (key {result.key_id})",
            highlight=False,
        )
        return
    for problem in result.problems:
        err_console.print(f"[red]✗[/] {problem}", highlight=False)
    raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add `receipt` and `verify-receipt` to the consent group."""
    app.command("receipt")(receipt)
    app.command("verify-receipt")(verify_receipt)
