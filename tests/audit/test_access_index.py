"""The access index's grouped rows: what goes in comes back, per subject, on each database."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy.engine import Engine

import audit
from audit import AUDIT_METADATA, access_index
from exchange.state import migrate as schema_migrations
from govbus.errors import FatalError
from tests.audit.index_engines import PARAMS, index_engine
from tests.conftest import engine_at_revision

_engine = pytest.fixture(params=PARAMS, name="engine")(index_engine)


def refs_of(ids: list[str]) -> list[str]:
    """Audit-pseudonym-shaped refs (64 hex digits) of some made-up ids."""
    return [hashlib.sha256(i.encode()).hexdigest() for i in ids]


def test_rows_group_distinct_subjects_by_bucket_without_losing_one() -> None:
    refs = refs_of([f"p{i}" for i in range(5_000)])
    column = pa.chunked_array([pa.array([*refs[:3_000], None]), pa.array(refs[2_000:] + refs[:10])])
    rows = access_index.index_rows(access_index.group(column), 7)
    keys = [row["refs"][at : at + 32] for row in rows for at in range(0, len(row["refs"]), 32)]
    assert sorted(k.hex() for k in keys) == sorted(refs)  # each subject once, none lost
    assert all(row["ledger_seq"] == 7 for row in rows)
    assert len({row["bucket"] for row in rows}) == len(rows) <= 2**access_index.BUCKET_BITS
    for row in rows:  # every key sits in its own bucket
        data = row["refs"]
        assert {access_index.bucket_of(data[at : at + 32]) for at in range(0, len(data), 32)} == {
            row["bucket"]
        }


def test_upper_case_hex_decodes_like_lower_case() -> None:
    (ref,) = refs_of(["x"])
    (lower,) = access_index.index_rows(access_index.group(pa.array([ref])), 1)
    (upper,) = access_index.index_rows(access_index.group(pa.array([ref.upper()])), 1)
    assert lower["refs"] == upper["refs"] == bytes.fromhex(ref)


def test_no_subjects_write_no_rows() -> None:
    assert access_index.group(pa.array([None, None], pa.string())) == []
    assert access_index.group(pa.array([], pa.string())) == []


@pytest.mark.parametrize("damaged", ["abc123", "zz" * 32, "0f" * 31 + "g0"])
def test_a_damaged_ref_is_refused_without_showing_it(damaged: str) -> None:
    """Too short, or 64 characters that are not all hex digits: never a wrong key."""
    for groups in (access_index.group, lambda refs: access_index.SubjectGroups(refs).of()):
        with pytest.raises(FatalError) as caught:
            groups(pa.array(["ab" * 32, damaged]))
        assert damaged not in str(caught.value) and "stage the dataset again" in str(caught.value)


def test_lookup_finds_exactly_the_deliveries_of_a_subject(engine: Engine) -> None:
    people = refs_of([f"p{i}" for i in range(3_000)])
    rng = np.random.default_rng(5)
    truth: dict[str, list[int]] = {ref: [] for ref in people}
    with engine.begin() as conn:
        for seq in range(1, 13):
            chosen = [people[i] for i in sorted(set(rng.integers(0, len(people), 700).tolist()))]
            assert access_index.write(conn, access_index.group(pa.array(chosen)), seq) == len(chosen)
            for ref in chosen:
                truth[ref].append(seq)
    with engine.connect() as conn:
        for ref in people[:200]:
            assert access_index.seqs_of(conn, ref) == truth[ref]
        assert access_index.seqs_of(conn, refs_of(["nobody"])[0]) == []
        pairs = list(access_index.entries(conn))
    assert sorted(pairs) == sorted((ref, seq) for ref, seqs in truth.items() for seq in seqs)


def random_refs(count: int, seed: int) -> pa.Array:
    """`count` random 64-hex-digit refs, built without a Python loop."""
    raw = np.frombuffer(np.random.default_rng(seed).bytes(32 * count), np.uint8)
    digits = np.frombuffer(b"0123456789abcdef", np.uint8)
    text = np.empty(64 * count, np.uint8)
    text[0::2], text[1::2] = digits[raw >> 4], digits[raw & 0x0F]
    offsets = pa.py_buffer(np.arange(0, 64 * count + 1, 64, dtype=np.int32).tobytes())
    return pa.StringArray.from_buffers(count, offsets, pa.py_buffer(text.tobytes()))


def test_a_large_batch_makes_one_row_per_bucket_beyond_a_64_kib_blob(engine: Engine) -> None:
    """2.2 M subjects in one batch: about 69 KiB per bucket row (MariaDB's BLOB stops at 64 KiB)."""
    people = random_refs(2_200_000, 11)
    with engine.begin() as conn:
        assert access_index.write(conn, access_index.group(people), 1) == len(people)
    with engine.connect() as conn:
        assert access_index.seqs_of(conn, people[1_234_567].as_py()) == [1]
        count = conn.execute(
            sa.select(sa.func.count()).select_from(AUDIT_METADATA.tables["access_index"])
        ).scalar_one()
    assert count == 2**access_index.BUCKET_BITS


def _ledger_row(seq: int, recipient: str) -> dict[str, object]:
    payload = json.dumps({"dataset": "tax.income", "recipient": recipient})
    return {"seq": seq, "at": datetime(2026, 1, 1, tzinfo=UTC), "kind": "delivery", "payload": payload,
            "prev_hash": "0" * 64, "entry_hash": f"{seq:064x}", "key_id": "k", "signature": "s"}  # fmt: skip


@pytest.fixture(params=["sqlite", "postgresql"])
def at_0003(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A state database at revision 0003 (the per-subject index)."""
    with engine_at_revision(request.param, "0003", tmp_path, "access_mig") as eng:
        yield eng


def test_upgrade_carries_the_per_subject_rows_over_and_downgrade_brings_them_back(at_0003: Engine) -> None:
    people = refs_of([f"m{i}" for i in range(2_500)])
    old = [
        {"subject_ref": ref, "ledger_seq": seq, "dataset": "tax.income", "recipient": f"r{seq}"}
        for i, ref in enumerate(people)
        for seq in range(1, 4)
        if (i + seq) % 3
    ]
    ledger = audit.AUDIT_METADATA.tables["ledger"]
    with at_0003.begin() as conn:
        conn.execute(ledger.insert(), [_ledger_row(seq, f"r{seq}") for seq in range(1, 4)])
        old_table = sa.Table("access_index", sa.MetaData(), autoload_with=conn)
        conn.execute(old_table.insert(), old)
    schema_migrations.upgrade(at_0003)
    with at_0003.connect() as conn:
        assert sorted(access_index.entries(conn)) == sorted((r["subject_ref"], r["ledger_seq"]) for r in old)
        assert access_index.seqs_of(conn, people[4]) == [1, 3]
    with at_0003.begin() as conn:
        command.downgrade(schema_migrations.alembic_config(conn), "0003")
    with at_0003.connect() as conn:
        back = [dict(r._mapping) for r in conn.execute(sa.text("SELECT * FROM access_index"))]
    assert sorted(back, key=lambda r: (r["subject_ref"], r["ledger_seq"])) == sorted(
        old, key=lambda r: (r["subject_ref"], r["ledger_seq"])
    )


@pytest.fixture(params=["sqlite", "postgresql"])
def at_0005(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A state database at revision 0005 (bucket rows; WITHOUT ROWID on SQLite)."""
    with engine_at_revision(request.param, "0005", tmp_path, "access_rowid") as eng:
        yield eng


def _table_sql(engine: Engine) -> str:
    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT sql FROM sqlite_master WHERE name = 'access_index'")).scalar_one()


def test_0006_appends_rows_on_sqlite_and_keeps_every_one_both_ways(at_0005: Engine) -> None:
    groups = {seq: access_index.group(random_refs(3_000, seed=seq)) for seq in (1, 2, 3)}
    with at_0005.begin() as conn:
        for seq, grouped in groups.items():
            access_index.write(conn, grouped, seq)
        before = sorted(access_index.entries(conn))
    assert len(before) == 9_000
    sqlite = at_0005.dialect.name == "sqlite"
    if sqlite:
        assert "WITHOUT ROWID" in _table_sql(at_0005)
    schema_migrations.upgrade(at_0005)
    with at_0005.connect() as conn:
        assert sorted(access_index.entries(conn)) == before
        some = before[4321][0]
        assert access_index.seqs_of(conn, some) == sorted(s for k, s in before if k == some)
    if sqlite:
        assert "WITHOUT ROWID" not in _table_sql(at_0005)
        assert _table_sql(at_0005).startswith("CREATE TABLE access_index (")  # as create_all writes it
    with at_0005.begin() as conn:
        command.downgrade(schema_migrations.alembic_config(conn), "0005")
    with at_0005.connect() as conn:
        assert sorted(access_index.entries(conn)) == before
    if sqlite:
        assert "WITHOUT ROWID" in _table_sql(at_0005)
