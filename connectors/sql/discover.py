"""Drafting a dataset's Avro schema from a SQL table, for `govbus discover`.

`discover_table(url, table)` reflects the table (SQLAlchemy's inspector; SQLite,
PostgreSQL and MariaDB/MySQL are tested) and returns a `TableDraft` of plain dicts:
each column's Avro type, nullability, declared length and notes a person must review,
the primary key and the unique constraints. Nothing is read from the rows.

    SQL                                  Avro
    BOOLEAN; TINYINT(1) on MariaDB/MySQL boolean
    SMALLINT, INTEGER, MEDIUMINT         int (INTEGER UNSIGNED: long)
    BIGINT; every INTEGER on SQLite      long (BIGINT UNSIGNED: decimal(20,0))
    REAL (PostgreSQL), FLOAT             float
    DOUBLE [PRECISION]; REAL on SQLite   double
    NUMERIC(p,s), DECIMAL(p,s)           bytes decimal(p,s)
    NUMERIC without precision            string (its exact decimal text; see below)
    DATE, TIME                           int date, long time-micros
    TIMESTAMP WITH TIME ZONE             long timestamp-micros
    TIMESTAMP / DATETIME (no zone)       long local-timestamp-micros (see below)
    CHAR, VARCHAR, TEXT, JSON            string (declared length → `max_length`)
    BYTEA, BLOB, BINARY, VARBINARY       bytes
    UUID                                 string uuid
    ENUM                                 enum (string when a label is no Avro symbol)
    anything else                        string, with a note to review it

Two choices a reviewer must know:
* NUMERIC without a declared precision (PostgreSQL's unbounded numeric) has no Avro
  decimal: a double would lose cents and refusing would stop the draft, so it is drafted
  as string holding the exact decimal text (what SqlSource reads), with a note to pick
  decimal(p,s) once the range is known.
* A timestamp column without a zone is drafted as local-timestamp-micros: the database
  does not say which zone its wall-clock times are in. SqlSource reads such columns as
  UTC, so if the system writes UTC (as GovBus's SqlSink does), make it timestamp-micros.

A column SqlSource cannot read yet (arrays, intervals, network addresses…) is noted so.
Errors: a bad URL or a missing table is a BadConfiguration (the latter lists the tables
and views that exist, names only); an unreachable database a TransientError. The URL's
password never appears in a message.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, TypedDict

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects import mysql
from sqlalchemy.engine import Inspector
from sqlalchemy.sql import sqltypes

from connectors.sql.column_types import MYSQL_DIALECTS, arrow_type_of
from connectors.sql.engine import db_error, open_engine, split_table_name
from govbus.errors import BadConfiguration, GovBusError

AVRO_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_LISTED_TABLES = 60  # a missing table's message lists at most this many names


class ColumnDraft(TypedDict):
    """One column: `avro` is its Avro type without the null branch."""

    name: str
    sql_type: str
    avro: Any
    nullable: bool
    max_length: int | None
    value_set: list[str] | None  # enum labels, when the enum had to become a string
    readable: bool  # SqlSource reads this column type
    notes: list[str]


class TableDraft(TypedDict):
    """A reflected table: `record` is the drafted Avro record (fields in column order)."""

    table: str
    dialect: str
    location: str  # the redacted URL and the table, for messages
    columns: list[ColumnDraft]
    primary_key: list[str]
    unique: list[list[str]]
    record: dict[str, Any]


def discover_table(url: str, table: str, *, record_name: str | None = None) -> TableDraft:
    """Reflect `table` (name or schema.name) at `url` and draft its Avro record."""
    schema, name = split_table_name(table)
    engine, redacted = open_engine(url)
    database = engine.url.database
    if engine.dialect.name == "sqlite" and database not in (None, "", ":memory:"):
        if not Path(database).expanduser().is_file():  # connecting would create an empty file
            raise BadConfiguration(
                "the SQLite file does not exist", where=redacted, hint="check the path in the URL"
            )
    try:
        with engine.connect() as conn:
            inspector = sa.inspect(conn)
            if not inspector.has_table(name, schema=schema) and name not in _views(inspector, schema):
                raise _missing_table(inspector, table, schema, redacted)
            columns = inspector.get_columns(name, schema=schema)
            primary_key = list(
                inspector.get_pk_constraint(name, schema=schema).get("constrained_columns") or []
            )
            unique = _unique_keys(inspector, name, schema)
            declared = _sqlite_declared(conn, name, schema) if engine.dialect.name == "sqlite" else {}
    except sa_exc.SQLAlchemyError as exc:
        raise db_error(exc, redacted) from None
    finally:
        engine.dispose()
    _check_names([column["name"] for column in columns], table)
    record = record_name or _pascal(name)
    drafts = [
        _column(column, engine.dialect, primary_key, declared.get(column["name"]), record)
        for column in columns
    ]
    _unique_enum_names(drafts, record)
    return TableDraft(
        table=table,
        dialect=engine.dialect.name,
        location=f"{redacted}#{table}",
        columns=drafts,
        primary_key=primary_key,
        unique=unique,
        record={
            "type": "record",
            "name": record,
            "doc": f"One row of the table {table}.",
            "fields": [_field(draft) for draft in drafts],
        },
    )


def _views(inspector: Inspector, schema: str | None) -> list[str]:
    try:
        return list(inspector.get_view_names(schema=schema))
    except NotImplementedError:
        return []


def _missing_table(inspector: Inspector, table: str, schema: str | None, where: str) -> GovBusError:
    names = sorted({*inspector.get_table_names(schema=schema), *_views(inspector, schema)})
    shown = ", ".join(names[:_LISTED_TABLES])
    if len(names) > _LISTED_TABLES:
        shown += f" … and {len(names) - _LISTED_TABLES} more"
    return BadConfiguration(
        f"table {table} does not exist",
        where=where,
        hint=f"tables and views there: {shown}" if names else "the database has no tables or views",
    )


def _unique_keys(inspector: Inspector, name: str, schema: str | None) -> list[list[str]]:
    keys: list[list[str]] = []
    try:
        keys.extend(list(u["column_names"]) for u in inspector.get_unique_constraints(name, schema=schema))
    except NotImplementedError:
        pass
    for index in inspector.get_indexes(name, schema=schema):
        columns = [c for c in index.get("column_names") or [] if c is not None]
        if index.get("unique") and columns and columns not in keys:
            keys.append(columns)
    return keys


def _sqlite_declared(conn: sa.Connection, name: str, schema: str | None) -> dict[str, str]:
    """SQLite's declared type texts: SQLAlchemy maps a name it does not know to NUMERIC."""
    prefix = f'"{schema}".' if schema else ""
    rows = conn.exec_driver_sql(f'PRAGMA {prefix}table_info("{name}")').fetchall()  # names checked
    return {row[1]: row[2] or "" for row in rows}


