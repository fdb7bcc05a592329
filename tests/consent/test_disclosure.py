"""Disclosure control on Arrow: generalization, k-anonymity by suppression, l-diversity, linkage."""

from __future__ import annotations

import datetime as dt
import decimal
import importlib
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import consent
from consent import DisclosurePolicy, Generalization, Hierarchy

REGIONS = Hierarchy("region", {"0": "NORTH", "1": "EAST", "12": "CITY"}, default="OTHER")


def _incomes(values: list[str | None]) -> pa.Array:
    return pa.array([decimal.Decimal(v) if v is not None else None for v in values], pa.decimal128(14, 2))


def test_generalization_keeps_types_and_coarsens() -> None:
    table = pa.table(
        {
            "gross_income": _incomes(["12345.67", "99999.99", "250000.00", None]),
            "tax_year": pa.array([2021, 2022, 2023, 2024], pa.int32()),
            "assessed_on": pa.array([dt.date(2024, 5, 17), dt.date(2023, 1, 2), None, dt.date(2024, 12, 31)]),
            "birth_date": pa.array([19870517, 20011231, 19500101, 19990615], pa.int32()),
            "municipality_code": ["0101", "1201", "1999", "4999"],
        }
    )
    rules = {
        "gross_income": Generalization("gross_income", band=20000, top=100000),
        "assessed_on": Generalization("assessed_on", date="month"),
        "birth_date": Generalization("birth_date", date="year"),
        "municipality_code": Generalization("municipality_code", hierarchy=REGIONS),
    }
    out = consent.generalize(table, rules)
    assert out.schema.field("gross_income").type == pa.decimal128(14, 2)
    assert [str(v) if v is not None else None for v in out["gross_income"].to_pylist()] == [
        "0.00",
        "80000.00",
        "100000.00",
        None,
    ]
    assert out["assessed_on"].to_pylist() == [
        dt.date(2024, 5, 1),
        dt.date(2023, 1, 1),
        None,
        dt.date(2024, 12, 1),
    ]
    assert out["birth_date"].to_pylist() == [19870101, 20010101, 19500101, 19990101]
    # The longest listed prefix wins; unlisted prefixes take the default.
    assert out["municipality_code"].to_pylist() == ["NORTH", "CITY", "EAST", "OTHER"]
    assert out["tax_year"].equals(table["tax_year"])
    rounded = consent.generalize(table, {"tax_year": Generalization("tax_year", round=5)})
    assert rounded["tax_year"].to_pylist() == [2020, 2020, 2025, 2025]


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.one_of(st.none(), st.integers(-(10**12) + 1, 10**12 - 1)), min_size=1, max_size=60),
    st.one_of(st.none(), st.integers(1, 10**6)),
    st.one_of(st.none(), st.integers(-(10**6), 10**7)),
    st.one_of(st.none(), st.integers(-(10**7), 10**6)),
    st.integers(0, 5),
)
def test_amounts_banded_exactly_equal_the_float_path(
    cents: list[int | None], band: int | None, top: int | None, bottom: int | None, cut: int
) -> None:
    """Clamping and banding a decimal column on its integers gives what the float64 path gives."""
    coarsen = importlib.import_module(
        "consent.disclosure.generalize"
    )  # the package's `generalize` is a function

    values = pa.array(
        [None if c is None else decimal.Decimal(c).scaleb(-2) for c in cents], pa.decimal128(14, 2)
    ).slice(min(cut, len(cents) - 1))
    rule = Generalization("amount", band=band, top=top, bottom=bottom)
    exact = coarsen._decimal_exactly(values, rule)
    assert exact is not None  # taken for this rule: what the test compares
    floats = pa.array(
        [None if v is None else float(v) for v in values.to_pylist()], pa.float64()
    )  # the float path, by hand
    if bottom is not None:
        floats = pa.array([None if f is None else max(f, float(bottom)) for f in floats.to_pylist()])
    if top is not None:
        floats = pa.array([None if f is None else min(f, float(top)) for f in floats.to_pylist()])
    if band:
        floats = pa.array([None if f is None else np.floor(f / band) * band for f in floats.to_pylist()])
    assert exact.to_pylist() == floats.cast(values.type, safe=False).to_pylist()
    assert coarsen.generalize_column(values, rule).equals(exact)
    # and what the library's own float path gives, with the exact path turned off
    taken, coarsen._decimal_exactly = coarsen._decimal_exactly, lambda column, rule: None
    try:
        assert coarsen.generalize_column(values, rule).equals(exact)
    finally:
        coarsen._decimal_exactly = taken


