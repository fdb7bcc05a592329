"""The contract linter's checks on a YAML node tree, each failure kept as a `Problem`.

The file is read by the kernel's reader (`govbus.yamlfile.compose_marked`), the one
every part uses; what this module adds is the linter's side: instead of stopping at the
first error it records each one with its line and field, so `govbus check` lists them
all. Only YAML's safe types are constructed (no Python object tags).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from contracts.model import Problem
from govbus.yamlfile import YamlFileError, compose_marked

_STR = "tag:yaml.org,2002:str"
_INT = "tag:yaml.org,2002:int"


@dataclass(frozen=True)
class Entry:
    """One `key: value` of a mapping: the key, its line (1-based) and the value node."""

    key: str
    line: int
    node: yaml.Node


class YamlChecks:
    """Reads one YAML file through the kernel and accumulates problems about it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.file = str(path)
        self.problems: list[Problem] = []

    def problem(self, at: Entry | int | None, field: str, message: str) -> None:
        """Record a problem at an entry or a line (None: the file as a whole)."""
        line = at.line if isinstance(at, Entry) else at
        self.problems.append(Problem(self.file, line, field, message))

    def document(self) -> yaml.Node | None:
        """The root node, or None (with a problem) when unreadable, malformed or empty."""
        try:
            root = compose_marked(self.path)
        except YamlFileError as exc:
            if exc.unreadable:
                self.problem(None, "", f"cannot read the file ({exc.reason})")
            else:
                self.problem(exc.line, "", f"malformed YAML: {exc.reason or 'malformed YAML'}")
            return None
        if root is None:
            self.problem(1, "", "the file is empty")
        return root

    def python(self, node: yaml.Node) -> Any:
        """The plain Python value of a node (safe types only)."""
        try:
            return yaml.SafeLoader("").construct_object(node, deep=True)
        except yaml.YAMLError as exc:
            self.problem(node.start_mark.line + 1, "", f"unsupported YAML value: {exc}")
            return None

    def mapping(self, node: yaml.Node, field: str) -> list[Entry] | None:
        """The entries of a mapping node; None (with a problem) for any other node."""
        if not isinstance(node, yaml.MappingNode):
            self.problem(node.start_mark.line + 1, field or "(document)", "must be a mapping")
            return None
        entries: list[Entry] = []
        seen: set[str] = set()
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            if not (isinstance(key_node, yaml.ScalarNode) and key_node.tag == _STR):
                self.problem(line, field, "keys must be plain names")
                continue
            key = key_node.value
            name = f"{field}.{key}" if field else key
            if key in seen:
                self.problem(line, name, "duplicate key (the earlier value would be lost)")
                continue
            seen.add(key)
            entries.append(Entry(key, line, value_node))
        return entries

    def sequence(self, entry: Entry, field: str) -> list[yaml.Node] | None:
        """The item nodes of a list value; None (with a problem) for any other node."""
        if not isinstance(entry.node, yaml.SequenceNode):
            self.problem(entry, field, "must be a list")
            return None
        return list(entry.node.value)

    def string(
        self,
        entry: Entry | None,
        field: str,
        pattern: re.Pattern[str] | None = None,
        message: str = "",
    ) -> str | None:
        """A string value; None when absent or wrong (wrong also records a problem)."""
        if entry is None:
            return None
        node = entry.node
        if not (isinstance(node, yaml.ScalarNode) and node.tag == _STR):
            if isinstance(node, yaml.ScalarNode) and node.value != "" and node.tag != _STR:
                self.problem(entry, field, "must be a string (quote it)")
            else:
                self.problem(entry, field, "must be a string")
            return None
        if pattern is not None and not pattern.match(node.value):
            self.problem(entry, field, message or "has an invalid form")
            return None
        return node.value

    def string_list(self, entry: Entry | None, field: str) -> list[str] | None:
        """A list of strings; None when absent or not a list. Items that are not strings are
        recorded as problems and left out."""
        if entry is None:
            return None
        nodes = self.sequence(entry, field)
        if nodes is None:
            return None
        values = []
        for index, node in enumerate(nodes):
            item = Entry(f"{index}", node.start_mark.line + 1, node)
            value = self.string(item, f"{field}[{index}]")
            if value is not None:
                values.append(value)
        return values

    def count(self, entry: Entry | None, field: str) -> int | None:
        """A non-negative integer; None when absent or wrong."""
        if entry is None:
            return None
        node = entry.node
        if not (isinstance(node, yaml.ScalarNode) and node.tag == _INT):
            self.problem(entry, field, "must be a whole number")
            return None
        value = self.python(node)
        if not isinstance(value, int) or value < 0:
            self.problem(entry, field, "must be zero or more")
            return None
        return value
