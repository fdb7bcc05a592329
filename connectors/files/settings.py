"""Reading a file connector's settings: typed, with defaults, errors naming the setting.

`SettingsReader` wraps the settings mapping of one connector. It refuses a setting the
connector does not know (listing the known ones) and every getter refuses a missing
required value or a value of the wrong type with a `BadConfiguration` whose `where` is
the setting's name. Messages never echo a value (a misplaced secret must not leak).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from govbus.errors import BadConfiguration

_PRINTABLE_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_REQUIRED = object()


class SettingsReader:
    """Typed access to `settings` of connector `connector`, which knows `known` settings."""

    def __init__(self, settings: Mapping[str, Any], connector: str, known: Sequence[str]) -> None:
        if not isinstance(settings, Mapping):
            raise BadConfiguration("connector settings must be a mapping", where="connector")
        self._settings = settings
        self._hint = f"settings of connector {connector}: connector, {', '.join(known)}"
        for name in settings:
            if name != "connector" and name not in known:
                shown = name if isinstance(name, str) and _PRINTABLE_NAME.fullmatch(name) else "?"
                raise BadConfiguration(f"unknown setting '{shown}'", where=shown, hint=self._hint)

    def _value(self, name: str, default: Any) -> Any:
        value = self._settings.get(name, default)
        if value is _REQUIRED:
            raise BadConfiguration(f"missing setting '{name}'", where=name, hint=self._hint)
        return value

    def _refuse(self, name: str, expected: str) -> BadConfiguration:
        return BadConfiguration(f"must be {expected}", where=name, hint=self._hint)

    def text(self, name: str, default: Any = _REQUIRED) -> str:
        """A non-empty string."""
        value = self._value(name, default)
        if not isinstance(value, str) or not value or "\x00" in value:
            raise self._refuse(name, "a non-empty text")
        return value

    def optional_text(self, name: str) -> str | None:
        """A non-empty string, or None when absent or null."""
        return None if self._settings.get(name) is None else self.text(name)

    def char(self, name: str, default: str | None, *, nullable: bool = False) -> str | None:
        """One character; None (written `null` or `false`) only if `nullable`."""
        value = self._value(name, default)
        if nullable and (value is None or value is False):
            return None
        if not isinstance(value, str) or len(value) != 1 or value in "\r\n":
            expected = "one character (or false for none)" if nullable else "one character"
            raise self._refuse(name, expected)
        return value

    def flag(self, name: str, default: bool) -> bool:
        """true or false."""
        value = self._value(name, default)
        if not isinstance(value, bool):
            raise self._refuse(name, "true or false")
        return value

    def number(self, name: str, default: float, *, minimum: float, maximum: float) -> float:
        """A number between `minimum` and `maximum`."""
        value = self._value(name, default)
        if isinstance(value, bool) or not isinstance(value, int | float) or not minimum <= value <= maximum:
            raise self._refuse(name, f"a number from {minimum:g} to {maximum:g}")
        return float(value)

    def texts(self, name: str, default: Any = _REQUIRED) -> tuple[str, ...] | None:
        """A list of strings (may be empty); None when the default is None and it is absent."""
        value = self._value(name, default)
        if value is None:
            return None
        if isinstance(value, str) or not isinstance(value, Sequence):
            raise self._refuse(name, "a list of texts")
        for i, item in enumerate(value):
            if not isinstance(item, str) or "\x00" in item:
                raise BadConfiguration("must be a text", where=f"{name}[{i}]", hint=self._hint)
        return tuple(value)

    def choice(self, name: str, default: str, choices: Sequence[str]) -> str:
        """One of `choices`."""
        value = self._value(name, default)
        if value not in choices:
            raise self._refuse(name, f"one of {', '.join(choices)}")
        return value

    def optional_number(self, name: str, *, minimum: float, maximum: float) -> float | None:
        """A number between `minimum` and `maximum`, or None when absent or null."""
        if self._settings.get(name) is None:
            return None
        return self.number(name, minimum, minimum=minimum, maximum=maximum)
