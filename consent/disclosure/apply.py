"""The disclosure step on one batch: generalize, then suppress to k (and l), as the deliver step runs it.

It runs between minimization and protection (pseudonyms, AES-SIV, manifests): the
batch holds exactly the subscription's fields, and what it removes never reaches the
pseudonymizer or the Merkle root. `apply` returns the generalized batch, which rows it
kept (so the caller filters the rows it keeps alongside: the subjects, for pseudonyms
and the access index) and how many it suppressed (a denial reason in the ledger entry).

Across batches: every batch alone is k-anonymous, and generalization is global (the
same rule, the same value in every batch), so the union of any batches is k-anonymous
too (see `consent.disclosure.kanon`). The same batch always gives the same result (no
randomness, no state), so a delivery retried after a crash writes the same rows under
the same batch id.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from consent.disclosure.generalize import generalize
from consent.disclosure.kanon import classes, k_anonymous, l_diverse
from consent.disclosure.policy import DisclosurePolicy

__all__ = ["SUPPRESSED", "SUPPRESSED_L", "Applied", "apply", "quasi_identifiers_of", "suppression_reason"]

SUPPRESSED = "suppressed for k-anonymity"
SUPPRESSED_L = "suppressed for k-anonymity and l-diversity"


@dataclass(frozen=True)
class Applied:
    """A batch after the step: the rows kept (`keep` None: all of them) and how many went."""

    table: pa.Table
    keep: pa.Array | None
    suppressed: int


def suppression_reason(policy: DisclosurePolicy) -> str:
    """The denial reason suppressed rows are counted under (fixed texts: k is in the policy version)."""
    return SUPPRESSED_L if policy.l_diversity else SUPPRESSED


def quasi_identifiers_of(
    policy: DisclosurePolicy, contract_qis: Sequence[str], fields: Sequence[str]
) -> tuple[str, ...]:
    """The subscription's quasi-identifiers: the contract's and the policy's, among its fields."""
    wanted = set(contract_qis) | set(policy.quasi_identifiers) | set(policy.generalize)
    return tuple(name for name in fields if name in wanted)


def apply(policy: DisclosurePolicy, table: pa.Table, quasi_identifiers: Sequence[str]) -> Applied:
    """Generalize `table`, then keep only rows in classes of at least k (and l distinct values)."""
    out = generalize(table, policy.generalize) if policy.generalize else table
    if not policy.k or out.num_rows == 0:
        return Applied(out, None, 0)
    found = classes(out, quasi_identifiers)
    keep = k_anonymous(found, policy.k)
    if policy.l_diversity is not None:
        name, level = policy.l_diversity
        keep &= l_diverse(found, out[name], level)
    kept = int(np.count_nonzero(keep))
    if kept == out.num_rows:
        return Applied(out, None, 0)
    mask = pa.array(keep, pa.bool_())
    return Applied(out.filter(mask), mask, out.num_rows - kept)
