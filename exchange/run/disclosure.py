"""The disclosure step of a delivery, and the risk of what a subscription would receive.

`disclose` is what the deliver step calls between minimization and protection: it
generalizes the minimized batch and suppresses classes smaller than k (the rows kept
alongside, for pseudonyms and the access index, are filtered the same way), or —
under an aggregate policy — spends the recipient's privacy budget and replaces the
batch by its noisy aggregate. `delivered_schema` is the schema a sink is made for.

`assess` measures what `govbus privacy risk`, an approval and `govbus check` judge: the
subscription's would-be delivery from the dataset's current state (the snapshot), decided
and minimized as a delivery would be, through its disclosure policy, against every other
subscription of the dataset (their would-be deliveries, with their identities).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pyarrow as pa

import consent
from exchange.run import snapshots, step_locks
from exchange.run.columns import PSEUDONYM_COLUMN, SUBJECT_REF_COLUMN
from govbus.instants import utc_now

if TYPE_CHECKING:
    from exchange.catalog import Dataset, Subscription
    from exchange.ctx import StepContext

__all__ = [
    "Assessment",
    "Disclosed",
    "assess",
    "delivered_schema",
    "disclose",
    "refusal",
]


def delivered_schema(dataset: Dataset, sub: Subscription) -> pa.Schema:
    """The Arrow schema a subscriber receives: its fields (reversible ones as the base64
    text of their AES-SIV ciphertext, ones generalized through a hierarchy as text), plus
    the pseudonym if asked; an aggregate policy's groups, counts and sums instead."""
    arrow = dataset.schema.arrow
    policy = sub.disclosure
    if policy is not None and policy.aggregate is not None:
        return consent.aggregate_schema(policy.aggregate, arrow)
    rules = policy.generalize if policy is not None else {}
    fields = []
    for name in sub.fields:
        field = arrow.field(name)
        if name in sub.reversible_fields:
            field = field.with_type(pa.string())
        elif name in rules and rules[name].hierarchy is not None:
            field = field.with_type(pa.string())
        fields.append(field)
    if sub.pseudonymize_subject:
        fields.append(pa.field(PSEUDONYM_COLUMN, pa.string(), nullable=False))
    return pa.schema(fields)


@dataclass(frozen=True)
class Disclosed:
    """A batch after the disclosure step: what leaves, the rows kept alongside, what went."""

    out: pa.Table
    allowed: pa.Table
    suppressed: int
    aggregate: bool = False


def disclose(
    ctx: StepContext,
    sub: Subscription,
    dataset: Dataset,
    out: pa.Table,
    allowed: pa.Table,
    batch_id: str,
) -> Disclosed:
    """Apply the subscription's disclosure policy to a minimized batch (see the module docstring)."""
    policy = sub.disclosure
    if policy is None or not policy.changes_rows:
        return Disclosed(out, allowed, 0)
    if policy.aggregate is not None:
        assert policy.budget is not None  # the catalog refuses an aggregate without a budget
        released, epsilon = consent.release_aggregate(policy.aggregate, out, dataset.schema.arrow)
        # Charged before the release leaves the bus, in its own transaction (see consent's budget).
        with step_locks.locked(ctx, "ledger"), ctx.engine.begin() as conn:
            consent.spend_budget(
                conn,
                ctx.ledger,
                recipient=sub.agency,
                purpose=sub.purpose,
                subscription=sub.id,
                batch_id=batch_id,
                epsilon=epsilon,
                budget=policy.budget,
            )
        return Disclosed(released, allowed.slice(0, 0), 0, aggregate=True)
    quasi = quasi_identifiers(sub, dataset)
    applied = consent.apply_disclosure(policy, out, quasi)
    if applied.keep is not None:
        allowed = allowed.filter(applied.keep)
    return Disclosed(applied.table, allowed, applied.suppressed)