def _check_names(names: list[str], table: str) -> None:
    bad = [name for name in names if not AVRO_NAME.fullmatch(name)]
    if bad:
        raise BadConfiguration(
            f"column(s) {', '.join(repr(n) for n in bad[:10])} are not valid Avro field names",
            where=f"table {table}",
            hint="read the table through a view that renames them (letters, digits and _)",
        )


def _pascal(name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in name.split("_") if part) or "Row"


def _column(
    column: dict[str, Any], dialect: sa.Dialect, primary_key: list[str], declared: str | None, record: str
) -> ColumnDraft:
    sql_type = column["type"]
    name = column["name"]
    shown = declared.upper() if declared is not None else _compiled(sql_type, dialect)
    avro, notes, value_set = _avro_type(sql_type, dialect.name, name, record)
    if declared is not None and _sqlite_unknown(declared, dialect):
        avro, value_set, readable = "string", None, False  # SQLAlchemy would decode it as a number
        notes = [
            f"SQLite does not know the type {shown or '(none)'}: drafted as string; review it, and "
            "declare a known type or cast the column in a view for SqlSource to read it"
        ]
    else:
        readable = _readable(name, sql_type)
        if not readable:
            notes.append("SqlSource cannot read this type yet: convert or leave out the column in a view")
    length = getattr(sql_type, "length", None)
    bounded = isinstance(sql_type, sqltypes.String | sqltypes._Binary) and not isinstance(
        sql_type, sqltypes.Text | sqltypes.Enum | mysql.SET
    )
    return ColumnDraft(
        name=name,
        sql_type=shown,
        avro=avro,
        nullable=bool(column.get("nullable", True)) and name not in primary_key,
        max_length=length if bounded and isinstance(length, int) and avro in ("string", "bytes") else None,
        value_set=value_set,
        readable=readable,
        notes=notes,
    )


