"""RestSink: POSTs batches as JSON to an API, exactly once thanks to an idempotency key.

Each request carries `Idempotency-Key: <batch id>`; a batch larger than `max_records`
goes in parts keyed `<batch id>.<part>` (0-based), the same on every retry. The API must
apply a key once and answer a repeat with success: that is what makes the retries of
`HttpClient` (timeouts, 409/429/5xx) and a re-delivered batch safe. A batch is written
when every part got a 2xx answer.

Body: `{"<records_key>": [records…]}`, or the bare list when `records_key` is null.
Values are encoded on whole columns first so they stay exact in JSON: decimals as their
canonical text ("1234.50"), timestamps as ISO 8601 UTC ("2024-03-01T12:30:00.123456Z"; a
zone-less one without the "Z"), dates as "YYYY-MM-DD", times of day as "HH:MM:SS[.ffffff]",
binary as base64; NaN and infinities are refused (JSON has none).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from connectors.base import SinkReceipt
from connectors.rest.http_client import RETRY_STATUSES, HttpClient, redact_url
from connectors.rest.settings import RestSinkSettings, sink_settings
from govbus.errors import BadInput

IDEMPOTENCY_HEADER = "Idempotency-Key"
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
        json_ready = json_columns(data, self._location)
        for part in range(parts):
            key = batch_id if parts == 1 else f"{batch_id}.{part}"
            body = self._body(json_ready.slice(part * size, size))
            self._client.request(
                "POST",
                self._settings.http.url,
                content=body,
                headers={"Content-Type": "application/json", IDEMPOTENCY_HEADER: key},
                retry_statuses=_SINK_RETRY_STATUSES,
            )
        return SinkReceipt(batch_id=batch_id, rows=data.num_rows, location=self._location)

    def close(self) -> None:
        """Close the HTTP connections."""
        if self._client is not None:
            self._client.close()
            self._client = None

    def _body(self, part: pa.Table) -> bytes:
        records = part.to_pylist()  # the boundary: JSON is Python objects from here on
        document: Any = (
            records if self._settings.records_key is None else {self._settings.records_key: records}
        )
        try:
            text = json.dumps(
                document, ensure_ascii=False, allow_nan=False, separators=(",", ":"), default=_json
            )
        except ValueError:
            raise BadInput(
                "a float is NaN or infinite, which JSON cannot carry", where=self._location
            ) from None
        return text.encode()


def json_columns(data: pa.Table, where: str) -> pa.Table:
    """The batch with top-level decimals, timestamps, dates and binary as exact JSON texts."""
    columns = []
    for name in data.column_names:
        column = data[name]
        if pa.types.is_dictionary(column.type):
            column = column.cast(column.type.value_type)
        kind = column.type
        if pa.types.is_decimal(kind):
            column = column.cast(pa.string())
        elif pa.types.is_timestamp(kind):
            try:
                naive = column.cast(pa.timestamp("us", tz=kind.tz)).cast(pa.timestamp("us")).cast(pa.string())
            except pa.ArrowInvalid:
                raise BadInput(
                    "a timestamp has sub-microsecond precision", where=f"{where}: {name}"
                ) from None
            # An instant in UTC ends in "Z"; a zone-less (local) timestamp stays zone-less.
            zone = "Z" if kind.tz is not None else ""
            column = pc.binary_join_element_wise(
                pc.replace_substring(naive, " ", "T", max_replacements=1), zone, ""
            )
        elif pa.types.is_time(kind):
            column = column.cast(pa.string())
        elif pa.types.is_date(kind):
            column = column.cast(pa.date32()).cast(pa.string())
        elif (
            pa.types.is_binary(kind) or pa.types.is_large_binary(kind) or pa.types.is_fixed_size_binary(kind)
        ):
            values = column.to_pylist()
            column = pa.array(
                [None if v is None else base64.b64encode(v).decode() for v in values], pa.string()
            )
        columns.append(column)
    return pa.Table.from_arrays(columns, names=data.column_names)


def _json(value: Any) -> Any:
    """Nested values (inside lists and structs) the column pass did not reach."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.datetime):
        value = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    raise TypeError(type(value).__name__)
