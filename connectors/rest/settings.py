"""The settings of the `rest` connector, validated, with errors naming the setting.

Source settings (defaults in brackets):

    url               the collection's http(s) URL, without credentials
    records_path      dotted path of the records list in the JSON answer [the answer itself]
    paging            none | page | offset | cursor | link                       [none]
      page            page_param [page], first_page [1]
      offset          offset_param [offset]
      page, offset    page_size_param [per_page | limit; null: not sent], page_size [100]
      cursor          next_token_path (dotted path of the next token), token_param [cursor]
      link            follows the `Link: <…>; rel="next"` header (same origin only)
    since_param       query parameter taking the cursor value, for APIs that filter by it
    params            fixed query parameters, a mapping of names to texts or numbers

Sink settings: url, records_key [records; null: the body is the bare list], max_records
[10000 records per POST], manifest_url [none: where each batch's signed manifest is POSTed
after its records, see `connectors.rest.sink`; an http(s) URL without credentials].

Bounds (both sides): max_response_bytes [64 MiB: a longer answer is refused while it is
read]; source only: max_depth [64 levels of JSON nesting, measured before parsing] and
max_field_bytes [1 MiB per value] (`connectors.files.bounds`): a page breaking one is
refused with `BadInput` naming the page (and the record and field).

Both: token_env (the environment variable holding the API token) or conn_id (an Airflow
connection whose password, else extra "token", is the token; see connectors.credentials);
no auth if neither; the token is read when the first request is made. auth_header
[Authorization], auth_scheme [Bearer; "" sends the bare token], timeout [30 s],
max_attempts [5], backoff_initial [0.5 s], backoff_max [30 s], retry_after_max [120 s],
rate_limit [requests per second; none], rate_burst [1].
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from connectors.credentials import rest_token
from connectors.files.bounds import Limits
from connectors.files.settings import SettingsReader
from connectors.rest.http_client import HttpClient, RetryPolicy
from govbus.errors import BadConfiguration

PAGINGS = ("none", "page", "offset", "cursor", "link")
_HTTP = (
    "url", "token_env", "conn_id", "auth_header", "auth_scheme", "timeout", "max_attempts", "backoff_initial",
    "backoff_max", "retry_after_max", "rate_limit", "rate_burst", "max_response_bytes",
)  # fmt: skip
SOURCE_SETTINGS = (
    *_HTTP, "records_path", "paging", "page_param", "first_page", "page_size_param", "page_size",
    "offset_param", "next_token_path", "token_param", "since_param", "params", "max_depth", "max_field_bytes",
)  # fmt: skip
DEFAULT_RESPONSE_BYTES = 64 << 20
SINK_SETTINGS = (*_HTTP, "records_key", "max_records", "manifest_url")
_PAGE_SIZE_PARAMS = {"page": "per_page", "offset": "limit"}
_RATES = {"minimum": 0.001, "maximum": 100_000.0}


@dataclass(frozen=True)
class HttpSettings:
    """Where and how to call: the URL, auth, timeouts, retries and rate limit."""

    url: str
    token_env: str | None
    conn_id: str | None
    auth_header: str
    auth_scheme: str
    timeout: float
    retry: RetryPolicy
    rate_limit: float | None
    rate_burst: int
    max_response_bytes: int = DEFAULT_RESPONSE_BYTES

    def client(self) -> HttpClient:
        """A client with the token read now from its environment variable or Airflow
        connection (BadConfiguration if it is not there)."""
        token = rest_token(token_env=self.token_env, conn_id=self.conn_id)
        headers = {}
        if token is not None:
            headers[self.auth_header] = f"{self.auth_scheme} {token}" if self.auth_scheme else token
        return HttpClient(
            timeout=self.timeout,
            retry=self.retry,
            rate_limit=self.rate_limit,
            rate_burst=self.rate_burst,
            headers=headers,
            max_response_bytes=self.max_response_bytes,
        )


@dataclass(frozen=True)
class RestSourceSettings:
    """A `RestSource`'s settings, validated (see the module doc); made by `source_settings`."""

    http: HttpSettings
    records_path: tuple[str, ...]
    paging: str
    page_param: str
    first_page: int
    page_size_param: str | None
    page_size: int
    offset_param: str
    next_token_path: tuple[str, ...]
    token_param: str
    since_param: str | None
    params: dict[str, str] = field(default_factory=dict)
    limits: Limits = field(default_factory=Limits)


@dataclass(frozen=True)
class RestSinkSettings:
    """A `RestSink`'s settings, validated: `records_key` None posts the bare list; made by `sink_settings`."""

    http: HttpSettings
    records_key: str | None
    max_records: int
    manifest_url: str | None = None


