"""Helpers for the consent part's catalog files (purposes, legal bases)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from govbus.errors import BadConfiguration
from govbus.yamlfile import MarkedDict, load_marked, where

__all__ = ["MarkedDict", "load_marked", "top_list", "where"]


def top_list(path: Path, document: Any, name: str) -> list[Any]:
    """The list under top-level key `name` (`purposes:`, `statutes:`)."""
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
