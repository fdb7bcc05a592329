"""What the DAG file builds its DAGs from, read off the catalog's YAML files alone.

Airflow parses the DAG folder again and again (the DAG processor every refresh, and in
Airflow 3 each task process before it runs its task), so this reader loads only YAML and
the standard library: no pyarrow, SQLAlchemy, connectors, contracts or consent, no
database and no network. It reads each dataset's id, owner, description, cursor field
and SLA freshness; each subscription's id, dataset, recipient, purpose, basis and
schedule (checked by `exchange.catalog.schedules`, as `govbus check` does); and every
other YAML file of the catalog just far enough to know it reads.

What a caller must know: a catalog whose files do not read, or that names an unknown
agency or dataset, raises a `BadConfiguration` naming the file and line (the DAG file
then shows its `govbus_catalog_broken` DAG). Everything else `govbus check` judges
(schemas, expectations, statutes, sinks) is judged when a task opens the bus, which
loads the whole catalog and fails the task with the same message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from exchange.catalog.schedules import frequency, parse_schedule
from govbus.errors import BadConfiguration
from govbus.yamlfile import MarkedDict, load_marked

__all__ = ["DagSpec", "SubscriptionSpec", "dag_specs", "pool_name"]

_HINT = "run `govbus check` for every problem of the catalog"


@dataclass(frozen=True)
class SubscriptionSpec:
    """One deliver task: the subscription and who receives (names only, no settings)."""

    id: str
    recipient: str
    purpose: str
    basis: str


@dataclass(frozen=True)
class DagSpec:
    """What a DAG file needs to build one dataset's DAG, read from the catalog alone."""

    dataset: str
    owner: str
    schedule: str | None
    subscriptions: tuple[SubscriptionSpec, ...]
    description: str
    pool: str  # the source agency's pool: its reads never exceed max_concurrent_reads
    freshness: str | None  # the contract's SLA freshness as written (P2D); None: no freshness task
    after: tuple[str, ...] = ()  # datasets whose commits also trigger this DAG (exchange.catalog.schedules)


def pool_name(agency_id: str) -> str:
    """`govbus_<agency>`; characters other than letters, digits, `_`, `-` and `.` become `_`."""
    return "govbus_" + re.sub(r"[^A-Za-z0-9_.-]", "_", agency_id)


@dataclass(frozen=True)
class _Sub:
    id: str
    dataset: str
    spec: SubscriptionSpec
    schedule: str | None
    after: tuple[str, ...]


def dag_specs(catalog_dir: Path) -> list[DagSpec]:
    """One spec per dataset, in id order; subscriptions in id order (as deliveries run).

    A dataset's schedule is its most frequent subscription's schedule (the catalog
    declares schedules per subscription); None when no subscription names one.
    """
    root = catalog_dir.resolve()
    agencies = _agencies(root)
    for name in ("purposes.yaml", "legal-bases.yaml"):
        if (root / name).is_file():
            _read(root, root / name)  # a file that does not read breaks the catalog
    contracts = sorted(root.glob("datasets/*/contract.yaml"))
    datasets = {path.parent.name: (_shown(root, path), _read(root, path)) for path in contracts}
    subs = sorted(
        (
            s
            for path in sorted(root.glob("subscriptions/*.yaml"))
            for s in _subscriptions(root, path, datasets)
        ),
        key=lambda s: s.id,
    )
    specs = []
    for dataset_id, (file, contract) in sorted(datasets.items()):
        owner = _text(file, contract, "owner")
        if owner not in agencies:
            raise _bad(file, contract, "owner", f"unknown agency {owner!r}")
        mine = [s for s in subs if s.dataset == dataset_id]
        schedules = sorted({s.schedule for s in mine if s.schedule}, key=frequency)
        specs.append(
            DagSpec(
                dataset=dataset_id,
                owner=owner,
                schedule=schedules[0] if schedules else None,
                subscriptions=tuple(s.spec for s in mine),
                description=str(contract.get("description") or ""),
                pool=pool_name(owner),
                freshness=_freshness(contract),
                after=tuple(sorted({d for s in mine for d in s.after})),
            )
        )
    return specs


def _freshness(contract: MarkedDict) -> str | None:
    """The SLA freshness as written, when the DAG judges it (it needs a cursor field)."""
    sla = contract.get("sla")
    text = sla.get("freshness") if isinstance(sla, dict) else None
    return text if isinstance(text, str) and contract.get("cursor_field") is not None else None


def _agencies(root: Path) -> set[str]:
    path = root / "agencies.yaml"
    if not path.is_file():
        raise BadConfiguration("not a catalog: agencies.yaml is missing", where=str(root), hint=_HINT)
    data = _read(root, path)
    members = data.get("members")
    if not isinstance(members, list):
        raise _bad(_shown(root, path), data, "members", "must be a list of agencies")
    return {m.get("id") for m in members if isinstance(m, dict) and isinstance(m.get("id"), str)}


def _subscriptions(root: Path, path: Path, datasets: dict[str, Any]) -> list[_Sub]:
    file, data = _shown(root, path), _read(root, path)
    agency = _text(file, data, "agency")
    items = data.get("subscriptions")
    if not isinstance(items, list) or not all(isinstance(item, MarkedDict) for item in items):
        raise _bad(file, data, "subscriptions", "must be a list of mappings")
    found = []
    for item in items:
        sub_id, dataset = _text(file, item, "id"), _text(file, item, "dataset")
        if dataset not in datasets:
            raise _bad(file, item, "dataset", f"unknown dataset {dataset!r}")
        basis = item.get("basis")
        statute = basis.get("statute") if isinstance(basis, dict) else None
        if basis != "consent" and not isinstance(statute, str):
            raise _bad(file, item, "basis", "must be `consent` or `{statute: ID}`")

        def bad(key: str, message: str, item: MarkedDict = item) -> None:
            raise _bad(file, item, key, message)

        schedule, after = parse_schedule(item.get("schedule"), datasets, bad)
        if dataset in after:
            bad("schedule", "after: a dataset cannot wait for itself")
        basis_name = f"statute:{statute}" if statute else "consent"
        spec = SubscriptionSpec(sub_id, agency, _text(file, item, "purpose"), basis_name)
        found.append(_Sub(sub_id, dataset, spec, schedule, after))
    return found


def _shown(root: Path, path: Path) -> str:
    """A catalog file as problems name it (relative to the catalog's parent, as `govbus check`)."""
    return str(path.relative_to(root.parent))


def _read(root: Path, path: Path) -> MarkedDict:
    """One YAML file; a file that does not read raises its own error (file:line, what to do)."""
    shown = _shown(root, path)
    data = load_marked(path, shown_as=shown)
    if not isinstance(data, MarkedDict):
        raise BadConfiguration("the top level must be a mapping", where=shown, hint=_HINT)
    return data


def _text(file: str, item: MarkedDict, key: str) -> str:
    value = item.get(key)
    if not isinstance(value, str) or not value:
        raise _bad(file, item, key, "missing, or not a text")
    return value


def _bad(file: str, item: MarkedDict, key: str, message: str) -> BadConfiguration:
    return BadConfiguration(f"{key}: {message}", where=f"{file}:{item.line_of(key)}", hint=_HINT)