def test_the_float_path_takes_what_the_exact_path_cannot() -> None:
    coarsen = importlib.import_module(
        "consent.disclosure.generalize"
    )  # the package's `generalize` is a function

    amounts = _incomes(["12345.67", "-0.05", None])
    assert coarsen._decimal_exactly(amounts, Generalization("a", round=100)) is None
    assert coarsen._decimal_exactly(amounts, Generalization("a", band=0.5)) is None
    wide = pa.array([decimal.Decimal("1.5")], pa.decimal128(20, 2))
    assert coarsen._decimal_exactly(wide, Generalization("a", band=1)) is None
    # what the float path gives for them stays as it was
    assert coarsen.generalize_column(amounts, Generalization("a", band=0.5)).to_pylist() == [
        decimal.Decimal("12345.50"),
        decimal.Decimal("-0.50"),
        None,
    ]


def test_k_anonymity_suppresses_whole_small_classes_and_nothing_else() -> None:
    table = pa.table({"a": ["x"] * 5 + ["y"] * 4 + [None] * 5, "b": [1] * 14})
    applied = consent.apply_disclosure(DisclosurePolicy(k=5), table, ["a", "b"])
    assert applied.suppressed == 4
    assert sorted(applied.table["a"].to_pylist(), key=str) == ["None"] * 0 + sorted(
        ["x"] * 5 + [None] * 5, key=str
    )
    assert applied.keep is not None and applied.keep.to_pylist() == [True] * 5 + [False] * 4 + [True] * 5
    untouched = consent.apply_disclosure(DisclosurePolicy(k=4), table, ["a", "b"])
    assert untouched.keep is None and untouched.suppressed == 0


def test_l_diversity_drops_homogeneous_classes() -> None:
    table = pa.table({"qi": ["a"] * 5 + ["b"] * 5, "diagnosis": ["X"] * 5 + ["X", "Y", "X", "Y", "Z"]})
    policy = DisclosurePolicy(k=5, l_diversity=("diagnosis", 2))
    applied = consent.apply_disclosure(policy, table, ["qi"])
    assert applied.table["qi"].to_pylist() == ["b"] * 5 and applied.suppressed == 5


