"""Where a requested subscription may deliver: the requesting agency's own places only.

A subscription written in the catalog is reviewed in git with its sink; one requested at
run time is not, and its sink settings come from the requester. Without a rule an
agency could ask the bus to write into another agency's folder or database, or name one
of the bus's secrets (`url_env`, `password_env`, `conn_id`). So a request's sink may name:

* paths and URLs (`directory`, `path`, `url`, `base_url`, `host`) that start with one of
  the agency's `delivery_targets` in agencies.yaml — by default its own area,
  `${GOVBUS_HOME}/agencies/<id>/` and `sqlite:///${GOVBUS_HOME}/agencies/<id>/`;
* a secret only as `env:NAME` or `conn:ID` entries of those `delivery_targets` allow.

A path with a `..` segment or any `${VAR}` other than `${GOVBUS_HOME}` is refused
outright: prefixes are compared on the text as written, before expansion.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from exchange.catalog import Agency

__all__ = ["allowed_targets", "target_problems"]

_PLACES = ("directory", "path", "url", "base_url", "host")
_SECRETS = {"url_env": "env", "password_env": "env", "token_env": "env", "conn_id": "conn"}
_VAR = re.compile(r"\$\{([^}]*)\}")


def allowed_targets(agency: Agency) -> tuple[str, ...]:
    """The agency's declared `delivery_targets`, or its own area under GOVBUS_HOME."""
    if agency.delivery_targets:
        return agency.delivery_targets
    return (f"${{GOVBUS_HOME}}/agencies/{agency.id}/", f"sqlite:///${{GOVBUS_HOME}}/agencies/{agency.id}/")


def target_problems(agency: Agency, sink: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(setting, what is wrong) for each sink setting the agency may not name; empty when fine."""
    allowed = allowed_targets(agency)
    places = [a for a in allowed if not a.startswith(("env:", "conn:"))]
    found: list[tuple[str, str]] = []
    for key, value in sink.items():
        if key in _SECRETS:
            entry = f"{_SECRETS[key]}:{value}"
            if entry not in allowed:
                found.append((key, f"names a secret ({entry}) not among {agency.id}'s delivery_targets"))
            continue
        if key not in _PLACES or not isinstance(value, str):
            continue
        others = [v for v in _VAR.findall(value) if v != "GOVBUS_HOME"]
        if others:
            found.append((key, f"may name no variable but ${{GOVBUS_HOME}} (found ${{{others[0]}}})"))
        elif "/../" in f"/{value}/".replace("\\", "/"):
            found.append((key, "may not climb out of a folder ('..')"))
        elif not any(_within(value, prefix) for prefix in places):
            found.append((key, f"{value!r} is outside {agency.id}'s delivery targets: {', '.join(places)}"))
    return found


def _within(value: str, prefix: str) -> bool:
    """`value` is `prefix` itself (without its trailing slash) or lies under it."""
    if value == prefix or value.rstrip("/") == prefix.rstrip("/"):
        return True
    return value.startswith(prefix if prefix.endswith("/") else prefix + "/")
