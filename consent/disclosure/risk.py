"""Measured re-identification risk of a copy: uniques, the smallest class, linkage with other copies.

What `govbus privacy risk` reports and what an approval is held to. All of it is counted
on Arrow columns and numpy arrays, never row by row:

* **uniques** — rows alone in their class on the quasi-identifiers;
* **smallest class** — the k the copy actually has;
* **linkage** — the attack of issue 17: another recipient holds the same rows with
  identities (the Benefits Agency's copy of `tax.income` has national ids). It brings
  its values to our level (applies our generalization to its columns) and matches on
  the quasi-identifiers both copies carry. A row of ours is *singled out* when its
  value combination occurs exactly once in our copy and exactly once in theirs: that
  one row of theirs names the person behind ours;
* **linked subjects** — when our copy carries a pseudonym, a person's rows can be taken
  together: a person is linked when the multiset of their rows' values occurs once among
  our pseudonyms and once among the other copy's subjects (a lower bound: a person with
  a suppressed row no longer matches exactly);
* **fields to coarsen** — the quasi-identifiers whose removal frees the most rows from
  classes smaller than k, most identifying first: what to generalize further.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from consent.disclosure.generalize import generalize
from consent.disclosure.kanon import classes, codes
from consent.disclosure.policy import Generalization

__all__ = ["Linkage", "RiskReport", "coarsen_first", "linkage", "risk_of"]


@dataclass(frozen=True)
class Linkage:
    """How much of our copy another copy (`other`, e.g. a subscription id) singles out."""

    other: str
    fields: tuple[str, ...]
    singled_out: int
    rows: int
    linked_subjects: int | None = None
    subjects: int | None = None

    @property
    def share(self) -> float:
        """Singled-out rows as a share of our rows (0 for an empty copy)."""
        return self.singled_out / self.rows if self.rows else 0.0


@dataclass(frozen=True)
class RiskReport:
    """The risk of one copy as it would be delivered (see the module docstring)."""

    rows: int
    quasi_identifiers: tuple[str, ...]
    uniques: int
    smallest_class: int
    classes: int
    suppressed: int = 0
    linkage: tuple[Linkage, ...] = ()
    coarsen: tuple[str, ...] = field(default=())

    @property
    def worst_linkage(self) -> float:
        """The largest share of our rows any other copy singles out."""
        return max((item.share for item in self.linkage), default=0.0)


def risk_of(table: pa.Table, quasi_identifiers: Sequence[str], *, k: int | None = None) -> RiskReport:
    """Uniques, smallest class and class count of `table` on its quasi-identifiers."""
    qis = tuple(q for q in quasi_identifiers if q in table.column_names)
    found = classes(table, qis)
    coarsen = coarsen_first(table, qis, k or 2) if found.uniques() or (k and found.smallest() < k) else ()
    return RiskReport(table.num_rows, qis, found.uniques(), found.smallest(), found.count, coarsen=coarsen)


def coarsen_first(table: pa.Table, qis: Sequence[str], k: int) -> tuple[str, ...]:
    """The quasi-identifiers to generalize, most identifying first, until no class is under `k`.

    Greedy: each step takes the field whose removal frees the most rows from classes under
    k (ties, and steps where no single field frees any, go to the field with the most
    distinct values: an exact amount before a year). Only counts, on whole columns.
    """
    remaining = [q for q in qis if q in table.column_names]
    at_risk = int(np.count_nonzero(classes(table, remaining).row_sizes() < k))
    order: list[str] = []
    while at_risk and remaining:
        scored = []
        for name in remaining:
            left = int(np.count_nonzero(classes(table, [q for q in remaining if q != name]).row_sizes() < k))
            scored.append((at_risk - left, codes(table[name])[1], name, left))
        _, _, best, at_risk = max(scored, key=lambda s: (s[0], s[1], s[2]))
        order.append(best)
        remaining.remove(best)
    return tuple(order)


def linkage(
    ours: pa.Table,
    theirs: pa.Table,
    quasi_identifiers: Sequence[str],
    rules: Mapping[str, Generalization],
    *,
    other: str,
    our_subject: str | None = None,
    their_subject: str | None = None,
) -> Linkage:
    """The linkage attack of `theirs` (exact values, with identities) on `ours` (see module doc)."""
    fields = tuple(q for q in quasi_identifiers if q in ours.column_names and q in theirs.column_names)
    if not fields or ours.num_rows == 0:
        return Linkage(other, fields, 0, ours.num_rows)
    theirs_cut = generalize(theirs.select(list(fields)), {f: r for f, r in rules.items() if f in fields})
    ours_cut = ours.select(list(fields))
    try:
        both = pa.concat_tables([ours_cut, theirs_cut.cast(ours_cut.schema)])
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):  # another recipient got another type
        return Linkage(other, fields, 0, ours.num_rows)
    ids = classes(both, fields).ids
    mine, yours = ids[: ours.num_rows], ids[ours.num_rows :]
    width = int(ids.max()) + 1
    in_ours = np.bincount(mine, minlength=width)
    in_theirs = np.bincount(yours, minlength=width)
    singled = int(np.count_nonzero((in_ours[mine] == 1) & (in_theirs[mine] == 1)))
    linked = subjects = None
    if (
        our_subject
        and their_subject
        and our_subject in ours.column_names
        and their_subject in theirs.column_names
    ):
        linked, subjects = _linked_subjects(mine, ours[our_subject], yours, theirs[their_subject])
    return Linkage(other, fields, singled, ours.num_rows, linked, subjects)


def _mix(values: np.ndarray) -> np.ndarray:
    """A 64-bit mix (splitmix64's finalizer): sums of mixed ids hash a multiset of them."""
    with np.errstate(over="ignore"):
        z = values.astype(np.uint64) + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def _signatures(row_classes: np.ndarray, subject: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """One hash per subject of the multiset of its rows' classes."""
    who, count = codes(subject)
    sums = np.zeros(count, np.uint64)
    with np.errstate(over="ignore"):
        np.add.at(sums, who, _mix(row_classes))
    return sums


def _linked_subjects(
    mine: np.ndarray, our_subject: pa.ChunkedArray, yours: np.ndarray, their_subject: pa.ChunkedArray
) -> tuple[int, int]:
    ours_sig, theirs_sig = _signatures(mine, our_subject), _signatures(yours, their_subject)
    both, _ = codes(pa.array(np.concatenate([ours_sig, theirs_sig])))
    width = int(both.max()) + 1 if both.size else 0
    in_ours = np.bincount(both[: ours_sig.size], minlength=width)
    in_theirs = np.bincount(both[ours_sig.size :], minlength=width)
    own = both[: ours_sig.size]
    return int(np.count_nonzero((in_ours[own] == 1) & (in_theirs[own] == 1))), int(ours_sig.size)
