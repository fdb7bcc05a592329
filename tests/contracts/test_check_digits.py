"""`expect_column_values_to_have_valid_check_digit`: published examples, a differential test
against textbook one-value implementations, nulls and non-digits, lint, JSON Schema, GX export."""

from __future__ import annotations

import random
import shutil
from pathlib import Path
from typing import Any

import jsonschema
import pyarrow as pa
import pytest
import yaml

from contracts import contract_json_schema, gx_suite, lint_contract, load_contract
from contracts.check_digits import check_digit, valid_check_digits

DATASETS = Path(__file__).parents[2] / "catalog" / "datasets"
RULE = "expect_column_values_to_have_valid_check_digit"
CPR_WEIGHTS = [4, 3, 2, 7, 6, 5, 4, 3, 2, 1]


# -- textbook implementations, one value at a time (the oracle) --------------------------


def luhn_ok(text: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(text)):
        d = int(ch) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


def verhoeff_ok(text: str) -> bool:
    # Dihedral group D5 multiplication, built from its definition rather than copied tables.
    def mul(j: int, k: int) -> int:
        if j < 5 and k < 5:
            return (j + k) % 5
        if j < 5:
            return 5 + (j + k - 5) % 5
        if k < 5:
            return 5 + (j - 5 - k) % 5
        return (j - k) % 5

    perm = [1, 5, 7, 6, 2, 8, 3, 0, 9, 4]

    def p(i: int, n: int) -> int:
        for _ in range(i % 8):
            n = perm[n]
        return n

    c = 0
    for i, ch in enumerate(reversed(text)):
        c = mul(c, p(i, int(ch)))
    return c == 0


def mod97_ok(text: str) -> bool:
    return int(text) % 97 == 1


def weighted_ok(text: str, weights: list[int], modulus: int) -> bool:
    return (
        len(text) == len(weights)
        and sum(int(c) * w for c, w in zip(text, weights, strict=True)) % modulus == 0
    )


def run(values: list[Any], **kw: Any) -> list[bool]:
    """Unexpected flags of the check on one column."""
    table = pa.table({"id": pa.array(values, pa.string())})
    outcome = check_digit({"column": "id", **kw})(table)
    return outcome.unexpected.to_pylist()


# -- behaviour ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("algorithm", "good", "bad"),
    [
        ("luhn", ["79927398713", "4539578763621486", "0"], ["79927398710", "4539578763621487"]),
        ("verhoeff", ["2363", "0"], ["2364", "2336"]),
        # IBAN GB82 WEST 1234 5698 7654 32, letters and country moved to the end (ISO 13616).
        ("iso7064_mod97_10", ["3214282912345698765432161182"], ["3214282912345698765432161183"]),
    ],
)
def test_published_examples(algorithm: str, good: list[str], bad: list[str]) -> None:
    assert run(good + bad, algorithm=algorithm) == [False] * len(good) + [True] * len(bad)


def test_swapped_and_mistyped_digits_are_caught() -> None:
    valid = "79927398713"
    swapped = valid[:3] + valid[4] + valid[3] + valid[5:]
    typo = valid[:5] + str((int(valid[5]) + 1) % 10) + valid[6:]
    assert run([valid, swapped, typo], algorithm="luhn") == [False, True, True]
    assert run(["2363", "2633"], algorithm="verhoeff") == [False, True]


def test_nulls_are_not_judged_and_non_digits_are_unexpected() -> None:
    values = [None, "79927398713", "7992 7398 713", "7992739871X", "", "٧٩٩٢٧٣٩٨٧١٣"]
    table = pa.table({"id": pa.array(values, pa.string())})
    outcome = check_digit({"column": "id", "algorithm": "luhn"})(table)
    assert outcome.unexpected.to_pylist() == [False, False, True, True, True, True]
    assert outcome.considered == 5


def test_integer_columns_are_read_as_their_digits() -> None:
    table = pa.table({"id": pa.array([79927398713, 79927398710, None], pa.int64())})
    assert check_digit({"column": "id", "algorithm": "luhn"})(table).unexpected.to_pylist() == [
        False,
        True,
        False,
    ]


