"""Disclosure control: what a recipient may learn from the rows it receives, measured and bounded.

A pseudonym hides the subject column only; the values still single people out in
another recipient's copy (issue 17: 98 % of the Statistics Office's returns matched the
Benefits Agency's copy on six values). This room coarsens and counts, on Arrow:

* `policy` — the disclosure policy a purpose or subscription states (`parse_policy`):
  generalization per field, a k-anonymity floor with suppression, optional
  l-diversity, thresholds for approval, or differentially private aggregates with a
  privacy budget;
* `hierarchy` — catalog hierarchies (municipality → region) as prefix tables;
* `generalize` — bands, rounding, top/bottom coding, dates to month or year, hierarchies;
* `kanon` — equivalence classes, k-anonymity by suppression, l-diversity;
* `apply` — the deliver step's disclosure step on one batch;
* `risk` — uniques, smallest class, the linkage attack, fields to coarsen;
* `aggregates` — noisy counts and sums through OpenDP;
* `budget` — epsilon spent per recipient and purpose (`privacy_budget_spends`, ledger).

What a caller must know: nothing here logs or returns a value of a row; the step is
deterministic (a retried delivery writes the same rows); only `aggregates` draws noise.
See docs/privacy.md.
"""

from __future__ import annotations

from consent.disclosure.aggregates import COUNT, aggregate_schema, release
from consent.disclosure.apply import Applied, apply, quasi_identifiers_of, suppression_reason
from consent.disclosure.budget import BUDGET_ENTRY, BudgetSpent, budget_spends, spend, spent
from consent.disclosure.generalize import generalize, generalize_column, generalized_type, rule_problem
from consent.disclosure.hierarchy import Hierarchy, load_hierarchy
from consent.disclosure.kanon import Classes, classes, k_anonymous, l_diverse
from consent.disclosure.policy import AggregatePolicy, DisclosurePolicy, Generalization, parse_policy
from consent.disclosure.risk import Linkage, RiskReport, coarsen_first, linkage, risk_of

# The names the part exports (consent/__init__.py), said as a caller outside the room reads them.
AGGREGATE_COUNT = COUNT
DisclosureApplied = Applied
apply_disclosure = apply
parse_disclosure_policy = parse_policy
release_aggregate = release
spend_budget = spend
budget_spent = spent

__all__ = [
    "AGGREGATE_COUNT",
    "BUDGET_ENTRY",
    "COUNT",
    "AggregatePolicy",
    "Applied",
    "BudgetSpent",
    "Classes",
    "DisclosureApplied",
    "DisclosurePolicy",
    "Generalization",
    "Hierarchy",
    "Linkage",
    "RiskReport",
    "aggregate_schema",
    "apply",
    "apply_disclosure",
    "budget_spends",
    "budget_spent",
    "classes",
    "coarsen_first",
    "generalize",
    "generalize_column",
    "generalized_type",
    "k_anonymous",
    "l_diverse",
    "linkage",
    "load_hierarchy",
    "parse_disclosure_policy",
    "parse_policy",
    "quasi_identifiers_of",
    "release",
    "release_aggregate",
    "risk_of",
    "rule_problem",
    "spend",
    "spend_budget",
    "spent",
    "suppression_reason",
]
