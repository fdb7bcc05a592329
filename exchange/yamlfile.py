"""YAML declarations that remember where each key was written.

A catalog error must name the file, line and field. PyYAML's node marks carry the
line; this loader keeps them on every mapping so a checker can say
`subscriptions/housing.yaml:7: fields: unknown field 'salary'`.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from govbus.errors import BadConfiguration


class LineDict(dict):  # type: ignore[type-arg]
    """A mapping from a YAML file; `line_of(key)` is the 1-based line the key is on."""

    line: int = 0
    lines: dict[str, int]

    def line_of(self, key: str) -> int:
        return self.lines.get(key, self.line)


class _Loader(yaml.SafeLoader):
    pass


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> LineDict:
    loader.flatten_mapping(node)
    result = LineDict()
    result.line = node.start_mark.line + 1
    result.lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        result[key] = loader.construct_object(value_node, deep=True)
        result.lines[str(key)] = key_node.start_mark.line + 1
    return result


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def load_yaml(path: Path, *, shown_as: str | None = None) -> LineDict:
    """Load a YAML file whose top level is a mapping; errors name the file and line."""
    where = shown_as or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BadConfiguration(
            "file not found", where=where, hint="create it or fix the catalog path"
        ) from None
    except UnicodeDecodeError:
        raise BadConfiguration("not UTF-8 text", where=where, hint="save it as UTF-8") from None
    try:
        data = yaml.load(text, Loader=_Loader)  # noqa: S506 - _Loader is a SafeLoader
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        line = f":{mark.line + 1}" if mark is not None else ""
        raise BadConfiguration(
            f"not valid YAML: {exc.problem}", where=f"{where}{line}", hint="fix the syntax"
        ) from None
    if not isinstance(data, LineDict):
        raise BadConfiguration("the top level must be a mapping", where=where)
    return data
