"""RestSink: POSTs batches as JSON to an API, exactly once thanks to an idempotency key.

Each request carries `Idempotency-Key: <batch id>`; a batch larger than `max_records`
goes in parts keyed `<batch id>.<part>` (0-based), the same on every retry. The API must
apply a key once and answer a repeat with success: that is what makes the retries of
`HttpClient` (timeouts, 409/429/5xx) and a re-delivered batch safe. A batch is written
when every part got a 2xx answer.

Body: `{"<records_key>": [records…]}`, or the bare list when `records_key` is null.
The records are GovBus's JSON text forms, the JSON Lines sink's (`connectors.files.
text_columns.json_values`, built with Arrow kernels, no loop over records), so the conform
step reads them back exactly under the dataset's Avro schema: decimals as plain-digit text
("1234.50"), timestamps as ISO 8601 UTC with the column's precision
("2024-03-01T12:30:00.123456Z"; a zone-less one without the "Z"), dates as "YYYY-MM-DD",
times of day as "HH:MM:SS[.ffffff]", binary (`bytes`, `fixed`) as lowercase hexadecimal
text ("00ff"), maps as JSON objects, records as objects, arrays as arrays. NaN and
infinities are refused: JSON has no number for them (see docs/connectors.md, "The REST
wire form").

What the recipient can verify (`connectors.ManifestStore`): the receipt lists each
request body as a "file" named `<idempotency key>.json` with the SHA-256 of its exact
bytes, so the bus's signed manifest names every body it sent. With `manifest_url` set,
`write_manifest` POSTs the manifest's exact bytes there after the batch's records, with
`Idempotency-Key: <batch id>.manifest`, the raw Ed25519 signature in base64 in
`X-GovBus-Signature` and the key id in `X-GovBus-Key-Id`. A recipient that keeps the
bodies under those names beside `<batch id>.manifest.json` and `.manifest.sig` checks
them with `govbus verify-delivery FOLDER`. Without `manifest_url` nothing is sent.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from connectors.base import DeliveryManifest, SinkReceipt
from connectors.files.text_columns import json_values
from connectors.rest.http_client import RETRY_STATUSES, HttpClient, redact_url
from connectors.rest.settings import RestSinkSettings, sink_settings
from govbus.errors import BadInput

IDEMPOTENCY_HEADER = "Idempotency-Key"
SIGNATURE_HEADER, KEY_ID_HEADER = "X-GovBus-Signature", "X-GovBus-Key-Id"
_SINK_RETRY_STATUSES = RETRY_STATUSES | {409}  # 409: the same key is still being processed


class RestSink:
    """POSTs each batch to `settings.http.url` (see the module doc)."""

    def __init__(self, settings: RestSinkSettings) -> None:
        self._settings = settings
        self._location = redact_url(settings.http.url)
        self._client: HttpClient | None = None

    @classmethod
    def from_settings(
        cls, settings: Mapping[str, Any], *, key_fields: Sequence[str] = (), schema: pa.Schema | None = None
    ) -> RestSink:
        """Validate the connector's settings (see `rest_settings`); keys and schema are
        not needed: the API identifies records itself and dedups by idempotency key."""
        return cls(sink_settings(settings))

    def write(self, batch_id: str, data: pa.Table) -> SinkReceipt:
        """POST `data` (in parts of at most `max_records`); returns once all were accepted."""
        if not isinstance(batch_id, str) or not batch_id or not batch_id.isprintable():
            raise BadInput("must be a non-empty printable string", where="batch_id")
        if not isinstance(data, pa.Table):
            raise BadInput("must be a pyarrow Table", where="data")
        if not data.num_rows:
            return SinkReceipt(batch_id=batch_id, rows=0, location=self._location)
        if self._client is None:
            self._client = self._settings.http.client()
        size = self._settings.max_records
        parts = -(-data.num_rows // size)
        _refuse_non_finite(data, self._location)
        json_ready = json_records(data)
        bodies: list[tuple[str, str]] = []
        for part in range(parts):
            key = batch_id if parts == 1 else f"{batch_id}.{part}"
            body = self._body(json_ready.slice(part * size, size).to_pylist())
            bodies.append((f"{key}.json", hashlib.sha256(body).hexdigest()))
            self._client.request(
                "POST",
                self._settings.http.url,
                content=body,
                headers={"Content-Type": "application/json", IDEMPOTENCY_HEADER: key},
                retry_statuses=_SINK_RETRY_STATUSES,
            )
        return SinkReceipt(
            batch_id=batch_id, rows=data.num_rows, location=self._location, files=tuple(bodies)
        )

    def write_manifest(self, manifest: DeliveryManifest) -> str:
        """POST the signed manifest to `manifest_url` (see the module doc); "" when none is set."""
        url = self._settings.manifest_url
        if url is None:
            return ""
        if self._client is None:
            self._client = self._settings.http.client()
        self._client.request(
            "POST",
            url,
            content=manifest.data,
            headers={
                "Content-Type": "application/json",
                IDEMPOTENCY_HEADER: f"{manifest.batch_id}.manifest",
                SIGNATURE_HEADER: base64.b64encode(manifest.signature).decode("ascii"),
                KEY_ID_HEADER: manifest.key_id,
            },
            retry_statuses=_SINK_RETRY_STATUSES,
        )
        return redact_url(url)

    def close(self) -> None:
        """Close the HTTP connections."""
        if self._client is not None:
            self._client.close()
            self._client = None

    def _body(self, records: list[str]) -> bytes:
        """The request body: the records' JSON texts in a list, under `records_key` if set."""
        listed = "[" + ",".join(records) + "]"
        key = self._settings.records_key
        return (
            listed if key is None else "{" + json_values(pa.array([key])).to_pylist()[0] + ":" + listed + "}"
        ).encode()


