"""Reading declaration YAML so that every error can name `file:line` and the field.

Shared by every part that reads catalog files (the kernel holds it so that `consent`
and `exchange` need not import each other).

`load_marked(path)` returns plain dicts/lists whose mappings are `MarkedDict`s: they
remember the line of each key's value. Duplicate keys are refused (plain YAML keeps the
last one silently, which hides a typo in a reviewed file).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from govbus.errors import BadConfiguration


class MarkedDict(dict[str, Any]):
    """A YAML mapping plus the 1-based line of the mapping and of each value."""

    line: int
    lines: dict[str, int]

    def line_of(self, key: str) -> int:
        """The line of `key`'s value, or of the mapping when the key is absent."""
        return self.lines.get(key, self.line)


class _MarkedLoader(yaml.SafeLoader):
    """SafeLoader whose mappings are MarkedDicts and which refuses duplicate keys."""


def _construct_mapping(loader: _MarkedLoader, node: yaml.MappingNode) -> MarkedDict:
    loader.flatten_mapping(node)
    result = MarkedDict()
    result.line = node.start_mark.line + 1
    result.lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, str):
            raise yaml.constructor.ConstructorError(
                None, None, "mapping keys must be strings", key_node.start_mark
            )
        if key in result:
            raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
        result[key] = loader.construct_object(value_node, deep=True)
        result.lines[key] = value_node.start_mark.line + 1
    return result


_MarkedLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def load_marked(path: Path, *, shown_as: str | None = None) -> Any:
    """Parse one YAML file; a missing or malformed file is a BadConfiguration at file:line."""
    path = Path(path)
    shown = shown_as or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise BadConfiguration(
            "file not found", where=shown, hint="create it or fix the catalog path"
        ) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise BadConfiguration("file cannot be read as UTF-8 text", where=shown) from exc
    try:
        return yaml.load(text, Loader=_MarkedLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{shown}:{mark.line + 1}" if mark else shown
        raise BadConfiguration(
            f"invalid YAML: {exc.problem or exc.context}", where=where, hint="fix the YAML syntax"
        ) from exc
    except yaml.YAMLError as exc:
        raise BadConfiguration("invalid YAML", where=shown) from exc


def where(path: Path, node: Any, key: str | None = None) -> str:
    """`file:line` of `node[key]` (or of the mapping itself) for an error's `where=`."""
    if isinstance(node, MarkedDict):
        line = node.lines.get(key, node.line) if key is not None else node.line
        return f"{path}:{line}"
    return str(path)
