"""A disclosure policy: how a subscription's rows are coarsened before they leave the bus.

A purpose (purposes.yaml) or a subscription states it under `disclosure:`:

```yaml
disclosure:
  generalize:                       # per field, applied in this order: clamp, band/round, date, hierarchy
    gross_income: {band: 10000, top: 150000}   # amounts to bands (lower bound), top-coded
    tax_due: {round: 1000}                     # rounded to the nearest 1,000
    birth_date: {date: year}                   # dates (or YYYYMMDD numbers) to month or year
    municipality_code: {hierarchy: region}     # through catalog/hierarchies/region.yaml
  k: 5                              # every delivered batch k-anonymous on the quasi-identifiers
  quasi_identifiers: [tax_year]     # added to the contract's `quasi-identifier` fields
  l_diversity: {field: diagnosis_group, l: 2}  # optional: l distinct values per class
  max_suppressed: 0.05              # approval refused when reaching k needs more suppression
  max_linkage: 0.0                  # ... or another recipient's copy singles out more rows
  aggregate:                        # instead of rows: noisy counts and sums (OpenDP)
    group_by: [tax_year, filing_status]
    domains: {tax_year: [2021, 2022, 2023, 2024]}  # public group keys (else the contract's value set)
    count: true
    sums: {gross_income: [0, 200000]}          # clamped to these bounds
    epsilon: 0.5                    # spent per delivered batch
  budget: 5.0                       # epsilon a recipient may spend for this purpose, in total
```

Generalization keeps each column's type (a band is its lower bound, a month the first
day of the month), so the delivered schema is the subscription's own; only an
aggregate policy delivers another shape (`consent.disclosure.aggregates`).
`parse_policy` returns the policy or the problems, each as (key, message) naming what
to change; the catalog adds file and line.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from consent.disclosure.hierarchy import Hierarchy

__all__ = ["AggregatePolicy", "DisclosurePolicy", "Generalization", "parse_policy"]

_KEYS = {
    "generalize",
    "k",
    "quasi_identifiers",
    "l_diversity",
    "max_suppressed",
    "max_linkage",
    "aggregate",
    "budget",
}
_RULES = ("band", "round", "top", "bottom", "date", "hierarchy")
_DATE_UNITS = ("month", "year")


@dataclass(frozen=True)
class Generalization:
    """How one field is coarsened: clamp (`bottom`/`top`), then `band` or `round`, `date`, `hierarchy`."""

    field: str
    band: float | None = None
    round: float | None = None
    top: float | None = None
    bottom: float | None = None
    date: str | None = None
    hierarchy: Hierarchy | None = None

    def describe(self) -> dict[str, Any]:
        """The rule as the manifest, the ledger's policy version and `govbus privacy` show it."""
        found: dict[str, Any] = {
            k: getattr(self, k) for k in ("band", "round", "top", "bottom", "date") if getattr(self, k)
        }
        if self.hierarchy is not None:
            found["hierarchy"] = self.hierarchy.name
        return found


@dataclass(frozen=True)
class AggregatePolicy:
    """Differentially private counts and clamped sums per group of public keys."""

    group_by: tuple[str, ...]
    domains: Mapping[str, tuple[Any, ...]]
    count: bool
    sums: Mapping[str, tuple[float, float]]
    epsilon: float

    def describe(self) -> dict[str, Any]:
        """The aggregate rule as JSON."""
        return {
            "group_by": list(self.group_by),
            "domains": {k: list(v) for k, v in self.domains.items()},
            "count": self.count,
            "sums": {k: list(v) for k, v in self.sums.items()},
            "epsilon": self.epsilon,
        }