def json_records(data: pa.Table) -> pa.Array:
    """Each record of `data` as one JSON object text (keys in column order, nulls as null)."""
    parts: list[pa.Array | str] = []
    for index, name in enumerate(data.column_names):
        label = json_values(pa.array([name])).to_pylist()[0]
        parts.append(("{" if index == 0 else ",") + label + ":")
        parts.append(json_values(data[name].combine_chunks()))
    if not parts:
        return pa.array(["{}"] * data.num_rows, pa.string())
    parts.append("}")
    return pc.binary_join_element_wise(*parts, "")


def _refuse_non_finite(data: pa.Table, where: str) -> None:
    """NaN and infinities have no JSON number: refuse the batch, naming the column
    (never the value or its row, which could identify someone)."""
    for name in data.column_names:
        column = data[name]
        for leaf in _float_leaves(column.type, column):
            if leaf is not None and pc.any(pc.invert(pc.is_finite(leaf))).as_py():
                raise BadInput(
                    "a float is NaN or infinite, which JSON cannot carry",
                    where=f"{where}: {name}",
                    hint="send such values as text in the contract, or deliver to a file sink",
                )


def _float_leaves(kind: pa.DataType, values: Any) -> list[Any]:
    """The float arrays inside a column, nested ones (list items, struct fields, map
    values) flattened."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if pa.types.is_floating(kind):
        return [values]
    if pa.types.is_dictionary(kind):
        return []
    if pa.types.is_map(kind):
        entry = pa.struct([("key", kind.key_type), ("value", kind.item_type)])
        entries = pc.list_flatten(values.cast(pa.list_(entry)))  # the slice's entries only
        return _float_leaves(kind.item_type, pc.struct_field(entries, [1]))
    if pa.types.is_list(kind) or pa.types.is_large_list(kind) or pa.types.is_fixed_size_list(kind):
        return _float_leaves(kind.value_type, pc.list_flatten(values))
    if pa.types.is_struct(kind):
        return [
            leaf
            for i, field in enumerate(kind)
            for leaf in _float_leaves(field.type, pc.struct_field(values, [i]))
        ]
    return []