def source_settings(settings: Mapping[str, Any]) -> RestSourceSettings:
    """Validate the source settings (see the module doc); nothing is contacted."""
    reader = SettingsReader(settings, "rest", SOURCE_SETTINGS)
    paging = reader.choice("paging", "none", PAGINGS)
    records_path = reader.optional_text("records_path")
    next_token_path = reader.text("next_token_path") if paging == "cursor" else None
    size_param = _PAGE_SIZE_PARAMS.get(paging, "per_page")
    if "page_size_param" in settings and settings["page_size_param"] is None:
        page_size_param = None
    else:
        page_size_param = reader.text("page_size_param", size_param)
    return RestSourceSettings(
        http=_http_settings(reader, settings),
        records_path=_path(records_path, "records_path"),
        paging=paging,
        page_param=reader.text("page_param", "page"),
        first_page=_integer(reader, "first_page", 1, 0, 1_000_000),
        page_size_param=page_size_param,
        page_size=_integer(reader, "page_size", 100, 1, 1_000_000),
        offset_param=reader.text("offset_param", "offset"),
        next_token_path=_path(next_token_path, "next_token_path"),
        token_param=reader.text("token_param", "cursor"),
        since_param=reader.optional_text("since_param"),
        params=_params(settings.get("params")),
        limits=Limits.from_settings(reader, ("max_depth", "max_field_bytes")),
    )


def sink_settings(settings: Mapping[str, Any]) -> RestSinkSettings:
    """Validate the sink settings (see the module doc); nothing is contacted."""
    reader = SettingsReader(settings, "rest", SINK_SETTINGS)
    records_key = None if "records_key" in settings and settings["records_key"] is None else "records"
    return RestSinkSettings(
        http=_http_settings(reader, settings),
        records_key=records_key and reader.text("records_key", "records"),
        max_records=_integer(reader, "max_records", 10_000, 1, 10_000_000),
        manifest_url=_manifest_url(reader.optional_text("manifest_url")),
    )


def _manifest_url(url: str | None) -> str | None:
    """The sink's `manifest_url`: http(s), no credentials (the token goes in a header)."""
    if url is None:
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BadConfiguration("must be an http or https URL", where="manifest_url")
    if parts.username is not None or parts.password is not None:
        raise BadConfiguration("must not hold credentials", where="manifest_url")
    return url


def _http_settings(reader: SettingsReader, settings: Mapping[str, Any]) -> HttpSettings:
    url = reader.text("url")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BadConfiguration("must be an http or https URL", where="url")
    if parts.username is not None or parts.password is not None:
        raise BadConfiguration(
            "must not hold credentials",
            where="url",
            hint="name the token's environment variable by token_env, or an Airflow connection by conn_id",
        )
    if settings.get("token_env") is not None and settings.get("conn_id") is not None:
        raise BadConfiguration("name either token_env or conn_id, not both", where="conn_id")
    rate_limit = settings.get("rate_limit")
    max_backoff = reader.number("backoff_max", 30.0, minimum=0.0, maximum=3600.0)
    return HttpSettings(
        url=url,
        token_env=reader.optional_text("token_env"),
        conn_id=reader.optional_text("conn_id"),
        auth_header=reader.text("auth_header", "Authorization"),
        auth_scheme="" if settings.get("auth_scheme") == "" else reader.text("auth_scheme", "Bearer"),
        timeout=reader.number("timeout", 30.0, minimum=0.001, maximum=3600.0),
        retry=RetryPolicy(
            max_attempts=_integer(reader, "max_attempts", 5, 1, 100),
            backoff_initial=reader.number("backoff_initial", 0.5, minimum=0.0, maximum=max_backoff),
            backoff_max=max_backoff,
            retry_after_max=reader.number("retry_after_max", 120.0, minimum=0.0, maximum=86_400.0),
        ),
        rate_limit=None if rate_limit is None else reader.number("rate_limit", rate_limit, **_RATES),
        rate_burst=_integer(reader, "rate_burst", 1, 1, 100_000),
        max_response_bytes=_integer(reader, "max_response_bytes", DEFAULT_RESPONSE_BYTES, 1, 1 << 40),
    )


def _integer(reader: SettingsReader, name: str, default: int, minimum: int, maximum: int) -> int:
    value = reader.number(name, default, minimum=minimum, maximum=maximum)
    if value != int(value):
        raise BadConfiguration("must be a whole number", where=name)
    return int(value)


def _path(dotted: str | None, name: str) -> tuple[str, ...]:
    if dotted is None:
        return ()
    parts = tuple(dotted.split("."))
    if not all(parts):
        raise BadConfiguration("must be a dotted path like data.items", where=name)
    return parts


def _params(params: object) -> dict[str, str]:
    if params is None:
        return {}
    if not isinstance(params, Mapping):
        raise BadConfiguration("must be a mapping of names to values", where="params")
    checked = {}
    for i, (name, value) in enumerate(params.items()):
        if not isinstance(name, str) or not name:
            raise BadConfiguration("must be a non-empty name", where=f"params[{i}]")
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise BadConfiguration("must be a text or a number", where=f"params.{name}")
        checked[name] = str(value)
    return checked
