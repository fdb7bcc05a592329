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
the known ones. The sql and parquet sources also take `max_field_bytes` (see
`connectors.files.bounds`).

Before a run (`govbus check`), without contacting anything: `local_paths` lists the
settings naming a local file or folder (a SQLite URL's database file included),
`confine_settings` resolves them under `PathRules` (connectors.files.confinement) and
refuses any outside, `secret_references` lists the environment variables and Airflow
connections the settings name, and `check_settings` validates a connector's settings as
`make_source` / `make_sink` would (SQL identifiers included) and builds nothing that
connects.

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

import os
import re
from collections.abc import Callable, Mapping, Sequence
from importlib.metadata import entry_points
from pathlib import Path
from typing import TYPE_CHECKING, Any

from connectors.base import Sink, Source
from connectors.files.confinement import PathRules
from govbus.errors import BadConfiguration

if TYPE_CHECKING:
    import pyarrow as pa
    import sqlalchemy as sa

    from connectors.files.bounds import Limits

ENTRY_POINT_GROUP = "govbus.connectors"

# The built-in kinds by name. A kind's module (and what it needs: SQLAlchemy, httpx,
# paramiko, fastavro...) is imported when a connector of that kind is made or checked,
# never at import: a command that opens one SQL source does not load the SFTP client.
# tests/connectors/test_registry_kinds.py checks these names against the kinds' modules.
FILE_KINDS = ("avro", "csv", "jsonl")  # connectors.files.kinds.FILE_CONNECTORS
SFTP_SOURCE_KINDS = ("sftp_csv", "sftp_jsonl", "sftp_avro", "sftp_parquet", "sftp_fixed_width")
SFTP_SINK_KINDS = ("sftp_csv", "sftp_jsonl", "sftp_avro", "sftp_parquet")  # connectors.sftp.kinds

_SOURCE_SETTINGS = {"sql": ("url", "table"), "parquet": ("path",)}
_SINK_SETTINGS = {"sql": ("url", "table"), "parquet": ("directory",)}
_OPTIONAL_SOURCE_SETTINGS = {"sql": ("max_field_bytes",), "parquet": ("max_field_bytes",)}
_OPTIONAL_SINK_SETTINGS = {"sql": ("mode",)}  # mode: upsert (default) | append
# Settings naming a local file or folder, by connector; `archive_directory` is relative
# to `directory`. sftp_* folders are on the server: only a local copybook is local.
_PATHS = {
    **{kind: ("directory", "archive_directory", "path") for kind in (*FILE_KINDS, "parquet")},
    "fixed_width": ("path", "directory", "archive_directory", "copybook"),
    "sftp_fixed_width": ("copybook",),
}
# Built-ins that validate their own settings (connectors.rest.settings,
# connectors.mainframe.fixed_width.SETTINGS).
_OWN_SETTINGS = {"rest", "fixed_width"}
_COPYBOOK_KINDS = {"fixed_width", "sftp_fixed_width"}
_PRINTABLE_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")


def make_source(
    settings: Mapping[str, Any], *, key_fields: Sequence[str], cursor_field: str | None
) -> Source:
    """A source for `settings`; `cursor_field=None` means a full refresh ordered by key."""
    connector = _connector(settings)
    keys = tuple(key_fields)
    if connector == "fixed_width":  # validates its own settings (path or directory, copybook, ...)
        from connectors.mainframe.fixed_width import fixed_width_source

        return fixed_width_source(settings, key_fields=keys, cursor_field=cursor_field)
    if _is_drop_folder(settings):  # csv, jsonl, avro, parquet by directory: validated there
        from connectors.files.kinds import make_file_source

        return make_file_source(settings)
    if connector in SFTP_SOURCE_KINDS:  # drop folders on an SFTP server: validated there
        from connectors.sftp.kinds import make_sftp_source

        return make_sftp_source(settings, key_fields=keys)
    if connector == "rest":
        from connectors.rest.source import RestSource

        return RestSource.from_settings(settings, key_fields=keys, cursor_field=cursor_field)
    if connector == "sql":  # the secret is read now: url_env, password_env or conn_id → url
        from connectors.credentials import sql_settings

        settings = sql_settings(settings)
    if connector in _SOURCE_SETTINGS:
        optional = _OPTIONAL_SOURCE_SETTINGS.get(connector, ())
        values = _settings(settings, connector, _SOURCE_SETTINGS[connector], optional)
        cursor_fields = None if cursor_field is None else (cursor_field,)
        limits = _limits(values)
        if connector == "sql":
            from connectors.sql.source import SqlSource

            return SqlSource(
                values["url"],
                values["table"],
                key_fields=keys,
                cursor_fields=cursor_fields,
                max_field_bytes=limits.max_field_bytes,
            )
        from connectors.files.parquet import ParquetSource

        return ParquetSource(values["path"], cursor_fields=cursor_fields, key_fields=keys, limits=limits)
    factory = _plugin(connector, _SOURCE_SETTINGS)
    source = factory(settings, role="source", key_fields=keys, cursor_field=cursor_field)
    return _checked(source, Source, connector)


def make_sink(settings: Mapping[str, Any], *, key_fields: Sequence[str], schema: pa.Schema) -> Sink:
    """A sink for `settings` writing batches of `schema`, upserting by `key_fields`."""
    connector = _connector(settings)
    keys = tuple(key_fields)
    if connector in FILE_KINDS:  # csv, jsonl, avro files: validated there
        from connectors.files.kinds import make_file_sink

        return make_file_sink(settings)
    if connector in SFTP_SINK_KINDS:  # files on an SFTP server: validated there
        from connectors.sftp.kinds import make_sftp_sink

        return make_sftp_sink(settings)
    if connector == "rest":
        from connectors.rest.sink import RestSink

        return RestSink.from_settings(settings, key_fields=keys, schema=schema)
    if connector == "sql":  # the secret is read now: url_env, password_env or conn_id → url
        from connectors.credentials import sql_settings

        settings = sql_settings(settings)
    if connector in _SINK_SETTINGS:
        optional = _OPTIONAL_SINK_SETTINGS.get(connector, ())
        values = _settings(settings, connector, _SINK_SETTINGS[connector], optional)
        if connector == "sql":
            from connectors.sql.sink import SqlSink

            mode = values.get("mode", "upsert")
            return SqlSink(values["url"], values["table"], key_fields=keys, schema=schema, mode=mode)
        from connectors.files.parquet import ParquetSink

        return ParquetSink(values["directory"])
    factory = _plugin(connector, _SINK_SETTINGS)
    sink = factory(settings, role="sink", key_fields=keys, schema=schema)
    return _checked(sink, Sink, connector)


def _limits(values: Mapping[str, Any]) -> Limits:
    """The `max_field_bytes` of a sql or parquet source (the default when not given)."""
    from connectors.files.bounds import DEFAULT_FIELD_BYTES, Limits

    value = values.get("max_field_bytes", DEFAULT_FIELD_BYTES)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise BadConfiguration("must be a positive whole number of bytes", where="max_field_bytes")
    return Limits(max_field_bytes=value)


def local_paths(settings: Mapping[str, Any]) -> list[str]:
    """The settings of `settings` that name a local file or folder, as given (in order)."""
    connector = settings.get("connector") if isinstance(settings, Mapping) else None
    names = [name for name in _PATHS.get(str(connector), ()) if settings.get(name) is not None]
    if connector == "sql" and _sqlite_file(settings.get("url")) is not None:
        names.append("url")
    return names


def confine_settings(settings: Mapping[str, Any], rules: PathRules) -> dict[str, Any]:
    """`settings` with every local path resolved (see `PathRules.place`); refused with a
    `BadConfiguration` naming the setting when one lies outside the allowed roots.

    Relative paths resolve against `rules.base` (the catalog folder) and
    `archive_directory` against `directory`; the values become absolute, so a connector
    never resolves a path against the process's current folder.
    """
    confined = dict(settings)
    for name in local_paths(settings):
        if name == "url":
            confined["url"] = _confined_sqlite(settings["url"], rules)
        elif name == "archive_directory" and "directory" in confined:
            folder = Path(str(confined["directory"]))
            confined[name] = str(rules.place(settings[name], name, relative_to=folder))
        else:
            confined[name] = str(rules.place(settings[name], name))
    library = settings.get("copybook_library")
    if library is not None and "copybook" in confined and str(settings.get("connector")) in _COPYBOOK_KINDS:
        # COPY members are read from these folders too: each must lie inside the roots
        # (relative ones resolve from the copybook's folder, as the compiler's search does).
        folders = [library] if isinstance(library, str | os.PathLike) else library
        if isinstance(folders, list | tuple):
            near = Path(str(confined["copybook"])).parent
            confined["copybook_library"] = [
                str(rules.place(folder, f"copybook_library[{i}]", relative_to=near))
                for i, folder in enumerate(folders)
            ]
    return confined


def _sqlite_file(url: object) -> sa.URL | None:
    """The parsed URL when `url` is a SQLite URL naming a database file, else None."""
    if not isinstance(url, str) or not url.startswith("sqlite"):
        return None
    import sqlalchemy as sa

    try:
        parsed = sa.make_url(url)
    except (sa.exc.ArgumentError, ValueError, TypeError):
        return None  # the connector names the problem
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return parsed


def _confined_sqlite(url: str, rules: PathRules) -> str:
    parsed = _sqlite_file(url)
    assert parsed is not None and parsed.database is not None
    if parsed.query.get("uri") in ("true", "1") or parsed.database.startswith("file:"):
        raise BadConfiguration(
            "a SQLite URI file name cannot be checked against the allowed folders",
            where="url",
            hint="write sqlite:///path/to/file.db",
        )
    placed = rules.place(parsed.database, "url")
    return parsed.set(database=str(placed)).render_as_string(hide_password=False)


def secret_references(settings: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """(setting, "env" or "conn", name) for each environment variable (`*_env`) and Airflow
    connection (`conn_id`) the settings name: what a run will read."""
    found = []
    for name, value in settings.items():
        if not isinstance(name, str) or not isinstance(value, str) or not value:
            continue
        if name == "conn_id":
            found.append((name, "conn", value))
        elif name.endswith("_env"):
            found.append((name, "env", value))
    return found


def check_settings(
    settings: Mapping[str, Any],
    *,
    role: str,
    key_fields: Sequence[str] = (),
    cursor_field: str | None = None,
    schema: pa.Schema | None = None,
) -> None:
    """Validate a source's (`role="source"`) or sink's settings as a run would build the
    connector, contacting nothing; `BadConfiguration` (or another `GovBusError`) otherwise.

    The secrets the settings name are read (they must be there); SQL table and column
    names (the key and cursor fields, and the sink's `schema`) must be plain identifiers,
    and a SQL sink's database one it writes into. Others are built and closed: none of
    them connects before its first read or write.
    """
    connector = _connector(settings)
    keys = tuple(key_fields)
    if connector == "sql":
        from connectors.credentials import sql_settings
        from connectors.sql.engine import check_identifier, check_identifiers, split_table_name
        from connectors.sql.sink import check_sink_target

        resolved = sql_settings(settings)
        known = _SOURCE_SETTINGS["sql"] if role == "source" else _SINK_SETTINGS["sql"]
        optional = (_OPTIONAL_SOURCE_SETTINGS if role == "source" else _OPTIONAL_SINK_SETTINGS)["sql"]
        values = _settings(resolved, "sql", known, optional)
        split_table_name(values["table"])
        check_identifiers(keys, "key_fields")
        if cursor_field is not None:
            check_identifier(cursor_field, "cursor_field")
        if role == "source":
            _limits(values)
        else:
            check_sink_target(values["url"], values.get("mode", "upsert"), schema, keys)
        return
    if role == "source":
        made: Any = make_source(settings, key_fields=keys, cursor_field=cursor_field)
    else:
        import pyarrow as pa

        made = make_sink(settings, key_fields=keys, schema=schema if schema is not None else pa.schema([]))
    made.close()


def _is_drop_folder(settings: Mapping[str, Any]) -> bool:
    """Do these settings ask for a drop-folder source (csv, jsonl, avro, parquet by directory)?

    The same rule as `connectors.files.kinds.is_drop_folder`, without importing the file
    formats' readers to answer it.
    """
    connector = settings.get("connector")
    return connector in FILE_KINDS or (
        connector == "parquet" and "directory" in settings and "path" not in settings
    )


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
        known = sorted({*builtins, *FILE_KINDS, *SFTP_SOURCE_KINDS, *_OWN_SETTINGS, *plugins})
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
    known = {*_SOURCE_SETTINGS, *_SINK_SETTINGS, *FILE_KINDS, *SFTP_SOURCE_KINDS, *_OWN_SETTINGS}
    return sorted({*known, *plugins})
