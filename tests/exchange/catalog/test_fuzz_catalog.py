"""Fuzzing the catalog's YAML (issue 16's fuzz suite): every mutation is a problem, never a crash.

Each case takes the sample catalog and mutates one file: a value replaced by a list, a
mapping, a number, deep nesting, an alias or a stray quote; a line deleted, repeated
or shifted by a space; bytes that are not UTF-8. `check_catalog` must return problems
(each naming a file) and never raise; when the mutation leaves the catalog consistent,
`preflight` (what `govbus check` runs next) must not raise either.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from exchange.catalog import check_catalog, load_catalog
from exchange.catalog.preflight import preflight
from exchange.run.deliver import delivered_schema
from tests.conftest import CATALOG
from tests.connectors.fuzz_budget import fuzz

EXAMPLES = 80
FILES = sorted(
    str(path.relative_to(CATALOG))
    for pattern in ("*.yaml", "subscriptions/*.yaml", "datasets/*/contract.yaml")
    for path in CATALOG.glob(pattern)
)
VALUES = [
    "[a, b]",
    "{x: 1}",
    "{}",
    "[]",
    "12",
    "-1",
    "true",
    "null",
    "~",
    "'",
    '"',
    "[" * 300 + "]" * 300,
    "&anchor x",
    "*missing",
    "2024-13-45",
    "${UNSET}",
    "../../../../etc",
    "\t",
    "- a",
    "x: y: z",
]


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("fuzz") / "catalog"
    shutil.copytree(CATALOG, root)
    return root


def mutate(text: str, kind: str, line: int, value: str) -> bytes:
    lines = text.split("\n")
    index = line % len(lines)
    target = lines[index]
    if kind == "value" and ":" in target:
        key = target.split(":", 1)[0]
        lines[index] = f"{key}: {value}"
    elif kind == "delete":
        del lines[index]
    elif kind == "repeat":
        lines.insert(index, target)
    elif kind == "indent":
        lines[index] = " " + target
    elif kind == "dedent":
        lines[index] = target[1:]
    elif kind == "bytes":
        return (
            ("\n".join(lines[:index]) + "\n").encode()
            + b"\xff\xfe: \xc3\n"
            + "\n".join(lines[index:]).encode()
        )
    else:
        lines.insert(index, f"{value}")
    return "\n".join(lines).encode()


@fuzz(EXAMPLES)
@given(
    file=st.sampled_from(FILES),
    kind=st.sampled_from(
        ["value", "value", "value", "delete", "repeat", "indent", "dedent", "bytes", "insert"]
    ),
    line=st.integers(0, 200),
    value=st.sampled_from(VALUES),
)
def test_a_mutated_catalog_is_answered_with_problems_never_an_exception(
    catalog: Path,
    file: str,
    kind: str,
    line: int,
    value: str,
) -> None:
    path = catalog / file
    original = (CATALOG / file).read_bytes()
    path.write_bytes(mutate(original.decode(), kind, line, value))
    try:
        problems = check_catalog(catalog)
        for problem in problems:
            assert problem.file and problem.message, problem
            assert "Traceback" not in str(problem) and "TypeError" not in str(problem)
        if not problems:
            env = {"GOVBUS_HOME": str(catalog.parent / "home")}
            preflight(load_catalog(catalog), env, schema_of=delivered_schema)
    finally:
        path.write_bytes(original)