def _readable(name: str, sql_type: sa.types.TypeEngine[Any]) -> bool:
    try:
        arrow_type_of(sa.Column(name, sql_type))
    except (BadConfiguration, ValueError):
        return False
    return True


def _compiled(sql_type: sa.types.TypeEngine[Any], dialect: sa.Dialect) -> str:
    try:
        return str(sql_type.compile(dialect=dialect))
    except sa_exc.SQLAlchemyError:
        return type(sql_type).__name__


def _sqlite_unknown(declared: str, dialect: sa.Dialect) -> bool:
    """A declared type SQLAlchemy only guessed by SQLite's affinity rules as NUMERIC/none."""
    match = re.match(r"([\w ]+)", declared)
    base = match.group(1).strip().upper() if match else ""
    if base in getattr(dialect, "ischema_names", {}):
        return False
    return not any(part in base for part in ("INT", "CHAR", "CLOB", "TEXT", "BLOB", "REAL", "FLOA", "DOUB"))


def _avro_type(
    sql_type: sa.types.TypeEngine[Any], dialect: str, column: str, record: str
) -> tuple[Any, list[str], list[str] | None]:
    """(Avro type, notes, enum labels kept as a value set) of one SQL type."""
    if isinstance(sql_type, sqltypes.Boolean):
        return "boolean", [], None
    if isinstance(sql_type, mysql.TINYINT) and sql_type.display_width == 1:
        return (
            "boolean",
            ["TINYINT(1) is MariaDB's BOOLEAN: drafted as boolean; make it int if it counts"],
            None,
        )
    if isinstance(sql_type, sqltypes.Enum) and not isinstance(sql_type, mysql.SET):
        return _enum(list(sql_type.enums), column, record)
    if isinstance(sql_type, sqltypes.Integer):
        return _integer(sql_type, dialect), _unsigned_note(sql_type), None
    if isinstance(sql_type, sqltypes.Float):
        return _float(sql_type, dialect), [], None
    if isinstance(sql_type, sqltypes.Numeric):
        return _decimal(sql_type, dialect)
    if isinstance(sql_type, sqltypes.DateTime):
        if sql_type.timezone:
            return {"type": "long", "logicalType": "timestamp-micros"}, [], None
        note = (
            "no time zone in the database: drafted as local-timestamp-micros; if the system "
            "writes UTC (as GovBus's SqlSink does), make it timestamp-micros"
        )
        if isinstance(sql_type, mysql.TIMESTAMP):
            note += " (MariaDB TIMESTAMP values are read in the session's time zone)"
        return {"type": "long", "logicalType": "local-timestamp-micros"}, [note], None
    if isinstance(sql_type, sqltypes.Date):
        return {"type": "int", "logicalType": "date"}, [], None
    if isinstance(sql_type, sqltypes.Time):
        if sql_type.timezone:
            return "string", ["TIME WITH TIME ZONE has no Avro type: drafted as string; review it"], None
        return {"type": "long", "logicalType": "time-micros"}, [], None
    if isinstance(sql_type, sqltypes.Uuid):
        return {"type": "string", "logicalType": "uuid"}, [], None
    if isinstance(sql_type, sqltypes.JSON):
        return "string", [], None
    if isinstance(sql_type, sqltypes.String) and not isinstance(sql_type, mysql.SET):
        return "string", [], None
    if isinstance(sql_type, sqltypes._Binary):
        return "bytes", [], None
    return "string", [f"unknown SQL type {type(sql_type).__name__}: drafted as string; review it"], None


