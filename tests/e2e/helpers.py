"""Reading what the sample agencies received, for the end-to-end tests."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import sqlalchemy as sa


def sql_rows(db: Path, table: str) -> list[dict]:
    engine = sa.create_engine(f"sqlite:///{db}")
    try:
        with engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(sa.text(f"SELECT * FROM {table}"))]
    finally:
        engine.dispose()


def source_rows(home: Path) -> list[dict]:
    return sql_rows(home / "agencies" / "tax" / "tax.db", "income_returns")


def benefits_rows(home: Path) -> list[dict]:
    return sql_rows(home / "agencies" / "benefits" / "benefits.db", "tax_income")


def housing_rows(home: Path) -> list[dict]:
    db = home / "agencies" / "housing" / "housing.db"
    return sql_rows(db, "applicant_income") if db.exists() else []


def statistics_files(home: Path) -> list[Path]:
    return sorted((home / "agencies" / "statistics" / "inbox" / "tax.income").glob("*.parquet"))


def statistics_table(home: Path) -> pa.Table:
    return pa.concat_tables([pq.read_table(p) for p in statistics_files(home)])
