"""A subscription's disclosure policy, as its purpose and its own entry state it together.

Why both: a purpose that needs no identities (official statistics) should protect every
subscription for it, the requested ones included, without each requester having to say
so; a subscription may add its own generalization, or tighten the purpose's. So the
purpose's `disclosure:` (purposes.yaml) applies first and the subscription's
`disclosure:` on top of it: its generalization rules replace the purpose's for the same
field, `k` and the approval thresholds can only get stricter (the larger k, the smaller
shares), the other keys are the subscription's where it gives them. Rules for fields the
subscription does not receive are left out (a purpose's rules name fields of several
datasets). A subscription that asks for aggregates takes only the purpose's budget: noise,
not k, protects what it receives.

Hierarchies are read from `catalog/hierarchies/<name>.yaml` once per catalog read.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import consent
from exchange.catalog.model import Catalog, Dataset

__all__ = ["HIERARCHIES", "subscription_policy"]

HIERARCHIES = "hierarchies"
_VALUE_SET = "expect_column_values_to_be_in_set"


def subscription_policy(
    catalog: Catalog,
    dataset: Dataset,
    purpose: str,
    fields: Sequence[str],
    own: Any,
    bad: Callable[[str, str], None],
    pseudonymize: bool = False,
    reversible: Sequence[str] = (),
) -> consent.DisclosurePolicy | None:
    """The policy for a subscription of `fields` (None: none applies); problems through `bad`.

    An aggregate policy delivers no person's row, so it refuses a pseudonym or a reversible
    field; a k-policy refuses reversible fields among its quasi-identifiers (their
    ciphertext would be delivered, not the generalized value).
    """
    stated = getattr(catalog.purposes.get(purpose), "disclosure", None)
    if stated is None and own is None:
        return None
    if own is not None and not isinstance(own, Mapping):
        bad("disclosure", "must be a mapping (generalize, k, aggregate, ...); see docs/privacy.md")
        return None
    merged = _merged(dict(stated or {}), dict(own or {}), set(fields))
    key = "disclosure" if own is not None else f"disclosure (purpose {purpose})"
    policy, problems = consent.parse_disclosure_policy(
        merged,
        fields=fields,
        hierarchy=_hierarchies(catalog),
        value_sets=_value_sets(dataset),
        key=key,
    )
    for where, message in problems:
        bad("disclosure", f"{where}: {message}")
    if policy is None:
        return None
    arrow = dataset.schema.arrow
    wrong = [
        f"{key}.generalize.{name}: {why}"
        for name, rule in policy.generalize.items()
        if (why := consent.rule_problem(rule, arrow.field(name).type)) is not None
    ]
    if policy.aggregate is not None:
        wrong.extend(
            f"{key}.aggregate.sums.{name}: must be a number, not {arrow.field(name).type}"
            for name in policy.aggregate.sums
            if consent.rule_problem(consent.Generalization(name, band=1.0), arrow.field(name).type)
        )
    if policy.aggregate is not None and (pseudonymize or reversible):
        wrong.append(
            f"{key}.aggregate: aggregates name no one: drop pseudonymize_subject and reversible fields"
        )
    encrypted = sorted(set(reversible) & set(policy.generalize))
    if encrypted:
        wrong.append(
            f"{key}.generalize: {', '.join(encrypted)} reach this recipient encrypted (reversible_by)"
        )
    for message in wrong:
        bad("disclosure", message)
    return None if wrong else policy


def _merged(purpose: dict[str, Any], own: dict[str, Any], fields: set[str]) -> dict[str, Any]:
    """The purpose's policy with the subscription's on top (see the module docstring)."""
    if own.get("aggregate") is not None:  # aggregates are protected by noise, not by k
        return {**({"budget": purpose["budget"]} if "budget" in purpose else {}), **own}
    rules = {
        name: rule
        for name, rule in {**_mapping(purpose.get("generalize")), **_mapping(own.get("generalize"))}.items()
        if name in fields
    }
    merged = {**purpose, **own}
    if rules or "generalize" in merged:
        merged["generalize"] = rules
    for name, stricter in (("k", max), ("max_suppressed", min), ("max_linkage", min)):
        values = [v for v in (purpose.get(name), own.get(name)) if isinstance(v, int | float)]
        if len(values) == 2:
            merged[name] = stricter(values)
    qis = purpose.get("quasi_identifiers")
    if isinstance(qis, list):
        merged["quasi_identifiers"] = [q for q in qis if q in fields] + [
            q for q in own.get("quasi_identifiers") or [] if q not in qis
        ]
    return merged


def _mapping(value: Any) -> dict[str, Any]:
    return dict(value) if isinstance(value, Mapping) else {}


def _hierarchies(catalog: Catalog) -> Callable[[str], consent.Hierarchy]:
    """Load `catalog/hierarchies/<name>.yaml` (once each); ValueError naming what is missing."""
    cache: dict[str, consent.Hierarchy] = {}

    def load(name: str) -> consent.Hierarchy:
        if name not in cache:
            path = catalog.root / HIERARCHIES / f"{name}.yaml"
            if not path.is_file():
                known = sorted(p.stem for p in (catalog.root / HIERARCHIES).glob("*.yaml"))
                raise ValueError(f"no hierarchy {name!r} (known: {', '.join(known) or 'none'})")
            cache[name] = consent.load_hierarchy(path)
        return cache[name]

    return load


def _value_sets(dataset: Dataset) -> dict[str, tuple[Any, ...]]:
    """The contract's `expect_column_values_to_be_in_set` sets: public keys for aggregates."""
    found: dict[str, tuple[Any, ...]] = {}
    for expectation in dataset.contract.expectations:
        if expectation.type == _VALUE_SET and isinstance(expectation.kwargs.get("value_set"), list):
            found[str(expectation.kwargs.get("column"))] = tuple(expectation.kwargs["value_set"])
    return found
