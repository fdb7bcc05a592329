"""The recipient's side of an encrypted delivery: open the files and the field keys.

A recipient first verifies the manifest (`verify_delivery`); `open_delivery` then
unseals the delivery's data key with the recipient's X25519 private key, decrypts every
`<name>.enc` the manifest lists into `out_dir` under its original name, and returns the
reversible-field keys sealed to it (for `decrypt_column`). Refuses a manifest that does
not verify, so nothing unauthenticated is ever decrypted.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from audit import PublicKeys
from consent.protect.envelopes import decrypt_file, open_key, x25519_key_id
from consent.protect.manifests import DATA_KEY, FIELD_KEY, SAFE_NAME, check_manifest
from govbus.errors import BadInput, FatalError


@dataclass(frozen=True)
class OpenedDelivery:
    """Plain files written (paths in out_dir) and field keys: {field: (key_id, key)}."""

    files: tuple[Path, ...]
    field_keys: dict[str, tuple[str, bytes]]


def open_delivery(
    manifest: Path, *, recipient: str, private_key: X25519PrivateKey, trusted_keys: PublicKeys, out_dir: Path
) -> OpenedDelivery:
    """Verify `manifest`, then decrypt its files for `recipient` into `out_dir`."""
    check = check_manifest(Path(manifest), trusted_keys)
    if not check.ok:
        raise FatalError(
            f"the delivery does not verify: {check.problems[0]}",
            where=str(manifest),
            hint="do not use it; ask the bus to deliver again",
        )
    document = json.loads(Path(manifest).read_bytes())
    mine = x25519_key_id(private_key.public_key())
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    envelope = document.get("encryption")
    if envelope:
        slot = next(
            (r for r in envelope["recipients"] if r["recipient"] == recipient and r["key_id"] == mine), None
        )
        if slot is None:
            raise BadInput(
                "the delivery is not sealed to this recipient's key",
                where=str(manifest),
                hint="use the key pair the bus was given",
            )
        data_key = open_key(
            private_key,
            slot["sealed_key"],
            purpose=DATA_KEY,
            recipient=recipient,
            context=document["batch_id"],
        )
        for entry in document["files"]:
            plain = entry.get("encrypted_from")
            if not isinstance(plain, str) or not SAFE_NAME.match(plain) or ".." in plain:
                raise BadInput("an encrypted file has no plain name", where=str(manifest))
            target = out_dir / plain
            decrypt_file(Path(manifest).parent / entry["name"], target, data_key, plain_name=plain)
            written.append(target)
    keys: dict[str, tuple[str, bytes]] = {}
    for item in document.get("field_keys", []):
        if item["recipient"] == recipient:
            keys[item["field"]] = (
                item["key_id"],
                open_key(
                    private_key,
                    item["sealed_key"],
                    purpose=FIELD_KEY,
                    recipient=recipient,
                    context=item["field"],
                ),
            )
    return OpenedDelivery(tuple(written), keys)
