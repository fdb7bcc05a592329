"""Reading a stored payload back with every key checked: the one place that raises on a bad shape."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Protocol

from govbus.errors import FatalError

__all__ = ["EntryPayload", "PayloadReader"]


class EntryPayload(Protocol):
    """What `Ledger.append_entry` needs of a typed record: its kind and its payload dict."""

    KIND: ClassVar[str]

    def to_payload(self) -> dict[str, Any]:
        """The JSON-able payload the ledger hashes and stores."""
        ...


class PayloadReader:
    """Reads one payload key by key, naming the key (never the value) when one is wrong."""

    def __init__(self, payload: object, kind: str, seq: int | None) -> None:
        self._kind = kind
        self._seq = seq
        self._prefix = ""
        if not isinstance(payload, Mapping):
            raise self._error(None, "the payload is not a JSON object")
        self._payload = payload

    def _error(self, key: str | None, problem: str) -> FatalError:
        key = None if key is None else self._prefix + key
        entry = f"ledger entry {self._seq} ({self._kind})" if self._seq is not None else f"{self._kind} entry"
        return FatalError(
            f"{problem}" if key is None else f"payload key {key!r} {problem}",
            where=entry if key is None else f"{entry}: {key}",
            hint="the entry was not written by this version of GovBus, or the ledger was altered: "
            "run `govbus audit verify`",
        )

    def has(self, key: str) -> bool:
        """True when the payload has the key (optional keys are absent when unused)."""
        return key in self._payload

    def _get(self, key: str) -> Any:
        if key not in self._payload:
            raise self._error(key, "is missing")
        return self._payload[key]

    def text(self, key: str) -> str:
        """A string value."""
        value = self._get(key)
        if not isinstance(value, str):
            raise self._error(key, "must be a string")
        return value

    def optional_text(self, key: str) -> str | None:
        """A string value, or None where the payload holds null."""
        value = self._get(key)
        if value is not None and not isinstance(value, str):
            raise self._error(key, "must be a string or null")
        return value

    def integer(self, key: str) -> int:
        """A whole number (a JSON boolean is refused, though Python counts it as an int)."""
        value = self._get(key)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self._error(key, "must be an integer")
        return value

    def texts(self, key: str) -> tuple[str, ...]:
        """A list of strings, as a tuple."""
        value = self._get(key)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self._error(key, "must be a list of strings")
        return tuple(value)

    def integers(self, key: str) -> tuple[int, ...]:
        """A list of whole numbers, as a tuple."""
        value = self._get(key)
        if not isinstance(value, list) or not all(
            isinstance(v, int) and not isinstance(v, bool) for v in value
        ):
            raise self._error(key, "must be a list of integers")
        return tuple(value)

    def counts(self, key: str) -> dict[str, int]:
        """A mapping of names to whole numbers (denials by reason)."""
        value = self._get(key)
        if not isinstance(value, dict) or not all(
            isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool) for k, v in value.items()
        ):
            raise self._error(key, "must be an object of integer counts")
        return dict(value)

    def pairs(self, key: str) -> tuple[tuple[str, str], ...]:
        """A list of [name, digest] pairs (a delivery's files), as tuples."""
        value = self._get(key)
        if not isinstance(value, list) or not all(
            isinstance(v, list) and len(v) == 2 and all(isinstance(s, str) for s in v) for v in value
        ):
            raise self._error(key, "must be a list of [name, sha256] pairs")
        return tuple((name, digest) for name, digest in value)

    def true_if_present(self, key: str) -> bool:
        """An optional key that, when present, must be `true` (absent means false)."""
        if not self.has(key):
            return False
        if self._payload[key] is not True:
            raise self._error(key, "must be true when present (it is left out otherwise)")
        return True

    def texts_if_present(self, key: str) -> tuple[str, ...]:
        """An optional non-empty list of strings (absent means empty)."""
        if not self.has(key):
            return ()
        value = self.texts(key)
        if not value:
            raise self._error(key, "must not be empty when present (it is left out otherwise)")
        return value

    def text_map(self, key: str) -> dict[str, str]:
        """A mapping of names to strings."""
        value = self._get(key)
        if not isinstance(value, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()
        ):
            raise self._error(key, "must be an object of strings")
        return dict(value)

    def texts_map(self, key: str) -> dict[str, tuple[str, ...]]:
        """A mapping of names to lists of strings, as tuples."""
        value = self._get(key)
        if not isinstance(value, dict) or not all(
            isinstance(k, str) and isinstance(v, list) and all(isinstance(s, str) for s in v)
            for k, v in value.items()
        ):
            raise self._error(key, "must be an object of lists of strings")
        return {k: tuple(v) for k, v in value.items()}

    def objects(self, key: str) -> list[Mapping[str, Any]]:
        """A list of JSON objects, checked by the caller."""
        value = self._get(key)
        if not isinstance(value, list) or not all(isinstance(v, Mapping) for v in value):
            raise self._error(key, "must be a list of objects")
        return value

    def within(self, key: str, index: int) -> PayloadReader:
        """A reader of the object at `key[index]`, whose errors name `key[index].<inner key>`."""
        inner = PayloadReader(self.objects(key)[index], self._kind, self._seq)
        inner._prefix = f"{self._prefix}{key}[{index}]."
        return inner
