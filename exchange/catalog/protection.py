"""The catalog's delivery-protection declarations, checked with file, line and field.

Three declarations (docs/consent.md, "Reversible fields" and "Envelope encryption"):

* `delivery_public_key:` on an agency in agencies.yaml — a PEM X25519 public key file,
  relative to the catalog folder; the bus seals data keys and field keys to it;
* `reversible_by: [agency, ...]` on a contract field — those recipients get the field
  as AES-SIV ciphertext and its key sealed in the signed manifest;
* `encrypt_files: true` on a subscription — the delivered files are replaced by
  `<name>.enc` (AES-256-GCM under a data key sealed to the recipient).

Keys and encryption need a signed manifest next to local files, so both reversible
fields and `encrypt_files` require a local file sink (`FILE_SINKS`) and a recipient that
publishes a key; anything else is a catalog problem, never a silent plaintext delivery.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path, PurePosixPath
from typing import Any

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey

import audit
import consent
import contracts
from contracts import Problem
from govbus.errors import GovBusError
from govbus.yamlfile import MarkedDict

DELIVERY_KEY = "delivery_public_key"
SIGNING_KEY = "signing_public_key"  # Ed25519: the agency signs purge confirmations with it
ENCRYPT_FILES = "encrypt_files"
FILE_SINKS = ("parquet", "avro", "csv", "jsonl")
"""Sinks writing local files, next to which the bus writes the signed manifest."""


def read_delivery_key(
    item: MarkedDict, root: Path, file: str, problems: list[Problem]
) -> X25519PublicKey | None:
    """The agency's `delivery_public_key`; None if absent, or bad (a problem is added)."""
    value = item.get(DELIVERY_KEY)
    if value is None:
        return None

    def bad(message: str) -> None:
        problems.append(Problem(file, item.line_of(DELIVERY_KEY), DELIVERY_KEY, message))

    if not isinstance(value, str) or not value.strip():
        return bad("must be the path of a PEM X25519 public key, relative to the catalog")
    relative = PurePosixPath(value)
    if relative.is_absolute() or ".." in relative.parts or "\\" in value:
        return bad(f"{value}: must be a path inside the catalog folder")
    path = root / value
    if not path.is_file():
        return bad(f"{value}: no such file (generate one with `openssl genpkey -algorithm X25519`)")
    try:
        return consent.load_x25519_public_key(path.read_bytes(), where=value)
    except GovBusError as exc:
        hint = f" ({exc.hint})" if exc.hint else ""
        return bad(f"{value}: {exc.message}{hint}")


def read_signing_key(item: MarkedDict, root: Path, file: str, problems: list[Problem]) -> Any:
    """The agency's `signing_public_key` (Ed25519 PEM in the catalog); None if absent, or bad (a problem)."""
    value = item.get(SIGNING_KEY)
    if value is None:
        return None
    relative = PurePosixPath(value) if isinstance(value, str) and value.strip() else None
    message = None
    if relative is None or relative.is_absolute() or ".." in relative.parts or "\\" in value:
        message = "must be the path of a PEM Ed25519 public key inside the catalog folder"
    elif not (root / value).is_file():
        message = f"{value}: no such file (`openssl pkey -pubout` of the agency's Ed25519 key)"
    else:
        try:
            return audit.load_public_key((root / value).read_bytes(), where=value)
        except GovBusError as exc:
            message = f"{value}: {exc.message}"
    problems.append(Problem(file, item.line_of(SIGNING_KEY), SIGNING_KEY, message))
    return None


def check_reversible(contract: contracts.Contract, file: str, has_key: Mapping[str, bool]) -> list[Problem]:
    """Every `reversible_by` must name a known agency that publishes a delivery key.

    `has_key`: {agency id: whether agencies.yaml gives it a `delivery_public_key`}.
    """
    problems: list[Problem] = []
    for name, spec in contract.fields.items():
        where = f"fields.{name}.reversible_by"
        for agency in spec.reversible_by:
            if agency not in has_key:
                problems.append(Problem(file, contract.line_of(where), where, f"unknown agency {agency!r}"))
            elif not has_key[agency]:
                message = (
                    f"agency {agency!r} publishes no {DELIVERY_KEY} in agencies.yaml: "
                    "it could not unseal the field key; add its X25519 public key first"
                )
                problems.append(Problem(file, contract.line_of(where), where, message))
    return problems


def reversible_fields(contract: contracts.Contract, recipient: str, fields: list[str]) -> tuple[str, ...]:
    """The subscription fields `recipient` receives as AES-SIV ciphertext, in field order."""
    specs = contract.fields
    return tuple(name for name in fields if name in specs and recipient in specs[name].reversible_by)


def check_subscription(
    item: MarkedDict,
    sink: Any,
    reversible: tuple[str, ...],
    recipient_has_key: bool,
    bad: Callable[[str, str], None],
) -> bool:
    """Check `encrypt_files` and reversible fields against the sink; return `encrypt_files`."""
    encrypt = item.get(ENCRYPT_FILES, False)
    if not isinstance(encrypt, bool):
        bad(ENCRYPT_FILES, "must be true or false")
        encrypt = False
    connector = sink.get("connector") if isinstance(sink, dict) else None
    file_sink = connector in FILE_SINKS
    if encrypt and not file_sink:
        bad(
            ENCRYPT_FILES,
            f"only file sinks ({', '.join(FILE_SINKS)}) can be encrypted, not a {connector!r} sink",
        )
    if encrypt and not recipient_has_key:
        bad(ENCRYPT_FILES, f"the recipient publishes no {DELIVERY_KEY} in agencies.yaml to seal to")
    if reversible and not file_sink:
        names = ", ".join(reversible)
        bad(
            "sink",
            f"{names}: reversible by this recipient, whose field key travels sealed in the signed "
            f"manifest of a file delivery; use a file sink ({', '.join(FILE_SINKS)}) or drop the field",
        )
    return encrypt