@dataclass(frozen=True)
class DisclosurePolicy:
    """What is done to a subscription's rows before protection (see the module docstring)."""

    generalize: Mapping[str, Generalization] = field(default_factory=dict)
    k: int | None = None
    quasi_identifiers: tuple[str, ...] = ()
    l_diversity: tuple[str, int] | None = None
    max_suppressed: float = 1.0
    max_linkage: float = 1.0
    aggregate: AggregatePolicy | None = None
    budget: float | None = None

    def describe(self) -> dict[str, Any]:
        """The whole policy as JSON (what its fingerprint is over)."""
        return {
            "generalize": {name: g.describe() for name, g in sorted(self.generalize.items())},
            "k": self.k,
            "quasi_identifiers": list(self.quasi_identifiers),
            "l_diversity": list(self.l_diversity) if self.l_diversity else None,
            "max_suppressed": self.max_suppressed,
            "max_linkage": self.max_linkage,
            "aggregate": self.aggregate.describe() if self.aggregate else None,
            "budget": self.budget,
        }

    @property
    def fingerprint(self) -> str:
        """SHA-256 (16 hex digits) of the policy: part of a delivery's policy version."""
        text = json.dumps(self.describe(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]

    @property
    def changes_rows(self) -> bool:
        """True when the step does anything to a batch (an empty policy leaves it as it is)."""
        return bool(self.generalize or self.k or self.l_diversity or self.aggregate)


Problems = list[tuple[str, str]]


def parse_policy(
    raw: Any,
    *,
    fields: Sequence[str],
    hierarchy: Callable[[str], Hierarchy],
    value_sets: Mapping[str, tuple[Any, ...]] | None = None,
    key: str = "disclosure",
) -> tuple[DisclosurePolicy | None, Problems]:
    """The policy `raw` states for a subscription of `fields`, or None with every problem.

    `hierarchy(name)` loads a catalog hierarchy (raising ValueError with what is wrong);
    `value_sets` are the contract's `expect_column_values_to_be_in_set` sets, the public
    group keys of an aggregate when the policy names none.
    """
    problems: Problems = []
    if not isinstance(raw, Mapping):
        return None, [(key, "must be a mapping (generalize, k, aggregate, ...)")]
    for name in sorted(set(raw) - _KEYS):
        problems.append((f"{key}.{name}", f"unknown key; known: {', '.join(sorted(_KEYS))}"))
    known = set(fields)
    rules = _generalizations(raw.get("generalize") or {}, known, hierarchy, f"{key}.generalize", problems)
    k = _number(raw.get("k"), f"{key}.k", problems, whole=True, least=2)
    qis = raw.get("quasi_identifiers") or []
    if not isinstance(qis, list) or not all(isinstance(q, str) for q in qis):
        problems.append((f"{key}.quasi_identifiers", "must be a list of field names"))
        qis = []
    problems.extend(
        (f"{key}.quasi_identifiers", f"{q!r} is not among the subscription's fields")
        for q in qis
        if q not in known
    )
    diversity = _diversity(raw.get("l_diversity"), known, f"{key}.l_diversity", problems)
    shares = [
        _number(raw.get(name), f"{key}.{name}", problems, least=0.0, most=1.0)
        for name in ("max_suppressed", "max_linkage")
    ]
    aggregate = None
    if raw.get("aggregate") is not None:
        aggregate = _aggregate(raw["aggregate"], known, value_sets or {}, f"{key}.aggregate", problems)
        if k is not None or rules:
            problems.append(
                (f"{key}.aggregate", "an aggregate policy delivers no rows: drop k and generalize")
            )
    budget = _number(raw.get("budget"), f"{key}.budget", problems, least=0.0)
    if aggregate is not None and budget is None:
        problems.append((f"{key}.budget", "an aggregate policy needs a privacy budget (total epsilon)"))
    if diversity is not None and k is None:
        problems.append((f"{key}.l_diversity", "l-diversity is checked on k-anonymous classes: set k too"))
    if problems:
        return None, problems
    policy = DisclosurePolicy(
        generalize=rules,
        k=int(k) if k is not None else None,
        quasi_identifiers=tuple(qis),
        l_diversity=diversity,
        max_suppressed=shares[0] if shares[0] is not None else 1.0,
        max_linkage=shares[1] if shares[1] is not None else 1.0,
        aggregate=aggregate,
        budget=budget,
    )
    return policy, []


def _number(
    value: Any,
    key: str,
    problems: Problems,
    *,
    whole: bool = False,
    least: float | None = None,
    most: float | None = None,
) -> float | None:
    if value is None:
        return None
    kind = int if whole else (int, float)
    if isinstance(value, bool) or not isinstance(value, kind) or not math.isfinite(value):
        problems.append((key, "must be a whole number" if whole else "must be a number"))
        return None
    if (least is not None and value < least) or (most is not None and value > most):
        bounds = f"at least {least}" if most is None else f"between {least} and {most}"
        problems.append((key, f"must be {bounds}"))
        return None
    return float(value) if not whole else value


def _generalizations(
    raw: Any, known: set[str], hierarchy: Callable[[str], Hierarchy], key: str, problems: Problems
) -> dict[str, Generalization]:
    if not isinstance(raw, Mapping):
        problems.append((key, "must map field names to rules ({band: 10000}, {date: year}, ...)"))
        return {}
    found = {}
    for name, rule in raw.items():
        where = f"{key}.{name}"
        if name not in known:
            problems.append((where, f"{name!r} is not among the subscription's fields"))
            continue
        if not isinstance(rule, Mapping) or not rule or set(rule) - set(_RULES):
            problems.append((where, f"must be a mapping of {', '.join(_RULES)}"))
            continue
        numbers = {
            r: _number(rule.get(r), f"{where}.{r}", problems) for r in ("band", "round", "top", "bottom")
        }
        for r in ("band", "round"):
            if numbers[r] is not None and numbers[r] <= 0:
                problems.append((f"{where}.{r}", "must be greater than 0"))
        if numbers["band"] is not None and numbers["round"] is not None:
            problems.append((where, "band or round, not both"))
        date = rule.get("date")
        if date is not None and date not in _DATE_UNITS:
            problems.append((f"{where}.date", f"must be one of {', '.join(_DATE_UNITS)}"))
        level = None
        if rule.get("hierarchy") is not None:
            try:
                level = hierarchy(str(rule["hierarchy"]))
            except ValueError as exc:
                problems.append((f"{where}.hierarchy", str(exc)))
        found[name] = Generalization(name, **numbers, date=date, hierarchy=level)  # type: ignore[arg-type]
    return found


def _diversity(raw: Any, known: set[str], key: str, problems: Problems) -> tuple[str, int] | None:
    if raw is None:
        return None
    if not isinstance(raw, Mapping) or set(raw) != {"field", "l"}:
        problems.append((key, "must be {field: NAME, l: N}"))
        return None
    if raw["field"] not in known:
        problems.append((f"{key}.field", f"{raw['field']!r} is not among the subscription's fields"))
    level = _number(raw["l"], f"{key}.l", problems, whole=True, least=2)
    return (str(raw["field"]), int(level)) if level is not None else None


def _aggregate(
    raw: Any, known: set[str], value_sets: Mapping[str, tuple[Any, ...]], key: str, problems: Problems
) -> AggregatePolicy | None:
    allowed = {"group_by", "domains", "count", "sums", "epsilon"}
    if not isinstance(raw, Mapping) or set(raw) - allowed:
        problems.append((key, f"must be a mapping of {', '.join(sorted(allowed))}"))
        return None
    group_by = raw.get("group_by") or []
    if not isinstance(group_by, list) or not all(isinstance(g, str) and g in known for g in group_by):
        problems.append((f"{key}.group_by", "must list fields of the subscription"))
        group_by = []
    declared = raw.get("domains") or {}
    domains: dict[str, tuple[Any, ...]] = {}
    for name in group_by:
        values = declared.get(name) if isinstance(declared, Mapping) else None
        values = values if values is not None else value_sets.get(name)
        if not isinstance(values, list | tuple) or not values:
            problems.append(
                (
                    f"{key}.domains.{name}",
                    "the group keys must be public: list them (or give the field a value set)",
                )
            )
            continue
        domains[name] = tuple(values)
    sums: dict[str, tuple[float, float]] = {}
    for name, bounds in (raw.get("sums") or {}).items():
        ok = name in known and isinstance(bounds, list) and len(bounds) == 2
        ok = ok and all(isinstance(b, int | float) and not isinstance(b, bool) for b in bounds)
        if not ok or bounds[0] >= bounds[1]:
            problems.append(
                (f"{key}.sums.{name}", "must be a field of the subscription with [lower, upper] bounds")
            )
            continue
        sums[name] = (float(bounds[0]), float(bounds[1]))
    count = raw.get("count", True)
    if not isinstance(count, bool) or (not count and not sums):
        problems.append((f"{key}.count", "release a count, a sum, or both"))
    epsilon = _number(raw.get("epsilon"), f"{key}.epsilon", problems, least=0.0)
    if raw.get("epsilon") is None or epsilon == 0:
        problems.append((f"{key}.epsilon", "must be a number greater than 0 (spent per delivered batch)"))
    if epsilon is None or epsilon <= 0:
        return None
    return AggregatePolicy(tuple(group_by), domains, bool(count), sums, epsilon)
