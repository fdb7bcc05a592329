"""Alembic's environment for the state database.

`exchange.state.migrate` builds the Alembic `Config` in code and hands over an open
connection (already in the transaction that holds the migration lock) in
`config.attributes["connection"]`; there is no alembic.ini and no URL here. The version
is kept in `govbus_schema_version`, not `alembic_version`, so the state database may
share a PostgreSQL schema with Airflow's metadata database without the two colliding.
"""

from __future__ import annotations

from alembic import context

from exchange.state.migrate import VERSION_TABLE, target_metadata
from govbus.errors import BadConfiguration

connection = context.config.attributes.get("connection")
if connection is None:
    raise BadConfiguration(
        "the state database's migrations run only through GovBus",
        where="exchange/migrations/env.py",
        hint="run `govbus db upgrade`",
    )

context.configure(
    connection=connection,
    target_metadata=target_metadata(),
    version_table=VERSION_TABLE,
    # SQLite cannot ALTER most things: batch mode copies the table instead.
    render_as_batch=True,
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
