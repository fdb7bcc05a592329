"""Differentially private aggregates through OpenDP: noisy counts and clamped sums per public group.

For purposes that need only totals (a regional income table), a subscription may
receive, per delivered batch, one row per combination of public group keys (the
policy's `domains`, or the contract's value sets) with a noisy `count` and noisy
`sum_<field>` of values clamped to the policy's bounds — never a row of a person.

Why it is differentially private: the exact group counts and sums are computed on Arrow
columns; adding or removing one row changes the count vector by 1 and each sum vector
by at most max(|lower|, |upper|) in L1 norm (a row is in exactly one group, its value
clamped), and OpenDP's vector Laplace mechanism (discrete for counts) adds noise scaled
to that sensitivity. The epsilon charged is what OpenDP's privacy map says for it
(`measurement.map(sensitivity)`), summed over the released measures (basic
composition). Group keys outside the public domain are dropped, and every group of the
domain is released, empty or not, so the keys themselves reveal nothing.

The unit of privacy is one row (one return): a person with several rows in a batch is
protected at epsilon times that number (group privacy); `docs/privacy.md` says so.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from consent.disclosure.policy import AggregatePolicy

__all__ = ["COUNT", "aggregate_schema", "release"]

COUNT = "count"


def aggregate_schema(policy: AggregatePolicy, schema: pa.Schema) -> pa.Schema:
    """The schema a subscription under `policy` receives: its group keys, count, sums."""
    fields = [schema.field(name) for name in policy.group_by]
    if policy.count:
        fields.append(pa.field(COUNT, pa.int64(), nullable=False))
    fields.extend(pa.field(f"sum_{name}", pa.float64(), nullable=False) for name in policy.sums)
    return pa.schema(fields)


def _groups(policy: AggregatePolicy, schema: pa.Schema) -> tuple[pa.Table, list[pa.Array]]:
    """Every combination of the domains' keys (the released rows) and each domain as an array."""
    domains = [pa.array(list(policy.domains[name]), schema.field(name).type) for name in policy.group_by]
    sizes = [len(d) for d in domains]
    total = int(np.prod(sizes)) if sizes else 1
    columns = {}
    repeat = total
    for name, domain, size in zip(policy.group_by, domains, sizes, strict=True):
        repeat //= size
        index = np.tile(np.repeat(np.arange(size), repeat), total // (size * repeat))
        columns[name] = pc.take(domain, pa.array(index))
    return pa.table(columns) if columns else pa.table({}), domains


def release(policy: AggregatePolicy, table: pa.Table, schema: pa.Schema) -> tuple[pa.Table, float]:
    """The noisy aggregate of `table` and the epsilon OpenDP charges for it (at most `policy.epsilon`)."""
    import opendp.prelude as dp  # loaded when an aggregate is released, not with the part

    dp.enable_features("contrib")
    groups, domains = _groups(policy, schema)
    count = groups.num_rows if policy.group_by else 1
    index = np.zeros(table.num_rows, np.int64)
    inside = np.ones(table.num_rows, bool)
    stride = count
    for name, domain in zip(policy.group_by, domains, strict=True):
        stride //= len(domain)
        position = pc.index_in(table[name], value_set=domain).to_numpy(zero_copy_only=False)
        inside &= ~np.isnan(position.astype(float))
        index += np.nan_to_num(position.astype(float), nan=0).astype(np.int64) * stride
    index = index[inside]
    measures = int(policy.count) + len(policy.sums)
    share = policy.epsilon / measures
    spent = 0.0
    out = dict(zip(groups.column_names, groups.columns, strict=True))
    if policy.count:
        exact = np.bincount(index, minlength=count).astype(np.int64)
        space = dp.vector_domain(dp.atom_domain(T=int)), dp.l1_distance(T=int)
        measurement = space >> dp.m.then_laplace(scale=1.0 / share)
        spent += measurement.map(1)
        noisy = np.maximum(np.asarray(measurement(exact.tolist()), np.int64), 0)  # post-processing
        out[COUNT] = pa.array(noisy, pa.int64())
    for name, (lower, upper) in policy.sums.items():
        values = pc.cast(table[name], pa.float64()).to_numpy(zero_copy_only=False)[inside]
        clamped = np.clip(np.nan_to_num(values, nan=0.0), lower, upper)
        exact_sum = np.bincount(index, weights=clamped, minlength=count)
        sensitivity = max(abs(lower), abs(upper))
        space = dp.vector_domain(dp.atom_domain(T=float, nan=False)), dp.l1_distance(T=float)
        measurement = space >> dp.m.then_laplace(scale=sensitivity / share)
        spent += measurement.map(sensitivity)
        out[f"sum_{name}"] = pa.array(measurement(exact_sum.tolist()), pa.float64())
    return pa.table(out, schema=aggregate_schema(policy, schema)), float(spent)
