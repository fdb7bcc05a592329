"""The YAML reader gives the same values, lines and errors whichever parser reads the file.

`govbus.yamlfile` reads with libyaml when PyYAML has it (start-up reads every catalog
file) and falls back to the pure-Python parser for a file libyaml refuses, so that its
error names the same problem at the same line. These tests read each file both ways.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from govbus import yamlfile
from govbus.yamlfile import MarkedDict, YamlFileError, load_marked
from tests.conftest import CATALOG

pytestmark = pytest.mark.skipif(yamlfile._FAST is None, reason="PyYAML was built without libyaml")


def _shape(value: Any) -> Any:
    """Values with every mapping's line and its keys' lines, to compare two readings."""
    if isinstance(value, MarkedDict):
        return (value.line, sorted(value.lines.items()), {k: _shape(v) for k, v in value.items()})
    if isinstance(value, list):
        return [_shape(v) for v in value]
    return value


def _both(path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, Any]:
    fast = _shape(load_marked(path))
    with monkeypatch.context() as m:
        m.setattr(yamlfile, "_FAST", None)
        pure = _shape(load_marked(path))
    return fast, pure


@pytest.mark.parametrize("path", sorted(CATALOG.rglob("*.yaml")), ids=lambda p: str(p.relative_to(CATALOG)))
def test_every_catalog_file_reads_alike(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fast, pure = _both(path, monkeypatch)
    assert fast == pure


BROKEN = [
    "purposes: [ {code: X\n",
    "a: b\n c: d\n",
    "a: [1, 2\nb: 3\n",
    "- a\nb: c\n",
    "a: 1\na: 2\n",
    "when: 2026-13-45\n",
    "x: " + "[" * (yamlfile.MAX_DEPTH + 5) + "]" * (yamlfile.MAX_DEPTH + 5) + "\n",
]


@pytest.mark.parametrize("text", BROKEN, ids=range(len(BROKEN)))
def test_a_broken_file_is_refused_with_the_same_words_at_the_same_line(
    text: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(text)
    errors = []
    for fast in (yamlfile._FAST, None):
        monkeypatch.setattr(yamlfile, "_FAST", fast)
        with pytest.raises(YamlFileError) as info:
            load_marked(path)
        errors.append((str(info.value), info.value.line))
    assert errors[0] == errors[1]
