"""Column types shared by every part's tables in the one state database.

`UtcDateTime` is the one way GovBus stores an instant: the consent register, the ledger
and the exchange's own tables all read back aware UTC datetimes, whatever the server.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import mysql
from sqlalchemy.engine import Dialect

from govbus.instants import as_utc

__all__ = ["UtcDateTime"]


class UtcDateTime(sa.types.TypeDecorator[datetime]):
    """A timestamp stored as UTC and read back as an aware UTC datetime.

    SQLite keeps no zone (values are written in UTC, so text order is time order);
    PostgreSQL uses timestamptz; MySQL/MariaDB keep microseconds (fsp=6).
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> sa.types.TypeEngine[Any]:
        """MySQL/MariaDB keep microseconds (fsp=6); the others a zoned timestamp."""
        if dialect.name in ("mysql", "mariadb"):
            return dialect.type_descriptor(mysql.DATETIME(fsp=6))
        return dialect.type_descriptor(sa.DateTime(timezone=True))

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Written as UTC; naive on SQLite and MySQL, whose columns keep no zone."""
        if value is None:
            return None
        value = as_utc(value)
        return value.replace(tzinfo=None) if dialect.name in ("sqlite", "mysql", "mariadb") else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Read back as an aware UTC datetime, whatever the server returned."""
        return None if value is None else as_utc(value)