@pytest.mark.parametrize("algorithm", ["luhn", "verhoeff", "iso7064_mod97_10", "weighted"])
def test_the_vectorized_check_agrees_with_the_textbook_one(algorithm: str) -> None:
    rng = random.Random(7)
    values = ["".join(rng.choice("0123456789") for _ in range(rng.randint(1, 24))) for _ in range(4000)]
    values += ["".join(rng.choice("0123456789") for _ in range(10)) for _ in range(4000)]
    kw: dict[str, Any] = {"algorithm": algorithm}
    if algorithm == "weighted":
        kw.update(weights=CPR_WEIGHTS, modulus=11)
    oracle = {
        "luhn": luhn_ok,
        "verhoeff": verhoeff_ok,
        "iso7064_mod97_10": mod97_ok,
        "weighted": lambda v: weighted_ok(v, CPR_WEIGHTS, 11),
    }[algorithm]
    got = valid_check_digits(pa.array(values), kw).to_pylist()
    expected = [oracle(v) for v in values]
    assert got == expected
    assert 0 < sum(expected) < len(values), "both verdicts occur"


def test_a_sliced_column_is_read_from_its_own_offset() -> None:
    values = pa.array(["79927398710", "79927398713", "0", "12"])
    assert valid_check_digits(values.slice(1, 2), {"algorithm": "luhn"}).to_pylist() == [True, True]


# -- in a contract -----------------------------------------------------------------------


def contract(tmp_path: Path, **kwargs: Any) -> Path:
    shutil.copytree(DATASETS / "tax.income", tmp_path / "datasets" / "tax.income")
    path = tmp_path / "datasets" / "tax.income" / "contract.yaml"
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    document["expectations"].append({"type": RULE, "kwargs": {"column": "national_id", **kwargs}})
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return path


def test_a_check_digit_rule_lints_clean(tmp_path: Path) -> None:
    assert lint_contract(contract(tmp_path, algorithm="luhn")) == []
    assert (
        lint_contract(contract(tmp_path / "w", algorithm="weighted", weights=CPR_WEIGHTS, modulus=11)) == []
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"algorithm": "crc32"}, "must be one of"),
        ({}, "requires 'algorithm'"),
        ({"algorithm": "weighted", "weights": CPR_WEIGHTS}, "needs both 'weights'"),
        ({"algorithm": "luhn", "modulus": 11}, "apply only to algorithm 'weighted'"),
        ({"algorithm": "weighted", "weights": ["4"], "modulus": 11}, "non-negative integers"),
        ({"algorithm": "weighted", "weights": [1], "modulus": 1}, "from 2 to 10000"),
    ],
)
def test_a_bad_rule_is_named_with_file_line_and_field(tmp_path: Path, kwargs: dict, message: str) -> None:
    path = contract(tmp_path, **kwargs)
    [problem] = lint_contract(path)
    assert problem.file == str(path) and problem.line is not None
    assert problem.field.startswith("expectations[") and message in problem.message


def test_the_json_schema_and_the_gx_export_know_the_rule(tmp_path: Path) -> None:
    validator = jsonschema.Draft202012Validator(contract_json_schema())
    base = yaml.safe_load((DATASETS / "tax.income" / "contract.yaml").read_text(encoding="utf-8"))
    good = {"type": RULE, "kwargs": {"column": "national_id", "algorithm": "verhoeff"}}
    assert list(validator.iter_errors({**base, "expectations": [good]})) == []
    bad = {"type": RULE, "kwargs": {"column": "national_id", "algorithm": "md5"}}
    assert list(validator.iter_errors({**base, "expectations": [bad]}))
    suite = gx_suite(load_contract(contract(tmp_path, algorithm="luhn")))
    assert RULE not in {e["type"] for e in suite["expectations"]}
    assert [e["type"] for e in suite["meta"]["govbus"]["not_in_gx"]] == [RULE]