@settings(max_examples=60, deadline=None)
@given(
    rows=st.lists(
        st.tuples(st.integers(0, 6), st.sampled_from(["A", "B", None]), st.integers(0, 300_000)),
        min_size=0,
        max_size=120,
    ),
    k=st.integers(2, 6),
    cut=st.integers(1, 5),
)
def test_every_batch_and_their_union_are_k_anonymous(rows: list, k: int, cut: int) -> None:
    """Property: whatever the data and however it is cut into batches, each delivered batch
    and the union of all of them hold only classes of at least k rows (global recoding)."""
    table = pa.table(
        {
            "year": pa.array([r[0] for r in rows], pa.int32()),
            "status": pa.array([r[1] for r in rows], pa.string()),
            "income": _incomes([f"{r[2]}.00" for r in rows]),
        }
    )
    policy = DisclosurePolicy(generalize={"income": Generalization("income", band=50_000, top=200_000)}, k=k)
    qis = ["year", "status", "income"]
    size = max(1, len(rows) // cut)
    delivered = []
    for start in range(0, max(len(rows), 1), size):
        batch = consent.apply_disclosure(policy, table.slice(start, size), qis).table
        if batch.num_rows:
            found = consent.disclosure.classes(batch, qis)
            assert found.smallest() >= k
        delivered.append(batch)
    union = pa.concat_tables(delivered)
    if union.num_rows:
        assert consent.disclosure.classes(union, qis).smallest() >= k


def test_linkage_counts_rows_singled_out_in_another_copy() -> None:
    theirs = pa.table(
        {
            "id": [f"p{i}" for i in range(8)],
            "year": [2021] * 8,
            "income": _incomes([f"{i}000.00" for i in range(8)]),
        }
    )
    exact = theirs.select(["year", "income"])
    found = consent.linkage(exact, theirs, ["year", "income"], {}, other="benefits")
    assert (found.singled_out, found.rows, found.share) == (8, 8, 1.0)
    rules = {"income": Generalization("income", band=4000)}
    coarse = consent.generalize(exact, rules)
    assert consent.linkage(coarse, theirs, ["year", "income"], rules, other="benefits").singled_out == 0


def test_linkage_through_a_pseudonym_links_persons_whose_rows_together_are_unique() -> None:
    # Two people, two rows each; every row's class has two rows, but the pair of classes differs.
    theirs = pa.table(
        {"id": ["p", "p", "q", "q"], "year": [2021, 2022, 2021, 2022], "band": ["lo", "hi", "hi", "lo"]}
    )
    ours = theirs.select(["year", "band"]).append_column("_subject", pa.array(["s1", "s1", "s2", "s2"]))
    ours = ours.set_column(1, "band", pa.array(["lo", "hi", "hi", "lo"]))
    found = consent.linkage(
        ours, theirs, ["year", "band"], {}, other="b", our_subject="_subject", their_subject="id"
    )
    assert found.singled_out == 4  # each (year, band) is unique here too
    same = pa.table(
        {"id": ["p", "p", "q", "q"], "year": [2021, 2021, 2021, 2021], "band": ["lo", "lo", "lo", "lo"]}
    )
    ours_same = same.select(["year", "band"]).append_column("_subject", pa.array(["s1", "s1", "s2", "s2"]))
    linked = consent.linkage(
        ours_same, same, ["year", "band"], {}, other="b", our_subject="_subject", their_subject="id"
    )
    assert (linked.singled_out, linked.linked_subjects, linked.subjects) == (0, 0, 2)


def test_risk_names_the_fields_to_coarsen_first() -> None:
    rng = np.random.default_rng(7)
    table = pa.table(
        {"year": pa.array(rng.integers(2021, 2023, 400)), "income": pa.array(rng.integers(0, 10**6, 400))}
    )
    report = consent.risk_of(table, ["year", "income"], k=5)
    assert report.uniques > 300 and report.smallest_class == 1
    assert report.coarsen[0] == "income"


def _parse(raw: object, fields=("gross_income", "tax_year", "filing_status"), **kw):  # type: ignore[no-untyped-def]
    def hierarchy(name: str) -> Hierarchy:
        if name != "region":
            raise ValueError(f"no hierarchy {name!r}")
        return REGIONS

    return consent.parse_disclosure_policy(raw, fields=fields, hierarchy=hierarchy, **kw)


def test_policy_problems_name_what_to_change() -> None:
    policy, problems = _parse({"k": 5, "generalize": {"gross_income": {"band": 10000, "top": 100000}}})
    assert problems == [] and policy is not None and policy.k == 5 and policy.changes_rows
    _, problems = _parse(
        {
            "k": 1,
            "kay": 3,
            "generalize": {
                "postal_code": {"band": 5},
                "gross_income": {"band": -1, "round": 5},
                "tax_year": {"hierarchy": "nowhere"},
            },
            "l_diversity": {"field": "filing_status", "l": 2},
            "max_linkage": 2,
        }
    )
    keys = [key for key, _ in problems]
    assert "disclosure.kay" in keys and "disclosure.k" in keys and "disclosure.max_linkage" in keys
    assert "disclosure.generalize.postal_code" in keys and "disclosure.generalize.gross_income.band" in keys
    assert "disclosure.generalize.tax_year.hierarchy" in keys
    _, problems = _parse({"aggregate": {"group_by": ["filing_status"], "epsilon": 0.5}})
    assert any(key == "disclosure.budget" for key, _ in problems)
    assert any(key == "disclosure.aggregate.domains.filing_status" for key, _ in problems)
    ok, problems = _parse(
        {"aggregate": {"group_by": ["filing_status"], "epsilon": 0.5}, "budget": 1.0},
        value_sets={"filing_status": ("SINGLE", "JOINT")},
    )
    assert problems == [] and ok is not None and ok.aggregate is not None
    assert ok.aggregate.domains == {"filing_status": ("SINGLE", "JOINT")}


def test_hierarchy_file(tmp_path: Path) -> None:
    path = tmp_path / "region.yaml"
    path.write_text('name: region\nprefixes:\n  "0": NORTH\n', encoding="utf-8")
    assert consent.load_hierarchy(path).apply(pa.array(["0123", "9"])).to_pylist() == ["NORTH", None]
    path.write_text("name: region\nprefixes:\n  0: NORTH\n", encoding="utf-8")
    with pytest.raises(ValueError, match="mapping keys must be strings"):
        consent.load_hierarchy(path)
    sample = Path(__file__).parents[2] / "catalog" / "hierarchies" / "region.yaml"
    assert consent.load_hierarchy(sample).apply(pa.array(["4999", "0101"])).to_pylist() == [
        "CENTRAL",
        "NORTH",
    ]
