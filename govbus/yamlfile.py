"""Reading declaration YAML so that every error can name `file:line` and the field.

Shared by every part that reads catalog files (the kernel holds it so that `consent`
and `exchange` need not import each other).

`load_marked(path)` returns plain dicts/lists whose mappings are `MarkedDict`s: they
remember the line of each key's value. Duplicate keys are refused (plain YAML keeps the
last one silently, which hides a typo in a reviewed file). `compose_marked(path)` gives
the node tree that `load_marked` builds from, for a linter that reports every problem
of a file at its line instead of stopping at the first (`contracts`' contract linter).
Both read the file the same way and raise the same `YamlFileError` at `file:line`.

Nesting is bounded (`MAX_DEPTH` levels of mappings and lists): PyYAML composes and
constructs recursively, so a file nested 5,000 deep would overflow the stack. The
tokens are counted first (the scanner does not recurse) and a file nested deeper is
refused at the line where it goes too deep.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from govbus.errors import BadConfiguration

MAX_DEPTH = 100
"""How deeply mappings and lists may nest in a declaration file (catalog files nest < 10)."""
_OPENING = (yaml.BlockMappingStartToken, yaml.BlockSequenceStartToken, yaml.FlowMappingStartToken,
            yaml.FlowSequenceStartToken)  # fmt: skip
_CLOSING = (yaml.BlockEndToken, yaml.FlowMappingEndToken, yaml.FlowSequenceEndToken)
# libyaml's scanner and parser, when PyYAML was built with them: some twenty times faster
# than the pure-Python ones, and every command and every parse of the DAG file reads the
# catalog's files. They give the same nodes and lines; a file they refuse is read again
# by the pure-Python ones, so an error says the same words at the same line either way.
_FAST: Any = getattr(yaml, "CSafeLoader", None)


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


def _construct_timestamp(loader: _MarkedLoader, node: yaml.ScalarNode) -> Any:
    """A YAML date or time; one that does not exist (2024-13-45) is an error at its line."""
    try:
        return yaml.SafeLoader.construct_yaml_timestamp(loader, node)
    except (ValueError, OverflowError) as exc:
        raise yaml.constructor.ConstructorError(
            None, None, f"not a valid date or time ({exc})", node.start_mark
        ) from None


_MarkedLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_MarkedLoader.add_constructor("tag:yaml.org,2002:timestamp", _construct_timestamp)


class YamlFileError(BadConfiguration):
    """A YAML file that cannot be read or parsed, raised with `where` = `file:line`.

    `line` (1-based; None when the file could not be read or the parser gave no place)
    and `reason` (what the file system or the parser said) let a linter that collects
    problems word this one in its own report instead of stopping; `unreadable` tells a
    file that could not be read apart from one that is not valid YAML.
    """

    def __init__(
        self,
        message: str,
        *,
        shown: str,
        line: int | None = None,
        reason: str = "",
        unreadable: bool = False,
        hint: str | None = None,
    ) -> None:
        self.line = line
        self.reason = reason
        self.unreadable = unreadable
        super().__init__(message, where=f"{shown}:{line}" if line is not None else shown, hint=hint)


def compose_marked(path: Path, *, shown_as: str | None = None) -> yaml.Node | None:
    """The node tree of one YAML file (None when it holds no document).

    Every node keeps its start mark, so a linter that reports all problems of a file
    at once can name each one's line; `load_marked` builds its values from this tree.
    A missing, unreadable or malformed file raises `YamlFileError` at file:line.
    """
    path = Path(path)
    shown = shown_as or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise YamlFileError(
            "file not found",
            shown=shown,
            reason=type(exc).__name__,
            unreadable=True,
            hint="create it or fix the catalog path",
        ) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise YamlFileError(
            "file cannot be read as UTF-8 text", shown=shown, reason=type(exc).__name__, unreadable=True
        ) from exc
    try:
        _check_depth(text, shown)
        return _compose(text)
    except yaml.YAMLError as exc:
        raise _syntax_error(exc, shown) from exc
    except RecursionError:  # a shape the depth count did not foresee (deep aliases)
        raise YamlFileError(
            "the file nests too deeply to be read", shown=shown, reason="RecursionError"
        ) from None


def _check_depth(text: str, shown: str) -> None:
    """Refuse `text` if its mappings and lists nest deeper than `MAX_DEPTH` (module doc).

    A block sequence written as a mapping's value without indentation ("key:\n- a") has
    no start token of its own: counting only start and end tokens keeps the count right.
    """
    depth = 0
    for token in _scan(text):
        if isinstance(token, _OPENING):
            depth += 1
            if depth > MAX_DEPTH:
                line = token.start_mark.line + 1
                raise YamlFileError(
                    f"nests deeper than {MAX_DEPTH} levels",
                    shown=shown,
                    line=line,
                    reason="too deep",
                    hint="a declaration file needs a few levels; check the indentation and brackets",
                )
        elif isinstance(token, _CLOSING):
            depth -= 1


def load_marked(path: Path, *, shown_as: str | None = None) -> Any:
    """Parse one YAML file; a missing or malformed file is a BadConfiguration at file:line."""
    shown = shown_as or str(path)
    node = compose_marked(path, shown_as=shown_as)
    if node is None:
        return None
    try:
        return _MarkedLoader("").construct_document(node)
    except yaml.YAMLError as exc:  # a duplicate or non-string key
        raise _syntax_error(exc, shown) from exc
    except RecursionError:  # aliases nesting a shape deeper than the text shows
        raise YamlFileError(
            "the file nests too deeply to be read", shown=shown, reason="RecursionError"
        ) from None


def _scan(text: str) -> Any:
    """The tokens of `text`, by libyaml when it reads the file (see `_FAST`)."""
    if _FAST is not None:
        try:
            return list(yaml.scan(text, Loader=_FAST))
        except yaml.YAMLError:
            pass  # the pure-Python scanner below names the problem, in its own words
    return yaml.scan(text, Loader=_MarkedLoader)


def _compose(text: str) -> yaml.Node | None:
    """The node tree of `text`, by libyaml when it reads the file (see `_FAST`)."""
    if _FAST is not None:
        try:
            return yaml.compose(text, Loader=_FAST)
        except yaml.YAMLError:
            pass  # the pure-Python parser below names the problem, in its own words
    return yaml.compose(text, Loader=_MarkedLoader)


def _syntax_error(exc: yaml.YAMLError, shown: str) -> YamlFileError:
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        reason = exc.problem or exc.context
        return YamlFileError(
            f"invalid YAML: {reason}",
            shown=shown,
            line=mark.line + 1 if mark else None,
            reason=reason or "",
            hint="fix the YAML syntax",
        )
    return YamlFileError("invalid YAML", shown=shown)


def top_list(path: Path, document: Any, name: str) -> list[Any]:
    """The list under top-level key `name` (`purposes:`, `statutes:`), [] when it is empty.

    Catalog files that hold one list of entries share this check so a missing key or a
    key that is not a list is reported the same way, at the key's line.
    """
    if not isinstance(document, dict) or name not in document:
        raise BadConfiguration(
            f"top-level key '{name}:' is missing",
            where=str(path),
            hint=f"start the file with '{name}:' and a list of entries",
        )
    items = document[name]
    if items is None:
        return []
    if not isinstance(items, list):
        raise BadConfiguration(f"'{name}' must be a list", where=where(path, document, name))
    return items


def where(path: Path, node: Any, key: str | None = None) -> str:
    """`file:line` of `node[key]` (or of the mapping itself) for an error's `where=`."""
    if isinstance(node, MarkedDict):
        line = node.lines.get(key, node.line) if key is not None else node.line
        return f"{path}:{line}"
    return str(path)