def quasi_identifiers(sub: Subscription, dataset: Dataset) -> tuple[str, ...]:
    """The subscription's quasi-identifiers: the contract's and its policy's, among its fields."""
    if sub.disclosure is None:
        return tuple(n for n in dataset.contract.quasi_identifiers() if n in sub.fields)
    return consent.quasi_identifiers_of(sub.disclosure, dataset.contract.quasi_identifiers(), sub.fields)


# -- what a subscription would receive, and its risk ---------------------------------------


@dataclass(frozen=True)
class Assessment:
    """A subscription's risk report, with the policy's thresholds and what breaks them."""

    subscription: str
    report: consent.RiskReport
    policy: consent.DisclosurePolicy | None
    problems: tuple[str, ...]

    @property
    def refused(self) -> bool:
        """True when the would-be delivery breaks a threshold of its policy."""
        return bool(self.problems)


def current_state(ctx: StepContext, dataset: Dataset) -> Iterator[pa.Table]:
    """The dataset's current state (its snapshot), part by part, as the current schema."""
    with ctx.engine.connect() as conn:
        snap = snapshots.current(conn, dataset.id)
    yield from snapshots.read_parts(ctx.staging, snap, dataset)


def would_deliver(
    ctx: StepContext, sub: Subscription, dataset: Dataset, parts: Iterable[pa.Table], *, with_subject: bool
) -> tuple[pa.Table, int, pa.Table]:
    """What `sub` would receive of `parts` now (decided, minimized, disclosed), rows suppressed,
    and the generalized rows before suppression (what to coarsen is judged on those).

    With `with_subject`, the subject field is kept as `_subject` (never delivered: the
    attacker's identities, or our pseudonym's stand-in for the person-level measure).
    """
    subject = dataset.contract.subject_field
    statute = ctx.catalog.statutes.get(sub.statute or "")
    timeline = None
    if statute is None:
        with ctx.engine.connect() as conn:
            timeline = ctx.register.timeline(
                conn, recipient=sub.agency, dataset=sub.dataset, purpose=sub.purpose, fields=sub.fields
            )
    pieces, suppressed, generalized = [], 0, []
    for table in parts:
        decision = _decide(ctx, sub, dataset, statute, timeline, table)
        keep = list(dict.fromkeys([*sub.fields, subject]))
        allowed = decision.select(table, keep)
        basis = statute.fields if statute is not None else sub.fields
        sensitive = dataset.contract.fields_classified("sensitive")
        out = consent.minimize(allowed, sub.fields, basis_fields=basis, sensitive=sensitive)
        if sub.disclosure is not None and sub.disclosure.generalize:
            generalized.append(consent.generalize(out, sub.disclosure.generalize))
        else:
            generalized.append(out)
        if sub.disclosure is not None and sub.disclosure.changes_rows and sub.disclosure.aggregate is None:
            applied = consent.apply_disclosure(sub.disclosure, out, quasi_identifiers(sub, dataset))
            suppressed += applied.suppressed
            out = applied.table
            allowed = allowed.filter(applied.keep) if applied.keep is not None else allowed
        if with_subject:
            out = out.append_column("_subject", allowed[subject])
        pieces.append(out)
    if not pieces:
        return pa.table({}), 0, pa.table({})
    both = pa.concat_tables(pieces, promote_options="permissive")
    return both, suppressed, pa.concat_tables(generalized, promote_options="permissive")


def _decide(
    ctx: StepContext,
    sub: Subscription,
    dataset: Dataset,
    statute: consent.Statute | None,
    timeline: consent.ConsentTimeline | None,
    table: pa.Table,
) -> consent.Decision:
    """The decision a delivery would take now (as `exchange.run.deliver` takes it)."""
    common = {"dataset": sub.dataset, "recipient": sub.agency, "purpose": sub.purpose, "at": utc_now()}
    if statute is not None:
        return consent.decide(
            None, statute=statute, consents=None, fields=sub.fields, rows=table.num_rows, **common
        )
    assert timeline is not None
    refs = (
        table[SUBJECT_REF_COLUMN]
        if SUBJECT_REF_COLUMN in table.column_names
        else ctx.register.subject_refs(table[dataset.contract.subject_field], raw=True)
    )
    return consent.decide(
        refs, statute=None, consents=timeline.active_index(common["at"]), fields=sub.fields, **common
    )


