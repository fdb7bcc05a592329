"""The conformance kit's mainframe cases (`connectors.testing.mainframe_cases`) on the
`fixed_width` connector: every supported clause and record format, and the docs list them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from connectors import make_source
from connectors.testing.mainframe_cases import CASES, MainframeCase, check_mainframe_case

DOCS = Path(__file__).resolve().parents[3] / "docs" / "mainframe.md"


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_case(case: MainframeCase, tmp_path: Path) -> None:
    def build(settings: dict[str, Any]) -> Any:
        return make_source({"connector": "fixed_width", **settings}, key_fields=[], cursor_field=None)

    check_mainframe_case(case, tmp_path, build)


def test_the_docs_table_lists_every_case() -> None:
    text = DOCS.read_text(encoding="utf-8")
    missing = [case.name for case in CASES if f"`{case.name}`" not in text]
    assert not missing, f"docs/mainframe.md does not list {missing}"
