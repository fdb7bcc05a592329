"""Connector secrets, read when a connector needs them: from an environment variable or an
Airflow connection. Settings never hold a secret; they name where it is (docs/credentials.md).

    setting        where the secret is                                  connectors
    token_env      environment variable holding the API token           rest
    url_env        environment variable holding a SQLAlchemy URL        sql
    password_env   environment variable holding the password for `url`  sql
    conn_id        an Airflow connection                                rest, sql, (sftp)

Airflow connections (`airflow_connection`): Airflow is imported only when a `conn_id` is
used, so connectors stay light. Inside an Airflow task the Task SDK asks Airflow for it
(the connections stored in Airflow's metadata database, e.g. by `airflow connections
add`, then the secrets backends). Anywhere else (`govbus run`, `govbus discover`) Airflow
reads `AIRFLOW_CONN_<CONN_ID>` (a URI or JSON) and the secrets backends configured in
airflow.cfg, never the metadata database. Importing Airflow reconfigures the root logger
(to stdout, INFO); when GovBus is the one importing it, the caller's logging is restored.

What each connector takes from a connection:
* rest: the token is the connection's password, else its extra "token".
* sql (`connection_sql_url`): the extra "sqlalchemy_url" if present; else a URL built
  from conn_type (postgres → postgresql+psycopg, mysql/mariadb → mysql+pymysql,
  sqlite → the file path in `host`), login, password, host, port, schema (the database)
  and the driver's connection options found in extra (e.g. sslmode, options, charset).
* sftp: host, port, login, password and extra as they are (`ConnectionInfo`).

Errors are BadConfiguration (TransientError when Airflow cannot answer now) naming the
setting and the variable or conn_id, with how to define it; never a secret.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc

from govbus.errors import BadConfiguration, TransientError

SQL_URL_SETTINGS = ("url", "url_env", "conn_id")
"""A sql connector names its database by exactly one of these (+ password_env with a URL)."""

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
_CONN_ID = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,249}")
_DRIVERS = {
    "postgres": "postgresql+psycopg",
    "postgresql": "postgresql+psycopg",
    "mysql": "mysql+pymysql",
    "mariadb": "mysql+pymysql",
    "sqlite": "sqlite",
}
_DRIVER_OPTIONS = {  # connection extras the driver understands as URL query options
    "postgresql+psycopg": frozenset(
        {
            "sslmode", "sslrootcert", "sslcert", "sslkey", "sslcrl", "connect_timeout",
            "application_name", "options", "target_session_attrs", "gssencmode", "channel_binding",
        }
    ),
    "mysql+pymysql": frozenset(
        {
            "charset", "ssl_ca", "ssl_cert", "ssl_key", "ssl_verify_cert", "ssl_verify_identity",
            "connect_timeout", "read_timeout", "write_timeout",
        }
    ),
}  # fmt: skip
_EXAMPLES = {
    "sql": "postgresql://user:password@host:5432/database",
    "rest": "http://:TOKEN@api.example.org",
    "any": "type://login:password@host:port/schema",
}
_airflow_imported_here: list[bool] = []  # [True] once GovBus imported Airflow itself


@dataclass(frozen=True)
class ConnectionInfo:
    """An Airflow connection's fields. `password` and `extra` are secrets: never log them
    (they are left out of `repr`)."""

    conn_id: str
    conn_type: str | None
    host: str | None
    port: int | None
    login: str | None
    password: str | None = field(repr=False)
    schema: str | None
    extra: Mapping[str, Any] = field(default_factory=dict, repr=False)


def from_env(name: object, setting: str) -> str:
    """The value of the environment variable `name` (a setting's value), never empty."""
    if not isinstance(name, str) or not _ENV_NAME.fullmatch(name):
        raise BadConfiguration(
            "must name an environment variable", where=setting, hint="letters, digits and _"
        )
    value = os.environ.get(name, "")
    if not value:
        raise BadConfiguration(
            f"the environment variable {name} is not set",
            where=setting,
            hint=f"export {name}=... before running",
        )
    return value


def airflow_connection(conn_id: object, setting: str = "conn_id", *, example: str = "any") -> ConnectionInfo:
    """The Airflow connection `conn_id` (see the module doc for where Airflow looks).

    `example` ("sql", "rest" or "any") picks the URI shown in the hint when it is missing.
    """
    if not isinstance(conn_id, str) or not _CONN_ID.fullmatch(conn_id):
        raise BadConfiguration(
            "must be an Airflow connection id", where=setting, hint="letters, digits, '_', '-' and '.'"
        )
    conn = _get_connection(conn_id, setting, _EXAMPLES.get(example, _EXAMPLES["any"]))
    extra = conn.extra
    if isinstance(extra, str) and extra:
        try:
            extra = json.loads(extra)
        except ValueError:
            extra = None
    if extra is None or extra == "":
        extra = {}
    if not isinstance(extra, dict):
        raise BadConfiguration(
            f"the extra of Airflow connection {conn_id} is not a JSON object", where=setting
        )
    port = conn.port if isinstance(conn.port, int) else None
    return ConnectionInfo(
        conn_id=conn_id,
        conn_type=conn.conn_type or None,
        host=conn.host or None,
        port=port,
        login=conn.login or None,
        password=conn.password or None,
        schema=conn.schema or None,
        extra=extra,
    )


def rest_token(*, token_env: str | None, conn_id: str | None) -> str | None:
    """The API token named by the REST settings (None: no auth). Read now, never cached."""
    if token_env is not None and conn_id is not None:
        raise BadConfiguration("name either token_env or conn_id, not both", where="conn_id")
    if token_env is not None:
        return from_env(token_env, "token_env")
    if conn_id is None:
        return None
    info = airflow_connection(conn_id, example="rest")
    token = info.password or info.extra.get("token")
    if not isinstance(token, str) or not token:
        raise BadConfiguration(
            f"Airflow connection {conn_id} has neither a password nor an extra 'token'",
            where="conn_id",
            hint="put the API token in the connection's password",
        )
    return token


def sql_settings(settings: Mapping[str, Any]) -> dict[str, Any]:
    """A sql connector's settings with `url_env` / `conn_id` / `password_env` replaced by
    the resolved `url` (the other settings unchanged, for the connector to check)."""
    given = [name for name in SQL_URL_SETTINGS if name in settings]
    if len(given) != 1:
        raise BadConfiguration(
            f"name the database by one of url, url_env or conn_id, not {' and '.join(given)}"
            if given
            else "missing setting 'url'",
            where=given[-1] if given else "url",
            hint="settings of connector sql: connector, url, table (url_env or conn_id instead of "
            "url; password_env with url or url_env)",
        )
    resolved = {k: v for k, v in settings.items() if k not in (*SQL_URL_SETTINGS, "password_env")}
    resolved["url"] = sql_url(settings)
    return resolved


def sql_url(settings: Mapping[str, Any]) -> str:
    """The SQLAlchemy URL the settings name: `url`, `url_env` or `conn_id`, with the
    password of `password_env` put into the URL (correctly escaped) when given."""
    if "conn_id" in settings:
        if "password_env" in settings:
            raise BadConfiguration(
                "goes with url or url_env, not with conn_id (the connection holds the password)",
                where="password_env",
            )
        return connection_sql_url(airflow_connection(settings["conn_id"], example="sql"))
    url = from_env(settings["url_env"], "url_env") if "url_env" in settings else settings.get("url")
    if "password_env" not in settings:
        return url  # type: ignore[no-any-return]  # checked by the connector (open_engine)
    where = "url_env" if "url_env" in settings else "url"
    try:
        parsed = sa.make_url(url)  # type: ignore[arg-type]
    except (sa_exc.ArgumentError, ValueError, TypeError, AttributeError):
        raise BadConfiguration("is not a valid SQLAlchemy URL", where=where) from None
    if parsed.password is not None:
        raise BadConfiguration(
            "already holds a password", where=where, hint="remove it from the URL, or drop password_env"
        )
    password = from_env(settings["password_env"], "password_env")
    return parsed.set(password=password).render_as_string(hide_password=False)


def connection_sql_url(info: ConnectionInfo) -> str:
    """The SQLAlchemy URL of an Airflow connection (see the module doc)."""
    explicit = info.extra.get("sqlalchemy_url")
    if explicit is not None:
        if not isinstance(explicit, str) or not explicit:
            raise BadConfiguration(
                f"Airflow connection {info.conn_id}: extra 'sqlalchemy_url' must be a URL", where="conn_id"
            )
        return explicit
    driver = _DRIVERS.get((info.conn_type or "").lower())
    if driver is None:
        shown = info.conn_type if info.conn_type and _CONN_ID.fullmatch(info.conn_type) else "?"
        raise BadConfiguration(
            f"Airflow connection {info.conn_id} has type {shown}, which GovBus cannot make a URL of",
            where="conn_id",
            hint="use a postgres, mysql or sqlite connection, or put the URL in its extra 'sqlalchemy_url'",
        )
    if driver == "sqlite":
        if not info.host:
            raise BadConfiguration(
                f"Airflow connection {info.conn_id}: a sqlite connection needs the file's path in host",
                where="conn_id",
                hint="e.g. AIRFLOW_CONN_X='sqlite://%2Fpath%2Fto%2Ffile.db' or JSON with \"host\"",
            )
        return f"sqlite:///{info.host}"
    options = _DRIVER_OPTIONS[driver]
    query = {name: str(value) for name, value in info.extra.items() if name in options}
    url = sa.URL.create(
        driver,
        username=info.login,
        password=info.password,
        host=info.host,
        port=info.port,
        database=info.schema,
        query=query,
    )
    return url.render_as_string(hide_password=False)


def _get_connection(conn_id: str, setting: str, example: str) -> Any:
    """Airflow's connection object (Task SDK), errors mapped to GovBus's."""
    try:
        with _logging_kept():
            from airflow.sdk import Connection
            from airflow.sdk.exceptions import AirflowNotFoundException
    except ImportError:
        raise BadConfiguration(
            "reading an Airflow connection needs Apache Airflow installed",
            where=setting,
            hint="install apache-airflow, or name an environment variable instead",
        ) from None
    try:
        with _logging_kept():
            return Connection.get(conn_id)
    except AirflowNotFoundException:
        variable = "AIRFLOW_CONN_" + conn_id.upper()  # Airflow's own naming
        raise BadConfiguration(
            f"Airflow connection {conn_id} is not defined",
            where=setting,
            hint=(
                f"define it: export {variable}='{example}' (or its JSON form), or, for Airflow "
                f"tasks, airflow connections add {conn_id} --conn-uri '{example}'"
            ),
        ) from None
    except Exception as exc:  # the API server or a secrets backend failed: its text may quote secrets
        denied = type(exc).__name__ == "AirflowSecretsBackendAccessDenied"
        error = BadConfiguration if denied else TransientError
        raise error(
            f"Airflow connection {conn_id} cannot be read ({type(exc).__name__})",
            where=setting,
            hint="check Airflow's secrets backends and that the connection may be read",
        ) from None


@contextmanager
def _logging_kept() -> Iterator[None]:
    """Keep the root logger's handlers and level if Airflow is imported by us (not when
    GovBus runs inside Airflow, whose logging is then Airflow's business)."""
    if not _airflow_imported_here:
        _airflow_imported_here.append("airflow" not in sys.modules)
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        yield
    finally:
        if _airflow_imported_here[0]:
            root.handlers[:] = handlers
            root.setLevel(level)
