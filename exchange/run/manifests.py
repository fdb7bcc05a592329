"""The signed manifest of a delivered batch, kept where its recipient can verify it.

Building and signing a manifest (`consent.sign_manifest`: bytes) is separate from where
it is kept, which depends on the sink:

* a local file sink (CSV, JSON Lines, Avro, Parquet): `<batch_id>.manifest.json`, `.sig`
  and the public key beside the batch file (`consent.write_manifest`, which also
  encrypts the files with `encrypt_files`) — unchanged since manifests began;
* a sink with the `connectors.ManifestStore` capability keeps the same bytes its own way:
  SFTP uploads the three files beside the batch file on the server, REST POSTs the
  manifest to the recipient's `manifest_url` (the receipt lists each request body, so the
  manifest names them), SQL keeps it in `govbus_delivery_manifests` beside the table
  with the batch's sorted record leaves (`connectors.sql.manifest_table`).

For rows in a table the manifest also signs `records_sorted_root`: the RFC 6962 root of
the batch's record leaf hashes (audit.merkle, the spec's leaf encoding) sorted ascending,
which can be recomputed from the rows whatever order the table keeps them in. The
ledger's `merkle_root` stays the root in delivery order for every kind.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

import audit
import connectors
import consent
from govbus.errors import BadConfiguration

if TYPE_CHECKING:
    from exchange.catalog.loader import Dataset, Subscription
    from exchange.ctx import StepContext

__all__ = ["sorted_leaves", "write_manifest"]


def sorted_leaves(table: pa.Table, block: bytes | None = None) -> bytes:
    """The record leaf hashes of `table`, 32 bytes each, sorted ascending, concatenated.

    `block`: the leaves in row order when already computed (`audit.record_leaf_block`, on the
    deliver step's audit thread), so the records are not hashed twice.
    """
    if block is None:
        block = b"".join(audit.record_leaf_hashes(table))
    return np.sort(np.frombuffer(block, dtype="S32")).tobytes() if block else b""


def write_manifest(
    ctx: StepContext,
    *,
    sub: Subscription,
    dataset: Dataset,
    policy_version: str,
    field_keys: dict[str, tuple[str, bytes]],
    sink: connectors.Sink | connectors.ManifestStore,
    receipt: connectors.SinkReceipt,
    out: pa.Table,
    rows_denied: int,
    merkle_root: str,
    leaf_block: bytes | None = None,
) -> tuple[str | None, list[list[str]]]:
    """Sign the batch's manifest and keep it where the sink's recipient can check it.

    Returns the manifest's SHA-256 (for the ledger's `manifest_sha256`; None when the sink
    keeps no manifest: a REST sink without `manifest_url`, a third-party sink without the
    capability) and the [name, sha256] of the files the manifest lists.
    """
    details: dict[str, Any] = {
        "subscription": sub.id,
        "recipient": sub.agency,
        "purpose": sub.purpose,
        "basis": sub.basis,
        "fields": out.column_names,
        "merkle_root": merkle_root,
    }
    if sub.disclosure is not None:  # how the rows were coarsened, for the recipient to read them
        details["disclosure"] = sub.disclosure.describe()
    protect: dict[str, Any] = {}
    if sub.encrypt_files or field_keys:
        details["reversible_fields"] = list(sub.reversible_fields)
        protect = {
            "recipient_keys": {sub.agency: ctx.catalog.agencies[sub.agency].delivery_key},
            "field_keys": field_keys or None,
        }
    common: dict[str, Any] = {
        "signing_key": ctx.keys.signing_key(),
        "contract_id": dataset.id,
        "contract_version": dataset.contract.version,
        "schema_sha256": dataset.schema.fingerprint_sha256,
        "rows_delivered": out.num_rows,
        "rows_denied": rows_denied,
        "policy_version": policy_version,
    }
    if not isinstance(sink, connectors.ManifestStore):
        if not receipt.files:
            return None, []
        return _local_files(receipt, details, common, protect, encrypt=sub.encrypt_files)
    if sub.encrypt_files:
        raise BadConfiguration(
            "encrypt_files works with local file sinks only",
            where=f"subscription {sub.id}: sink",
            hint="deliver to a local folder, or leave encrypt_files out (reversible fields still work)",
        )
    leaves, root = b"", None
    if not receipt.files:  # rows in a table: sign the order-independent root
        leaves = sorted_leaves(out, leaf_block)
        root = audit.block_merkle_root(leaves)  # the same root, without an object per leaf
        details["records_sorted_root"] = root
    signed = consent.sign_manifest(
        receipt.batch_id,
        files=[{"name": name, "sha256": digest} for name, digest in receipt.files],
        details=details,
        **common,
        **protect,
    )
    stored = sink.write_manifest(
        connectors.DeliveryManifest(
            batch_id=signed.batch_id,
            key_id=signed.key_id,
            data=signed.data,
            signature=signed.signature,
            public_key_pem=signed.public_key_pem,
            names=(signed.manifest_name, signed.signature_name, signed.public_key_name),
            rows=out.num_rows,
            sorted_root=root,
            sorted_leaves=leaves,
            arrow_schema=out.schema.serialize().to_pybytes() if root is not None else b"",
        )
    )
    files = [[name, digest] for name, digest in receipt.files]
    return (signed.sha256 if stored else None), files


def _local_files(
    receipt: connectors.SinkReceipt,
    details: dict[str, Any],
    common: dict[str, Any],
    protect: dict[str, Any],
    *,
    encrypt: bool,
) -> tuple[str, list[list[str]]]:
    """A local file sink: the manifest files beside the batch file (encrypting it if asked)."""
    manifest = consent.write_manifest(
        Path(receipt.location).parent,
        receipt.batch_id,
        files=receipt.files,
        details=details,
        encrypt=encrypt,
        **common,
        **protect,
    )
    listed = json.loads(manifest.read_bytes())["files"]
    return consent.file_sha256(manifest)[0], [[entry["name"], entry["sha256"]] for entry in listed]
