"""The policy decision for a batch, and minimization to a purpose's fields.

`decide` answers, row by row but on whole columns, whether a row may go to a recipient:
a statute in force that covers (dataset, recipient, purpose) — and the requested fields,
when given — allows every row; otherwise a row is allowed only if its subject has a
consent in `consents` (the table `ConsentRegister.active` returns for the same instant).
Anything else is denied: no legal basis means no data.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime

import pyarrow as pa
import pyarrow.compute as pc

from consent.register.index import ConsentIndex
from consent.register.legal_bases import Statute
from govbus.arrow_arrays import one_array
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

    def select(self, table: pa.Table, columns: Sequence[str] | None = None) -> pa.Table:
        """The allowed rows of `table` (the batch the decision was made for).

        With `columns`, only those columns are kept — before filtering, so the columns
        that will not leave are never copied. All rows allowed: no copy at all.
        """
        if table.num_rows != len(self.allowed):
            raise BadInput(
                "decision and batch differ in length",
                where="Decision.select",
                hint="select from the same batch the decision was made for",
            )
        if columns is not None:
            table = table.select(list(columns))
        if self.denied_count == 0:
            return table
        if self.allowed_count == 0:
            return table.slice(0, 0)
        return table.filter(self.allowed)


def _constant(value: bool, count: int) -> pa.BooleanArray:
    """A boolean column of `count` equal values, built without a Python list."""
    nulls = pa.nulls(count, pa.int8())
    return pc.is_null(nulls) if value else pc.is_valid(nulls)


def decide(
    subject_refs: pa.Array | pa.ChunkedArray | None,
    *,
    statute: Statute | None,
    consents: pa.Table | ConsentIndex | None,
    dataset: str,
    recipient: str,
    purpose: str,
    at: datetime,
    fields: Sequence[str] | None = None,
    rows: int | None = None,
) -> Decision:
    """Decide every row of a batch from its subjects' audit refs (see module doc).

    `subject_refs` are the batch's subject ids pseudonymized with the audit key
    (`ConsentRegister.subject_refs`); a null ref can only pass under a statute.
    `consents` is `ConsentRegister.active`'s table or, faster for many batches, the
    `ConsentIndex` that `ConsentTimeline.active_index(at)` keeps. Under a
    statute the refs are not needed: pass None and the batch's row count as `rows`
    (a statute that does not cover then denies every row).
    """
    if subject_refs is None:
        if rows is None or rows < 0:
            raise BadInput("decide needs subject_refs or the row count", where="decide(rows)")
        refs = pa.nulls(rows, pa.string())
    else:
        refs = one_array(subject_refs)
        if rows is not None and rows != len(refs):
            raise BadInput("rows differs from the number of subject refs", where="decide(rows)")
    count = len(refs)
    if (
        statute is not None
        and statute.covers(dataset, recipient, purpose, at)
        and not (fields is not None and statute.missing_fields(fields))
    ):
        return Decision(
            allowed=_constant(True, count),
            basis=statute.id,
            consent_ids=None,
            allowed_count=count,
            denied_count=0,
        )
    if consents is None or len(consents) == 0:
        return Decision(
            allowed=_constant(False, count),
            basis=CONSENT_BASIS,
            consent_ids=pa.nulls(count, pa.string()),
            allowed_count=0,
            denied_count=count,
        )
    if not isinstance(consents, ConsentIndex):
        for column in ("subject_ref", "consent_id"):
            if column not in consents.column_names:
                raise BadConfiguration(
                    f"consents table lacks column {column}",
                    where="decide(consents)",
                    hint="pass the table ConsentRegister.active returns",
                )
        consents = ConsentIndex(consents)
    position = consents.positions(refs)
    allowed = pc.is_valid(position)
    consent_ids = pc.take(consents.ids, position)
    granted = pc.sum(allowed).as_py() or 0
    used = pc.count_distinct(position).as_py() if granted else 0  # one position per consent
    return Decision(
        allowed=allowed,
        basis=CONSENT_BASIS,
        consent_ids=consent_ids,
        allowed_count=granted,
        denied_count=count - granted,
        consents_used=used,
    )


def minimize(
    table: pa.Table,
    fields: Sequence[str],
    *,
    basis_fields: Collection[str] | None = None,
    sensitive: Collection[str] = (),
) -> pa.Table:
    """Only `fields` of `table`, in that order; a field the batch lacks is refused.

    With `basis_fields` (the fields the statute, or every allowing consent, names), a
    requested field outside them is refused. A field in `sensitive` is refused unless
    `basis_fields` names it explicitly — so without `basis_fields` no sensitive field
    ever leaves. Refusals are BadConfiguration: the subscription asks for too much.
    """
    if isinstance(fields, str) or not fields:
        raise BadConfiguration("minimize needs a non-empty list of fields", where="fields")
    if len(set(fields)) != len(fields):
        raise BadConfiguration(
            "a field is listed twice", where="fields", hint="list each field of the purpose once"
        )
    allowed = set(basis_fields) if basis_fields is not None else None
    for name in fields:
        if allowed is not None and name not in allowed:
            raise BadConfiguration(
                f"field {name} is not allowed by the legal basis",
                where=f"fields.{name}",
                hint="ask only for the fields the statute or consent names",
            )
        if name in sensitive and (allowed is None or name not in allowed):
            raise BadConfiguration(
                f"field {name} is sensitive and no basis names it",
                where=f"fields.{name}",
                hint="only a basis naming a sensitive field may release it",
            )
    missing = [name for name in fields if name not in table.column_names]
    if missing:
        raise BadConfiguration(
            f"field {missing[0]} is not in the batch",
            where=f"fields.{missing[0]}",
            hint="the subscription or statute names a field the dataset does not have; fix the catalog",
        )
    return table.select(list(fields))


def policy_version(
    *,
    dataset: str,
    recipient: str,
    purpose: str,
    fields: Sequence[str],
    statute: Statute | None,
    disclosure: str | None = None,
) -> str:
    """Fingerprint of the rule a delivery was made under: `sha256:<hex>`.

    Covers the statute (id, law, scope, allowed fields, validity, linkage domain) or, for
    consent, the scope and requested fields: a manifest or ledger entry that records it
    shows later whether the rule changed between two deliveries. `disclosure` is the
    fingerprint of the subscription's disclosure policy, when it has one (deliveries
    without one keep the version they always had).
    """
    rule: dict[str, object] = {
        "dataset": dataset,
        "recipient": recipient,
        "purpose": purpose,
        "fields": list(fields),
        "basis": CONSENT_BASIS,
    }
    if statute is not None:
        rule["basis"] = {
            "statute": statute.id,
            "law": statute.law,
            "dataset": statute.dataset,
            "recipient": statute.recipient,
            "purpose": statute.purpose,
            "fields": list(statute.fields),
            "linkage_domain": statute.linkage_domain,
            "valid_from": statute.valid_from.isoformat() if statute.valid_from else None,
            "valid_until": statute.valid_until.isoformat() if statute.valid_until else None,
        }
    if disclosure is not None:
        rule["disclosure"] = disclosure
    text = json.dumps(rule, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()
