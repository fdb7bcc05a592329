"""Consents of one scope as columns, so "who was covered at instant T" is a vector query.

A `ConsentTimeline` holds, for one (recipient, dataset, purpose) and a requested field
list, every consent's validity interval, its revocation instant and its pause windows,
as Arrow tables. `states(at)` gives each consent's state at any instant, `active(at)`
the consents that allow a row, and `denial_reasons` why the other rows were refused —
all with `pyarrow.compute` over whole columns, so the exchange may load a timeline once
per delivery and decide every segment at its own instant.

State at an instant T (intervals are half-open, `[start, end)`):

* REVOKED  if revoked_at <= T (and the revocation came before the validity ended);
* EXPIRED  if valid_until <= T;
* PENDING  if T < valid_from;
* PAUSED   if T lies in a pause window [paused at, resumed at);
* ACTIVE   otherwise. Only an ACTIVE consent that `covers` every requested field allows.

Built by `ConsentRegister.timeline`, which can restrict itself to what the register knew
at an earlier instant (`known_at`), so a replay decides exactly as the bus did then.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

import audit
from consent.register.index import ConsentIndex
from consent.register.terms import ACTIVE, EXPIRED, PAUSED, PENDING, REVOKED
from govbus.instants import as_utc

INSTANT = pa.timestamp("us", tz="UTC")
ACTIVE_SCHEMA = pa.schema([("subject_ref", pa.string()), ("consent_id", pa.string())])
CONSENTS_SCHEMA = pa.schema(
    [
        ("subject_ref", pa.string()),
        ("consent_id", pa.string()),
        ("covers", pa.bool_()),
        ("valid_from", INSTANT),
        ("valid_until", INSTANT),
        ("revoked_at", INSTANT),
        ("created_at", INSTANT),
    ]
)
PAUSES_SCHEMA = pa.schema([("consent_id", pa.string()), ("start", INSTANT), ("end", INSTANT)])
STATES_SCHEMA = pa.schema(
    [
        ("subject_ref", pa.string()),
        ("consent_id", pa.string()),
        ("covers", pa.bool_()),
        ("state", pa.string()),
    ]
)

NO_CONSENT = "no consent"
# Why a row was denied, best first: the reason shown is that of the subject's consent
# that came closest to allowing it.
REASONS = (
    "consent does not cover the fields",
    "consent paused",
    "consent not yet valid",
    "consent expired",
    "consent revoked",
    NO_CONSENT,
)
_RANK_OF_STATE = {PAUSED: 1, PENDING: 2, EXPIRED: 3, REVOKED: 4}


def instant_array(values: Sequence[Any]) -> pa.Array:
    """Instants as the database driver returns them, as one UTC timestamp column.

    SQLite gives text (`YYYY-MM-DD HH:MM:SS.ffffff`, UTC); PostgreSQL aware datetimes;
    MySQL/MariaDB naive UTC datetimes. Converted in C, not value by value.
    """
    sample = next((v for v in values if v is not None), None)
    if isinstance(sample, str):
        return pa.array(values, pa.string()).cast(pa.timestamp("us")).cast(INSTANT)
    return pa.array(values, INSTANT)


def _pauses(windows: Iterable[tuple[str, datetime, datetime | None]]) -> pa.Table:
    spans = list(windows)
    if not spans:
        return PAUSES_SCHEMA.empty_table()
    ids, starts, ends = zip(*spans, strict=True)
    return pa.table(
        [pa.array(ids, pa.string()), pa.array(starts, INSTANT), pa.array(ends, INSTANT)], schema=PAUSES_SCHEMA
    )


def _instant(at: datetime) -> pa.Scalar:
    return pa.scalar(as_utc(at), INSTANT)


def _le(column: pa.ChunkedArray, at: pa.Scalar) -> pa.ChunkedArray:
    """column <= at, with null (an open end) as False."""
    return pc.fill_null(pc.less_equal(column, at), False)


@dataclass(frozen=True)
class ConsentTimeline:
    """Consents of one scope (`consents`, CONSENTS_SCHEMA) and pause windows (PAUSES_SCHEMA).

    Rows of `consents` are ordered by (subject_ref, created_at): where a subject has two
    consents in force, the older one is reported as the basis.
    """

    consents: pa.Table
    pauses: pa.Table
    _cache: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def build(
        cls,
        rows: Sequence[tuple[str, str, bool, datetime, datetime | None, datetime | None, datetime]],
        windows: Iterable[tuple[str, datetime, datetime | None]],
    ) -> ConsentTimeline:
        """From (subject_ref, consent_id, covers, valid_from, valid_until, revoked_at,
        created_at) rows and (consent_id, paused at, resumed at or None) windows."""
        if rows:
            columns = list(zip(*rows, strict=True))
            consents = pa.table(
                [pa.array(col, spec.type) for col, spec in zip(columns, CONSENTS_SCHEMA, strict=True)],
                schema=CONSENTS_SCHEMA,
            )
        else:
            consents = CONSENTS_SCHEMA.empty_table()
        return cls(consents, _pauses(windows))

    @classmethod
    def from_columns(
        cls,
        columns: Sequence[Sequence[Any]] | None,
        wanted: set[str],
        revoked_at: Mapping[str, datetime],
        windows: Iterable[tuple[str, datetime, datetime | None]],
    ) -> ConsentTimeline:
        """From the register's query columns (subject_ref, consent_id, fields JSON,
        valid_from, valid_until, created_at — instants as driver values), column-wise.

        `covers` is decided once per distinct field list; revocation instants are
        gathered with `index_in`, not per consent.
        """
        if not columns:
            return cls(CONSENTS_SCHEMA.empty_table(), _pauses(windows))
        refs, ids, field_lists, starts, ends, created = columns
        field_col = pa.array(field_lists, pa.string())
        covering = [text for text in pc.unique(field_col).to_pylist() if wanted <= set(json.loads(text))]
        id_col = pa.array(ids, pa.string())
        if revoked_at:
            position = pc.index_in(id_col, value_set=pa.array(list(revoked_at), pa.string()))
            revoked = pc.take(pa.array(list(revoked_at.values()), INSTANT), position)
        else:
            revoked = pa.nulls(len(ids), INSTANT)
        consents = pa.table(
            [
                pa.array(refs, pa.string()),
                id_col,
                pc.is_in(field_col, value_set=pa.array(covering, pa.string())),
                instant_array(starts),
                instant_array(ends),
                revoked,
                instant_array(created),
            ],
            schema=CONSENTS_SCHEMA,
        )
        return cls(consents, _pauses(windows))

    def __len__(self) -> int:
        return self.consents.num_rows

    def _paused_ids(self, at: pa.Scalar) -> pa.Array:
        p = self.pauses
        if p.num_rows == 0:
            return pa.array([], pa.string())
        open_at = pc.and_(_le(p.column("start"), at), pc.invert(_le(p.column("end"), at)))
        return p.column("consent_id").filter(open_at).combine_chunks()

    def states(self, at: datetime) -> pa.Table:
        """Every consent's state at `at` (STATES_SCHEMA), one row per consent."""
        c, when = self.consents, _instant(at)
        valid_until, revoked_at = c.column("valid_until"), c.column("revoked_at")
        revoked = pc.and_(
            _le(revoked_at, when), pc.invert(pc.fill_null(pc.less_equal(valid_until, revoked_at), False))
        )
        expired = _le(valid_until, when)
        pending = pc.greater(c.column("valid_from"), when)
        paused = pc.is_in(c.column("consent_id"), value_set=self._paused_ids(when))
        state = pc.case_when(
            pc.make_struct(revoked, expired, pending, paused), REVOKED, EXPIRED, PENDING, PAUSED, ACTIVE
        )
        return pa.table(
            [c.column("subject_ref"), c.column("consent_id"), c.column("covers"), state], schema=STATES_SCHEMA
        )

    def active(self, at: datetime) -> pa.Table:
        """Consents that allow a row at `at`: ACTIVE and covering (subject_ref, consent_id)."""
        states = self.states(at)
        keep = pc.and_(pc.equal(states.column("state"), ACTIVE), states.column("covers"))
        return states.filter(keep).select(["subject_ref", "consent_id"]).cast(ACTIVE_SCHEMA)

    def _window(self, at: datetime) -> int:
        """Which interval between two state changes `at` falls in (states are constant there)."""
        bounds = self._cache.get("bounds")
        if bounds is None:
            columns = [self.consents.column(n) for n in ("valid_from", "valid_until", "revoked_at")]
            columns += [self.pauses.column("start"), self.pauses.column("end")]
            parts = [pc.drop_null(c).cast(pa.int64()).to_numpy() for c in columns]
            bounds = np.unique(np.concatenate(parts)) if parts else np.zeros(0, np.int64)
            self._cache["bounds"] = bounds
        return int(np.searchsorted(bounds, _instant(at).cast(pa.int64()).as_py(), side="right"))

    def active_index(self, at: datetime) -> ConsentIndex:
        """`active(at)` prepared for `decide`, reused while no consent changes state.

        Deciding twenty segments a few seconds apart builds it once, not twenty times.
        """
        window = self._window(at)
        cached = self._cache.get("index")
        if cached is None or cached[0] != window:
            cached = (window, ConsentIndex(self.active(at)))
            self._cache["index"] = cached
        return cached[1]

    def state_of_subjects(self, at: datetime) -> pa.Table:
        """Per subject_ref, the rank (index into REASONS) of its best consent at `at`.

        Rank -1 means a covering ACTIVE consent (no denial reason).
        """
        states = self.states(at)
        state = states.column("state")
        rank = pc.case_when(
            pc.make_struct(
                pc.and_(pc.equal(state, ACTIVE), states.column("covers")),
                pc.equal(state, ACTIVE),
                pc.equal(state, PAUSED),
                pc.equal(state, PENDING),
                pc.equal(state, EXPIRED),
            ),
            -1,
            0,
            _RANK_OF_STATE[PAUSED],
            _RANK_OF_STATE[PENDING],
            _RANK_OF_STATE[EXPIRED],
            _RANK_OF_STATE[REVOKED],
        ).cast(pa.int8())
        best = (
            pa.table({"subject_ref": states.column("subject_ref"), "rank": rank})
            .group_by("subject_ref")
            .aggregate([("rank", "min")])
        )
        return best.rename_columns(["subject_ref", "rank"])

    def denial_reasons(
        self, refs: pa.Array | pa.ChunkedArray, allowed: pa.Array, at: datetime
    ) -> dict[str, int]:
        """Counts of denied rows by reason (REASONS), for rows judged by consent at `at`.

        `refs` are the batch's audit refs and `allowed` the decision's mask; a denied row
        whose subject has no consent in this scope (or a null ref) is NO_CONSENT.
        """
        if isinstance(refs, pa.ChunkedArray):
            refs = refs.combine_chunks() if refs.num_chunks else pa.array([], pa.string())
        denied = refs.filter(pc.invert(allowed))
        if len(denied) == 0:
            return {}
        best = self.state_of_subjects(at)
        known = best.column("subject_ref")
        if denied.type == audit.RAW_REF_TYPE:  # as staged: compare raw with raw (the smaller side converted)
            known = audit.refs_as_raw(known, strict=False)
        else:
            denied = denied.cast(pa.string())
        position = pc.index_in(denied, value_set=known, skip_nulls=True)
        rank = pc.fill_null(pc.take(best.column("rank"), position), len(REASONS) - 1)
        rank = pc.max_element_wise(rank, pa.scalar(0, pa.int8()))  # an allowed subject, denied
        counts = pc.value_counts(rank)
        return {REASONS[int(item["values"].as_py())]: int(item["counts"].as_py()) for item in counts}
