"""Looking at quarantined rows (masked unless revealed, and then logged) and discarding them.

`find` selects rows by id or by dataset (and a substring of a reason); `shown_fields`
gives each field of a row with its classification and the text to show: values of
`personal` and `sensitive` fields — and of fields the contract does not classify, and
the raw text of a line the source could not read — are masked (`MASK`) unless revealed.
`record_reveal` must be called before revealed values are shown: it appends a
`quarantine-view` ledger entry naming who looked (the OS user, or the name given), at
which rows and fields, and why — never a value. A failure to log means no reveal.

`discard` closes open rows for good (status `discarded`, kept for audit, left out of
counts) with a `quarantine-discard` ledger entry: who, why, which rows.
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

import audit
from exchange import state
from exchange.quarantine import store as quarantine
from govbus.errors import BadInput

if TYPE_CHECKING:
    from exchange.ctx import QuarantineContext

MASK = "•••"
MASKED_CLASSES = ("personal", "sensitive")
_MAX_REASON = 500


@dataclass(frozen=True)
class QuarantinedRow:
    """One quarantined row as stored (its record holds personal data: mask before showing)."""

    id: int
    dataset: str
    stage_id: str
    status: str
    position: str | None
    reasons: list[str]
    record: dict[str, Any]
    created_at: datetime


def operator(as_name: str | None = None) -> str:
    """Who is acting: the name given (`--as`), else the OS user."""
    if as_name is not None and as_name.strip():
        return as_name.strip()
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return f"uid:{os.getuid()}"


def why(reason: str | None, *, needed_for: str) -> str:
    """A non-empty justification of at most `_MAX_REASON` characters, or `BadInput`."""
    text = (reason or "").strip()
    if not text:
        raise BadInput(
            f"{needed_for} needs a reason", where="--reason", hint='add --reason "TEXT" (it is logged)'
        )
    if len(text) > _MAX_REASON:
        raise BadInput(f"the reason is longer than {_MAX_REASON} characters", where="--reason")
    return text


def find(
    ctx: QuarantineContext,
    *,
    ids: Sequence[int] = (),
    dataset: str | None = None,
    rule: str | None = None,
    status: str | None = quarantine.OPEN,
    limit: int | None = 50,
) -> list[QuarantinedRow]:
    """Rows by id (any status) or else by dataset/status, optionally whose reasons contain `rule`."""
    q = state.quarantine
    query = sa.select(q).order_by(q.c.id)
    if ids:
        query = query.where(q.c.id.in_(list(ids)))
    else:
        if status is not None:
            query = query.where(q.c.status == status)
        if limit is not None:
            query = query.limit(limit)
    if dataset is not None:
        ctx.catalog.dataset(dataset)  # an unknown id is a clear error
        query = query.where(q.c.dataset == dataset)
    if rule:
        escaped = rule.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(sa.cast(q.c.reasons, sa.Text).like(f"%{escaped}%", escape="\\"))
    with ctx.engine.connect() as conn:
        rows = conn.execute(query).all()
    found = [
        QuarantinedRow(
            r.id, r.dataset, r.stage_id, r.status, r.position, list(r.reasons), dict(r.record), r.created_at
        )
        for r in rows
    ]
    missing = sorted(set(ids) - {row.id for row in found})
    if missing:
        raise BadInput(
            f"no quarantined row with id {', '.join(map(str, missing))}"
            + (f" in {dataset}" if dataset else ""),
            where="quarantine",
            hint="`govbus quarantine list` shows the ids",
        )
    return found


def classification(ctx: QuarantineContext, row: QuarantinedRow, name: str) -> str:
    """How a record's field is classified: the contract's class; the raw source text is
    `sensitive`, its position `internal`; a field the contract lacks counts as `personal`."""
    if name == quarantine.SOURCE_RAW:
        return "sensitive"
    if name == quarantine.SOURCE_POSITION:
        return "internal"
    dataset = ctx.catalog.datasets.get(row.dataset)
    spec = dataset.contract.fields.get(name) if dataset is not None else None
    return spec.classification if spec is not None else "personal"


def shown_fields(ctx: QuarantineContext, row: QuarantinedRow, *, reveal: bool) -> list[tuple[str, str, str]]:
    """(field, classification, text to show) for each field of the row's record."""
    shown = []
    for name, value in row.record.items():
        kind = classification(ctx, row, name)
        masked = kind in MASKED_CLASSES and not reveal and value is not None
        shown.append((name, kind, MASK if masked else _text(value)))
    return shown


def masked_fields(ctx: QuarantineContext, rows: Sequence[QuarantinedRow]) -> list[str]:
    """The fields a reveal of `rows` uncovers (those masked otherwise)."""
    names = {name for row in rows for name in row.record if classification(ctx, row, name) in MASKED_CLASSES}
    return sorted(names)


def _text(value: Any) -> str:
    return "null" if value is None else str(value)


def record_reveal(ctx: QuarantineContext, rows: Sequence[QuarantinedRow], *, viewer: str, reason: str) -> int:
    """Log a reveal in the ledger (before anything is shown); returns the entry's seq."""
    record = audit.QuarantineViewEntry(
        viewer=viewer,
        reason=reason,
        datasets=tuple(sorted({row.dataset for row in rows})),
        quarantine_ids=tuple(row.id for row in rows),
        fields=tuple(masked_fields(ctx, rows)),
    )
    with ctx.locked("ledger"), ctx.engine.begin() as conn:
        return ctx.ledger.append_entry(conn, record).seq


def discard(ctx: QuarantineContext, ids: Sequence[int], *, by: str, reason: str) -> int:
    """Discard open rows `ids` with a ledger entry; returns the entry's seq."""
    rows = find(ctx, ids=ids, status=None, limit=None)
    closed = [row for row in rows if row.status != quarantine.OPEN]
    if closed:
        listing = ", ".join(f"{row.id} ({row.status})" for row in closed)
        raise BadInput(f"only open rows can be discarded: {listing}", where="quarantine discard")
    record = audit.QuarantineDiscardEntry(
        by=by,
        reason=reason,
        datasets=tuple(sorted({row.dataset for row in rows})),
        quarantine_ids=tuple(row.id for row in rows),
    )
    with ctx.locked("ledger"), ctx.engine.begin() as conn:
        entry = ctx.ledger.append_entry(conn, record)
        done = quarantine.resolve(conn, [row.id for row in rows], quarantine.DISCARDED, ledger_seq=entry.seq)
        if done != len(rows):  # another operator got there first: change nothing
            raise BadInput(
                "some of these rows were resolved meanwhile",
                where="quarantine discard",
                hint="list them again",
            )
    return entry.seq
