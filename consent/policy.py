"""The policy decision for a batch, and minimization to a purpose's fields.

`decide` answers, row by row but on whole columns, whether a row may go to a recipient:
a statute in force that covers (dataset, recipient, purpose) — and the requested fields,
when given — allows every row; otherwise a row is allowed only if its subject has a
consent in `consents` (the table `ConsentRegister.active` returns for the same instant).
Anything else is denied: no legal basis means no data.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import pyarrow as pa
import pyarrow.compute as pc

from consent.legal_bases import Statute
from govbus.errors import BadConfiguration, BadInput

CONSENT_BASIS = "consent"


@dataclass(frozen=True)
class Decision:
    """Per-row verdict for one batch and subscription.

    `basis` is the statute id, or "consent" when rows were judged by consents;
    `consent_ids` (consent basis only) holds each allowed row's consent id, null if denied;
    `consents_used` counts the distinct consents that allowed a row (0 under a statute),
    which is what a ledger entry records — never the subjects themselves.
    """

    allowed: pa.BooleanArray
    basis: str
    consent_ids: pa.Array | None
    allowed_count: int
    denied_count: int
    consents_used: int = 0

    def select(self, table: pa.Table) -> pa.Table:
        """The allowed rows of `table` (the batch the decision was made for)."""
        if table.num_rows != len(self.allowed):
            raise BadInput("decision and batch differ in length", where="Decision.select",
                           hint="select from the same batch the decision was made for")
        return table.filter(self.allowed)


def _single(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    if isinstance(values, pa.ChunkedArray):
        return values.combine_chunks() if values.num_chunks else pa.array([], values.type)
    return values


def _constant(value: bool, count: int) -> pa.BooleanArray:
    """A boolean column of `count` equal values, built without a Python list."""
    nulls = pa.nulls(count, pa.int8())
    return pc.is_null(nulls) if value else pc.is_valid(nulls)


def decide(subject_refs: pa.Array | pa.ChunkedArray | None, *, statute: Statute | None,
           consents: pa.Table | None, dataset: str, recipient: str, purpose: str,
           at: datetime, fields: Sequence[str] | None = None,
           rows: int | None = None) -> Decision:
    """Decide every row of a batch from its subjects' audit refs (see module doc).

    `subject_refs` are the batch's subject ids pseudonymized with the audit key
    (`ConsentRegister.subject_refs`); a null ref can only pass under a statute. Under a
    statute the refs are not needed: pass None and the batch's row count as `rows`
    (a statute that does not cover then denies every row).
    """
    if subject_refs is None:
        if rows is None or rows < 0:
            raise BadInput("decide needs subject_refs or the row count", where="decide(rows)")
        refs = pa.nulls(rows, pa.string())
    else:
        refs = _single(subject_refs)
        if rows is not None and rows != len(refs):
            raise BadInput("rows differs from the number of subject refs", where="decide(rows)")
    count = len(refs)
    if statute is not None and statute.covers(dataset, recipient, purpose, at) \
            and not (fields is not None and statute.missing_fields(fields)):
        return Decision(allowed=_constant(True, count), basis=statute.id, consent_ids=None,
                        allowed_count=count, denied_count=0)
    if consents is None or consents.num_rows == 0:
        return Decision(allowed=_constant(False, count), basis=CONSENT_BASIS,
                        consent_ids=pa.nulls(count, pa.string()), allowed_count=0,
                        denied_count=count)
    for column in ("subject_ref", "consent_id"):
        if column not in consents.column_names:
            raise BadConfiguration(f"consents table lacks column {column}",
                                   where="decide(consents)",
                                   hint="pass the table ConsentRegister.active returns")
    known = _single(consents.column("subject_ref")).cast(pa.string())
    position = pc.index_in(refs.cast(pa.string()), value_set=known)
    allowed = pc.is_valid(position)
    consent_ids = pc.take(_single(consents.column("consent_id")), position)
    granted = pc.sum(allowed).as_py() or 0
    used = pc.count_distinct(consent_ids).as_py() if granted else 0
    return Decision(allowed=allowed, basis=CONSENT_BASIS, consent_ids=consent_ids,
                    allowed_count=granted, denied_count=count - granted, consents_used=used)


def minimize(table: pa.Table, fields: Sequence[str]) -> pa.Table:
    """Only `fields` of `table`, in that order; a field the batch lacks is refused."""
    if isinstance(fields, str) or not fields:
        raise BadConfiguration("minimize needs a non-empty list of fields", where="fields")
    if len(set(fields)) != len(fields):
        raise BadConfiguration("a field is listed twice", where="fields",
                               hint="list each field of the purpose once")
    missing = [name for name in fields if name not in table.column_names]
    if missing:
        raise BadConfiguration(f"field {missing[0]} is not in the batch",
                               where=f"fields.{missing[0]}",
                               hint="the subscription or statute names a field the dataset "
                                    "does not have; fix the catalog")
    return table.select(list(fields))
