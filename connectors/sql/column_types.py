"""The SQL ⇄ Arrow type mapping of SqlSource (reflected SQL → Arrow) and SqlSink (Arrow → DDL).

How SqlSink encodes values for each driver is `sql_wire`'s business.

Exactness first: decimals stay decimals (decimal128/256 ⇄ NUMERIC(p,s)), or text where a
database has no exact decimal (SQLite). Timestamps are UTC: naive database values are
read as UTC, and SQLite/MariaDB columns (no time zone) store UTC wall-clock time.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.dialects import mysql
from sqlalchemy.sql import sqltypes

from govbus.errors import BadConfiguration, BadInput

UTC_MICROS = pa.timestamp("us", tz="UTC")
MYSQL_DIALECTS = frozenset({"mysql", "mariadb"})


def arrow_type_of(column: sa.Column[Any]) -> pa.DataType:
    """The Arrow type SqlSource produces for a reflected column.

    NUMERIC without a declared precision becomes its exact decimal text (pa.string);
    MySQL/MariaDB TINYINT(1), their BOOLEAN, becomes bool; JSON becomes its text.
    """
    sql_type = column.type
    if isinstance(sql_type, sqltypes.Boolean):
        return pa.bool_()
    if isinstance(sql_type, mysql.TINYINT) and sql_type.display_width == 1:
        return pa.bool_()
    if isinstance(sql_type, sqltypes.Integer):
        return pa.int64()
    if isinstance(sql_type, sqltypes.Float):
        return pa.float64()
    if isinstance(sql_type, sqltypes.Numeric):
        precision, scale = sql_type.precision, sql_type.scale or 0
        if precision is None:
            return pa.string()
        return (pa.decimal128 if precision <= 38 else pa.decimal256)(precision, scale)
    if isinstance(sql_type, sqltypes.DateTime):
        return UTC_MICROS
    if isinstance(sql_type, sqltypes.Date):
        return pa.date32()
    if isinstance(sql_type, sqltypes.String | sqltypes.Uuid):
        return pa.string()
    if isinstance(sql_type, sqltypes._Binary):
        return pa.binary()
    if isinstance(sql_type, sqltypes.Time) and not sql_type.timezone:
        return pa.time64("us")
    if isinstance(sql_type, sqltypes.JSON):
        return pa.string()
    raise BadConfiguration(
        f"column {column.name} has a SQL type GovBus does not read",
        where=f"columns: {column.name}",
        hint="leave the column out with the columns setting, or convert it in a view",
    )


def to_arrow_array(
    values: Sequence[Any], arrow_type: pa.DataType, sql_type: sa.types.TypeEngine[Any], where: str
) -> pa.Array:
    """Build one column from the driver's values (the driver boundary: Python objects in).

    Values the driver returns in another Python type (ints for MySQL booleans, Decimals
    for an unbounded NUMERIC) are converted by an Arrow cast that refuses any loss.
    """
    if isinstance(sql_type, sqltypes.Uuid):
        values = [None if value is None else str(value) for value in values]
    elif isinstance(sql_type, sqltypes.JSON):  # the driver parsed it: back to JSON text
        values = [None if value is None else json.dumps(value, ensure_ascii=False) for value in values]
    try:
        return pa.array(values, type=arrow_type)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, OverflowError):
        pass
    try:
        return pa.array(values).cast(arrow_type)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, TypeError):
        raise BadInput(
            f"a value does not fit the column's type {arrow_type}",
            where=where,
            hint="fix the value at the source, or read the column as text",
        ) from None


def sql_type_for(field: pa.Field, dialect: str, *, is_key: bool) -> sa.types.TypeEngine[Any]:
    """The column type SqlSink creates for an Arrow field on `dialect`."""
    arrow_type = _value_type(field.type)
    if pa.types.is_boolean(arrow_type):
        return sa.Boolean()
    if pa.types.is_integer(arrow_type) and arrow_type != pa.uint64():
        fits_int32 = arrow_type.bit_width < 32 or arrow_type == pa.int32()
        return sa.Integer() if fits_int32 else sa.BigInteger()
    if pa.types.is_floating(arrow_type):
        return sa.Double()
    if pa.types.is_decimal(arrow_type):
        if dialect == "sqlite":
            return sa.Text()  # SQLite has no exact decimal: keep the canonical text
        return sa.Numeric(arrow_type.precision, arrow_type.scale, asdecimal=True)
    if pa.types.is_timestamp(arrow_type):
        if dialect in MYSQL_DIALECTS:
            return mysql.DATETIME(fsp=6)
        return sa.DateTime(timezone=dialect == "postgresql")
    if pa.types.is_date(arrow_type):
        return sa.Date()
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        return sa.String(255) if is_key and dialect in MYSQL_DIALECTS else sa.Text()
    if pa.types.is_binary(arrow_type) or pa.types.is_large_binary(arrow_type):
        return sa.LargeBinary()
    raise BadConfiguration(
        f"field {field.name} has an Arrow type SqlSink does not write ({arrow_type})",
        where=f"schema: {field.name}",
        hint="use bool, integers, floats, decimals, timestamps, dates, strings or binary",
    )


def _value_type(arrow_type: pa.DataType) -> pa.DataType:
    return arrow_type.value_type if pa.types.is_dictionary(arrow_type) else arrow_type