def _integer(sql_type: sa.types.TypeEngine[Any], dialect: str) -> Any:
    unsigned = bool(getattr(sql_type, "unsigned", False))
    if dialect == "sqlite":
        return "long"  # SQLite stores every integer in up to 8 bytes, whatever the declared name
    if isinstance(sql_type, sqltypes.BigInteger):
        return (
            {"type": "bytes", "logicalType": "decimal", "precision": 20, "scale": 0} if unsigned else "long"
        )
    if unsigned and isinstance(sql_type, sqltypes.INTEGER):  # MEDIUMINT is no INTEGER here
        return "long"
    return "int"


def _unsigned_note(sql_type: sa.types.TypeEngine[Any]) -> list[str]:
    if getattr(sql_type, "unsigned", False) and isinstance(sql_type, sqltypes.BigInteger):
        return ["BIGINT UNSIGNED: drafted as decimal(20,0); SqlSource reads values up to 2^63-1"]
    return []


def _float(sql_type: sa.types.Float[Any], dialect: str) -> str:
    if dialect == "sqlite" or isinstance(sql_type, sqltypes.Double):
        return "double"
    if isinstance(sql_type, sqltypes.REAL):
        return "double" if dialect in MYSQL_DIALECTS else "float"  # MariaDB's REAL is DOUBLE
    precision = sql_type.precision
    return "float" if precision is None or precision <= 24 else "double"


def _decimal(sql_type: sa.types.Numeric[Any], dialect: str) -> tuple[Any, list[str], None]:
    precision, scale = sql_type.precision, sql_type.scale or 0
    if precision is None:
        return (
            "string",
            [
                "NUMERIC without precision: drafted as string (its exact decimal text); "
                "pick decimal(p,s) once the range of values is known"
            ],
            None,
        )
    if not 0 < precision <= 76 or not 0 <= scale <= precision:
        return "string", [f"NUMERIC({precision},{scale}) has no Avro/Arrow decimal: drafted as string"], None
    notes = []
    if dialect == "sqlite":
        notes.append("SQLite keeps NUMERIC values as REAL or INTEGER: at most 15 significant digits")
    return {"type": "bytes", "logicalType": "decimal", "precision": precision, "scale": scale}, notes, None


def _enum(labels: list[str], column: str, record: str) -> tuple[Any, list[str], list[str] | None]:
    if labels and len(set(labels)) == len(labels) and all(AVRO_NAME.fullmatch(s) for s in labels):
        name = _pascal(column)
        if name == record:
            name += "Value"
        return {"type": "enum", "name": name, "symbols": labels}, [], None
    note = "ENUM labels are not all Avro symbols: drafted as string with an in-set expectation"
    return "string", [note], labels


def _unique_enum_names(drafts: list[ColumnDraft], record: str) -> None:
    """Avro names must be unique in a schema: `a_b` and `aB` both make enum `AB`."""
    used = {record}
    for draft in drafts:
        avro = draft["avro"]
        if isinstance(avro, dict) and avro.get("type") == "enum":
            name, n = avro["name"], 2
            while name in used:
                name, n = f"{avro['name']}{n}", n + 1
            avro["name"] = name
            used.add(name)


def _field(draft: ColumnDraft) -> dict[str, Any]:
    doc = f"SQL type {draft['sql_type']}." if draft["sql_type"] else "No declared SQL type."
    if draft["nullable"]:
        return {"name": draft["name"], "type": ["null", draft["avro"]], "default": None, "doc": doc}
    return {"name": draft["name"], "type": draft["avro"], "doc": doc}