def assess(ctx: StepContext, sub: Subscription) -> Assessment:
    """The subscription's risk now, against every other subscription of its dataset."""
    dataset = ctx.catalog.dataset(sub.dataset)
    parts = list(current_state(ctx, dataset))
    ours, suppressed, generalized = would_deliver(ctx, sub, dataset, parts, with_subject=True)
    quasi = quasi_identifiers(sub, dataset)
    policy = sub.disclosure
    k = policy.k if policy is not None else None
    base = consent.risk_of(ours, quasi, k=k) if ours.num_rows else consent.RiskReport(0, quasi, 0, 0, 0)
    coarsen = base.coarsen
    if suppressed and k:  # what would let the suppressed rows through: judged before suppression
        coarsen = consent.coarsen_first(generalized, [q for q in quasi if q in generalized.column_names], k)
    rules = policy.generalize if policy is not None else {}
    linked = []
    pseudonym = "_subject" if sub.pseudonymize_subject else None
    for other in ctx.catalog.subscriptions_for(sub.dataset):
        if other.id == sub.id or (other.disclosure is not None and other.disclosure.aggregate is not None):
            continue
        theirs, _, _ = would_deliver(ctx, other, dataset, parts, with_subject=True)
        if not theirs.num_rows or not ours.num_rows:
            continue
        # The other recipient knows who its rows are about only if it receives the subject.
        identified = dataset.contract.subject_field in other.fields
        linked.append(
            consent.linkage(
                ours,
                theirs,
                quasi,
                rules,
                other=other.id,
                our_subject=pseudonym if identified else None,
                their_subject="_subject" if identified else None,
            )
        )
    report = consent.RiskReport(
        base.rows,
        base.quasi_identifiers,
        base.uniques,
        base.smallest_class,
        base.classes,
        suppressed,
        tuple(linked),
        coarsen,
    )
    return Assessment(sub.id, report, policy, refusal(report, policy, suppressed + base.rows))


def refusal(
    report: consent.RiskReport, policy: consent.DisclosurePolicy | None, read: int
) -> tuple[str, ...]:
    """What in `report` breaks `policy`'s thresholds, each naming what to coarsen; empty when none."""
    if policy is None or policy.aggregate is not None:
        return ()
    coarsen = f"; coarsen {', '.join(report.coarsen)}" if report.coarsen else ""
    problems = []
    if policy.k is None and report.uniques:
        problems.append(f"{report.uniques} row(s) unique on the quasi-identifiers and no k{coarsen}")
    share = report.suppressed / read if read else 0.0
    if share > policy.max_suppressed:
        problems.append(
            f"reaching k={policy.k} suppresses {share:.1%} of the rows (at most {policy.max_suppressed:.1%})"
            f"{coarsen}"
        )
    for item in report.linkage:
        if item.share > policy.max_linkage:
            problems.append(
                f"{item.other}'s copy singles out {item.share:.1%} of the rows on "
                f"{', '.join(item.fields)} (at most {policy.max_linkage:.1%}){coarsen}"
            )
        subjects = (item.linked_subjects or 0) / item.subjects if item.subjects else 0.0
        if subjects > policy.max_linkage:
            problems.append(
                f"{item.other}'s copy links {subjects:.1%} of the persons through the pseudonym "
                f"{PSEUDONYM_COLUMN} (a person's rows together single them out): drop "
                "pseudonymize_subject, or coarsen further"
            )
    return tuple(problems)
