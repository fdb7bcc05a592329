"""Alembic migrations of the state database (run through `exchange.state.migrate`).

Not imported by anything: Alembic loads `env.py` and `versions/*.py` by path. The
folder is a package only so that installing GovBus ships these files.
"""

from __future__ import annotations
