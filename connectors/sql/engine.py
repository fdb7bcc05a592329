"""What SqlSource and SqlSink share: engines, identifier checks, reflection, error mapping.

Secrets: a URL's password never leaves this module; callers get the URL redacted by
SQLAlchemy (`***` for the password) to use in `where=` and receipts. Database errors are
mapped to GovBus errors carrying only the driver's exception class: a driver's message
may quote the offending row (an identifier, an amount), so it is never copied.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc

from govbus.errors import BadConfiguration, BadInput, GovBusError, TransientError

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")
_IDENTIFIER_HINT = "use a plain identifier: letters, digits and _, not starting with a digit, ≤ 63"


def check_identifier(name: object, setting: str) -> str:
    """Return `name` if it is a plain SQL identifier, else name the setting in the error.

    The refused value is not echoed: it may be hostile (an injection attempt) or long.
    """
    if not isinstance(name, str) or not _IDENTIFIER.fullmatch(name):
        raise BadConfiguration("is not a plain SQL identifier", where=setting, hint=_IDENTIFIER_HINT)
    return name


def check_identifiers(names: Sequence[str], setting: str) -> tuple[str, ...]:
    """Check a list setting (key_fields, columns …); the error names the item's index."""
    if isinstance(names, str) or not isinstance(names, Sequence):
        raise BadConfiguration("must be a list of column names", where=setting)
    return tuple(check_identifier(name, f"{setting}[{i}]") for i, name in enumerate(names))


def split_table_name(table: object) -> tuple[str | None, str]:
    """`name` or `schema.name` (both parts plain identifiers) → (schema, name)."""
    if not isinstance(table, str):
        raise BadConfiguration("must be a table name", where="table", hint=_IDENTIFIER_HINT)
    parts = table.split(".")
    if len(parts) > 2:
        raise BadConfiguration("is not a table name or schema.table", where="table")
    names = [check_identifier(part, "table") for part in parts]
    return (names[0], names[1]) if len(names) == 2 else (None, names[0])


def open_engine(url: object) -> tuple[sa.Engine, str]:
    """Create an engine (no connection yet) and return it with the redacted URL."""
    if not isinstance(url, str) or not url:
        raise BadConfiguration("must be a SQLAlchemy URL", where="url")
    try:
        parsed = sa.make_url(url)
    except (sa_exc.ArgumentError, ValueError, TypeError):
        raise BadConfiguration(
            "is not a valid SQLAlchemy URL",
            where="url",
            hint="write dialect+driver://user@host:port/database, or sqlite:///path/to/file.db",
        ) from None
    redacted = parsed.render_as_string(hide_password=True)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        folder = Path(parsed.database).expanduser().parent
        if not folder.is_dir():
            raise BadConfiguration(
                f"the SQLite file's folder {folder} does not exist",
                where=redacted,
                hint="create the folder, or fix the path in the URL",
            )
    try:
        engine = sa.create_engine(parsed, pool_pre_ping=True)
    except (sa_exc.NoSuchModuleError, sa_exc.ArgumentError, ImportError) as exc:
        raise BadConfiguration(
            f"no usable SQLAlchemy dialect or driver ({type(exc).__name__})",
            where=redacted,
            hint="install the driver named in the URL (e.g. psycopg, pymysql)",
        ) from None
    return engine, redacted


def db_error(exc: sa_exc.SQLAlchemyError, where: str) -> GovBusError:
    """Map a SQLAlchemy error to the GovBus branch a caller can act on.

    Raise the result `from None`: the chained driver error would carry SQL parameters.
    """
    driver_class = type(getattr(exc, "orig", None) or exc).__name__
    if isinstance(exc, sa_exc.IntegrityError | sa_exc.DataError):
        return _refused_data(driver_class, where)
    if isinstance(exc, sa_exc.ProgrammingError | sa_exc.NotSupportedError):
        return _refused_statement(driver_class, where)
    return _unreachable(driver_class, where)


def dbapi_error(exc: Exception, dbapi: Any, where: str) -> GovBusError:
    """Map an error raised by a driver's own cursor (PEP 249 classes of module `dbapi`).

    SqlSink's fast paths use the DBAPI cursor directly, so SQLAlchemy does not wrap their
    errors; they map exactly as `db_error` maps the wrapped ones. Raise it `from None`.
    """
    driver_class = type(exc).__name__
    if isinstance(exc, dbapi.IntegrityError | dbapi.DataError):
        return _refused_data(driver_class, where)
    if isinstance(exc, dbapi.ProgrammingError | dbapi.NotSupportedError):
        return _refused_statement(driver_class, where)
    return _unreachable(driver_class, where)


def _refused_data(driver_class: str, where: str) -> GovBusError:
    return BadInput(
        f"the database refused the data ({driver_class})",
        where=where,
        hint="check that keys are unique and not null and that values fit the columns",
    )


def _refused_statement(driver_class: str, where: str) -> GovBusError:
    return BadConfiguration(
        f"the database refused the statement ({driver_class})",
        where=where,
        hint="check the table's definition and the account's privileges",
    )


def _unreachable(driver_class: str, where: str) -> GovBusError:
    return TransientError(
        f"the database is unreachable, busy or failed ({driver_class})",
        where=where,
        hint="retry later; check the server is up and the URL's host, port and credentials",
    )


def reflect_table(engine: sa.Engine, table: str, where: str) -> sa.Table:
    """Reflect `table` (name or schema.name); a missing table is a configuration error."""
    schema, name = split_table_name(table)
    try:
        with engine.connect() as conn:
            return sa.Table(name, sa.MetaData(), schema=schema, autoload_with=conn)
    except sa_exc.NoSuchTableError:
        raise BadConfiguration(
            f"table {table} does not exist", where="table", hint="check the table setting"
        ) from None
    except sa_exc.SQLAlchemyError as exc:
        raise db_error(exc, where) from None


def require_columns(table: sa.Table, names: Sequence[str], setting: str) -> None:
    """Every name must be a column of the reflected table."""
    for i, name in enumerate(names):
        if name not in table.c:
            raise BadConfiguration(
                f"column {name} is not in table {table.name}",
                where=f"{setting}[{i}]",
                hint="check the column names against the table",
            )
