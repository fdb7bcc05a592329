"""Building a source or sink from a connector's settings, built-in or plug-in.

Settings are a mapping whose `connector` names the kind; the other keys are that kind's
settings, already expanded by the caller (no `${ENV}` expansion happens here):

    connector   source settings    sink settings
    sql         url | url_env |    the same (+ mode: upsert | append); password_env
                conn_id, table     with url or url_env (see connectors.credentials)
    parquet     path               directory
    fixed_width path | directory,  -
                copybook, ...      (see connectors.mainframe.fixed_width.fixed_width_source)
    csv, jsonl, directory, pattern,    directory (+ delimiter for csv, codec for avro)
    avro        archive_directory, settle_seconds (+ CSV options); parquet too with
                `directory` instead of `path` (see connectors.files.kinds)
    rest        url, records_path, paging, since_param, token_env | conn_id, ... (both sides;
                see connectors.rest.settings)
    sftp_csv, sftp_jsonl, sftp_avro, sftp_parquet (both sides), sftp_fixed_width (source):
                the local kind's settings with `directory` on the server, plus host,
                port, username, password_env | private_key_env | private_key_path,
                known_hosts | host_key_fingerprint, ... (see connectors.sftp.kinds)

A missing or unknown setting is refused with a BadConfiguration naming it and listing
the known ones.

Plug-ins: a distribution registers a factory under the entry-point group
`govbus.connectors`; the entry point's name is the `connector` value it serves. The
factory is called as

    factory(settings, role="source", key_fields=(...), cursor_field="updated_at" | None)
    factory(settings, role="sink", key_fields=(...), schema=pyarrow.Schema)

with the whole settings mapping (including `connector`), and returns an object
implementing `Source` or `Sink` (see `connectors.base`); it validates its own settings
and raises `govbus.errors` exceptions. Built-in names take precedence over plug-ins.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from importlib.metadata import entry_points
from typing import Any

import pyarrow as pa

from connectors.base import Sink, Source
from connectors.credentials import sql_settings
from connectors.files.kinds import FILE_CONNECTORS, is_drop_folder, make_file_sink, make_file_source
from connectors.files.parquet import ParquetSink, ParquetSource
from connectors.mainframe.fixed_width import SETTINGS as FIXED_WIDTH_SETTINGS
from connectors.mainframe.fixed_width import fixed_width_source
from connectors.rest.sink import RestSink
from connectors.rest.source import RestSource
from connectors.sftp.kinds import SFTP_SINKS, SFTP_SOURCES, make_sftp_sink, make_sftp_source
from connectors.sql.sink import SqlSink
from connectors.sql.source import SqlSource
from govbus.errors import BadConfiguration

ENTRY_POINT_GROUP = "govbus.connectors"

_SOURCE_SETTINGS = {"sql": ("url", "table"), "parquet": ("path",), "fixed_width": FIXED_WIDTH_SETTINGS}
_SINK_SETTINGS = {"sql": ("url", "table"), "parquet": ("directory",)}
_OPTIONAL_SINK_SETTINGS = {"sql": ("mode",)}  # mode: upsert (default) | append
_OWN_SETTINGS = {"rest"}  # built-ins that validate their own settings (connectors.rest.settings)
_PRINTABLE_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")


def make_source(
    settings: Mapping[str, Any], *, key_fields: Sequence[str], cursor_field: str | None
) -> Source:
    """A source for `settings`; `cursor_field=None` means a full refresh ordered by key."""
    connector = _connector(settings)
    keys = tuple(key_fields)
    if connector == "fixed_width":  # validates its own settings (path or directory, copybook, ...)
        return fixed_width_source(settings, key_fields=keys, cursor_field=cursor_field)
    if is_drop_folder(settings):  # csv, jsonl, avro, parquet by directory: validated there
        return make_file_source(settings)
    if connector in SFTP_SOURCES:  # drop folders on an SFTP server: validated there
        return make_sftp_source(settings, key_fields=keys)
    if connector == "rest":
        return RestSource.from_settings(settings, key_fields=keys, cursor_field=cursor_field)
    if connector == "sql":  # the secret is read now: url_env, password_env or conn_id → url
        settings = sql_settings(settings)
    if connector in _SOURCE_SETTINGS:
        values = _settings(settings, connector, _SOURCE_SETTINGS[connector])
        cursor_fields = None if cursor_field is None else (cursor_field,)
        if connector == "sql":
            return SqlSource(values["url"], values["table"], key_fields=keys, cursor_fields=cursor_fields)
        return ParquetSource(values["path"], cursor_fields=cursor_fields, key_fields=keys)
    factory = _plugin(connector, _SOURCE_SETTINGS)
    source = factory(settings, role="source", key_fields=keys, cursor_field=cursor_field)
    return _checked(source, Source, connector)


def make_sink(settings: Mapping[str, Any], *, key_fields: Sequence[str], schema: pa.Schema) -> Sink:
    """A sink for `settings` writing batches of `schema`, upserting by `key_fields`."""
    connector = _connector(settings)
    keys = tuple(key_fields)
    if connector in FILE_CONNECTORS:  # csv, jsonl, avro files: validated there
        return make_file_sink(settings)
    if connector in SFTP_SINKS:  # files on an SFTP server: validated there
        return make_sftp_sink(settings)
    if connector == "rest":
        return RestSink.from_settings(settings, key_fields=keys, schema=schema)
    if connector == "sql":  # the secret is read now: url_env, password_env or conn_id → url
        settings = sql_settings(settings)
    if connector in _SINK_SETTINGS:
        optional = _OPTIONAL_SINK_SETTINGS.get(connector, ())
        values = _settings(settings, connector, _SINK_SETTINGS[connector], optional)
        if connector == "sql":
            mode = values.get("mode", "upsert")
            return SqlSink(values["url"], values["table"], key_fields=keys, schema=schema, mode=mode)
        return ParquetSink(values["directory"])
    factory = _plugin(connector, _SINK_SETTINGS)
    sink = factory(settings, role="sink", key_fields=keys, schema=schema)
    return _checked(sink, Sink, connector)


def _connector(settings: Mapping[str, Any]) -> str:
    if not isinstance(settings, Mapping):
        raise BadConfiguration("connector settings must be a mapping", where="connector")
    connector = settings.get("connector")
    if not isinstance(connector, str) or not connector:
        raise BadConfiguration(
            "missing setting 'connector'",
            where="connector",
            hint=f"known connectors: {', '.join(_known_connectors())}",
        )
    return connector


def _settings(
    settings: Mapping[str, Any], connector: str, known: tuple[str, ...], optional: tuple[str, ...] = ()
) -> dict[str, Any]:
    """The `known` settings (none missing) and those of `optional` given; nothing else."""
    listing = f"settings of connector {connector}: connector, {', '.join(known)}"
    if optional:
        listing += f"; optional: {', '.join(optional)}"
    for name in settings:
        if name != "connector" and name not in known and name not in optional:
            shown = name if isinstance(name, str) and _PRINTABLE_NAME.fullmatch(name) else "?"
            raise BadConfiguration(f"unknown setting '{shown}'", where=shown, hint=listing)
    for name in known:
        if name not in settings:
            raise BadConfiguration(f"missing setting '{name}'", where=name, hint=listing)
    return {name: settings[name] for name in (*known, *optional) if name in settings}


def _plugin(connector: str, builtins: Mapping[str, object]) -> Callable[..., Any]:
    plugins = {entry.name: entry for entry in entry_points(group=ENTRY_POINT_GROUP)}
    if connector not in plugins:
        shown = f"'{connector}'" if _PRINTABLE_NAME.fullmatch(connector) else ""
        known = sorted({*builtins, *FILE_CONNECTORS, *SFTP_SOURCES, *_OWN_SETTINGS, *plugins})
        raise BadConfiguration(
            f"unknown connector {shown}".rstrip(),
            where="connector",
            hint=f"known connectors: {', '.join(known)}",
        )
    try:
        factory = plugins[connector].load()
    except Exception as exc:  # a broken plug-in must not look like a GovBus bug
        raise BadConfiguration(
            f"the plug-in for connector '{connector}' cannot be loaded ({type(exc).__name__})",
            where="connector",
            hint=f"check the package providing the {ENTRY_POINT_GROUP} entry point",
        ) from exc
    if not callable(factory):
        raise BadConfiguration(f"the plug-in for connector '{connector}' is not a factory", where="connector")
    return factory


def _checked(made: object, protocol: type, connector: str) -> Any:
    if not isinstance(made, protocol):
        raise BadConfiguration(
            f"the plug-in for connector '{connector}' did not return a {protocol.__name__}",
            where="connector",
        )
    return made


def _known_connectors() -> list[str]:
    plugins = {entry.name for entry in entry_points(group=ENTRY_POINT_GROUP)}
    known = {*_SOURCE_SETTINGS, *_SINK_SETTINGS, *FILE_CONNECTORS, *SFTP_SOURCES, *_OWN_SETTINGS}
    return sorted({*known, *plugins})
