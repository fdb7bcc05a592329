"""What changed between two versions of a contract, and whom each change breaks.

`diff_contracts(old, new, old_schema, new_schema)` lists `Change`s, each from one side:

* **consumer** — a subscriber relying on the old promise: a field removed or renamed,
  a schema change old readers cannot read (the official checker, new data read by the
  old schema), a rule dropped or loosened (a guarantee lost: `value_set` grown, range
  widened, `not_null` removed), a field reclassified to a more protected class (it may
  no longer be delivered under the subscriber's purpose), a weaker compatibility mode,
  a slower freshness SLA;
* **producer** — the agency whose data must now pass: a new required field, a schema
  change the new version cannot read old data through, a new or tightened rule (range
  narrowed, `value_set` shrunk, new not-null), a decimal narrowed, a faster SLA;
* **both** — the key fields, the subject field or the id changed; a regex or another
  parameter changed in a way that cannot be ordered (tighter or looser).

`breaking` is false only for changes nobody relies on (a field added with a default,
a tag, a field made *less* protected — listed for the privacy review).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from contracts.model import CLASSIFICATIONS, Contract, Expectation
from schemas import AvroSchema, reader_problems

CONSUMER, PRODUCER, BOTH, NOBODY = "consumer", "producer", "both", "-"
_GUARANTEES = {
    "NONE": set(),
    "BACKWARD": {"B"},
    "BACKWARD_TRANSITIVE": {"B", "BT"},
    "FORWARD": {"F"},
    "FORWARD_TRANSITIVE": {"F", "FT"},
    "FULL": {"B", "F"},
    "FULL_TRANSITIVE": {"B", "BT", "F", "FT"},
}
_COLUMN_KWARGS = ("column", "column_list", "column_A", "column_B")


@dataclass(frozen=True)
class Change:
    """One difference: who it breaks (`side`), what kind, on which field, in words."""

    side: str
    kind: str
    field: str
    message: str
    breaking: bool


def diff_contracts(
    old: Contract,
    new: Contract,
    old_schema: AvroSchema | None = None,
    new_schema: AvroSchema | None = None,
) -> list[Change]:
    """Every change from `old` to `new`; pass both schemas to compare the types too."""
    changes: list[Change] = []
    renamed = _renames(old, new_schema)
    changes.extend(_fields(old, new, renamed))
    if old_schema is not None and new_schema is not None:
        gone = set(old.fields) - set(new.fields)
        changes.extend(_schemas(old_schema, new_schema, gone))
    changes.extend(_identity(old, new))
    changes.extend(_expectations(old.expectations, new.expectations))
    changes.extend(_sla(old, new))
    if any(c.breaking for c in changes) and _major(new.version) <= _major(old.version):
        changes.append(
            Change(
                BOTH,
                "version",
                "version",
                f"breaking changes need a new major version ({old.version} → {new.version})",
                True,
            )
        )
    return changes


def _major(version: str) -> int:
    head = version.split(".", 1)[0]
    return int(head) if head.isdigit() else 0


def _renames(old: Contract, new_schema: AvroSchema | None) -> dict[str, str]:
    """old name → new name, from the new schema's field aliases."""
    if new_schema is None:
        return {}
    found = {}
    for spec in new_schema.parsed["fields"]:
        for alias in spec.get("aliases", ()):
            if alias in old.fields and alias != spec["name"]:
                found[alias] = spec["name"]
    return found


def _fields(old: Contract, new: Contract, renamed: Mapping[str, str]) -> Iterable[Change]:
    for name, spec in old.fields.items():
        if name in renamed and renamed[name] in new.fields and name not in new.fields:
            yield Change(
                CONSUMER,
                "renamed_field",
                name,
                f"renamed to {renamed[name]!r}: consumers asking for {name!r} by name must follow",
                True,
            )
            continue
        if name not in new.fields:
            yield Change(CONSUMER, "removed_field", name, "removed: consumers no longer receive it", True)
            continue
        now = new.fields[name]
        before, after = CLASSIFICATIONS.index(spec.classification), CLASSIFICATIONS.index(now.classification)
        if after > before:
            message = (
                f"reclassified {spec.classification} → {now.classification}: subscriptions whose "
                "purpose does not cover the stricter class stop receiving it"
            )
            yield Change(CONSUMER, "reclassified", name, message, True)
        elif after < before:
            message = f"reclassified {spec.classification} → {now.classification}: less protected (review it)"
            yield Change(NOBODY, "reclassified", name, message, False)
        if set(spec.tags) != set(now.tags):
            tags = f"tags {sorted(spec.tags)} → {sorted(now.tags)}"
            yield Change(NOBODY, "tags", name, tags, False)
        if set(spec.reversible_by) != set(now.reversible_by):
            message = (
                f"reversible_by {sorted(spec.reversible_by)} → {sorted(now.reversible_by)}: "
                "the recipients added now get ciphertext, those removed the clear value"
            )
            yield Change(CONSUMER, "reversible_by", name, message, True)
    for name in new.fields:
        if name not in old.fields and name not in renamed.values():
            yield Change(NOBODY, "added_field", name, "added", False)


def _schemas(old: AvroSchema, new: AvroSchema, gone: set[str]) -> Iterable[Change]:
    for problem in reader_problems(old, new):  # old readers, new data
        top = problem.field.split(".", 1)[0].split("[", 1)[0].split("{", 1)[0]
        if top in gone and problem.rule == "reader_field_missing_default_value":
            continue  # already reported as removed or renamed
        yield Change(CONSUMER, f"schema:{problem.rule}", problem.field, problem.message, True)
    for problem in reader_problems(new, old):  # the new version reading data written before
        kind = problem.rule
        if kind == "reader_field_missing_default_value":
            kind = "new_required_field"
        yield Change(PRODUCER, f"schema:{kind}", problem.field, problem.message, True)
    for name in set(old.field_names) & set(new.field_names):
        yield from _decimal(name, old.field_type(name), new.field_type(name))


def _decimal(name: str, before: Any, after: Any) -> Iterable[Change]:
    def spec(avro_type: Any) -> tuple[int, int] | None:
        if isinstance(avro_type, list):
            avro_type = next((b for b in avro_type if b != "null"), None)
        if isinstance(avro_type, dict) and avro_type.get("logicalType") == "decimal":
            return int(avro_type["precision"]), int(avro_type.get("scale", 0))
        return None

    old, new = spec(before), spec(after)
    if old is None or new is None or old == new:
        return
    if new[1] != old[1]:
        yield Change(BOTH, "narrowed_type", name, f"decimal scale changed {old} → {new}", True)
    elif new[0] < old[0]:
        message = f"decimal narrowed {old} → {new}: values that fitted may not fit now"
        yield Change(PRODUCER, "narrowed_type", name, message, True)
    else:
        yield Change(NOBODY, "widened_type", name, f"decimal widened {old} → {new}", False)


def _identity(old: Contract, new: Contract) -> Iterable[Change]:
    if old.id != new.id:
        yield Change(BOTH, "id", "id", f"dataset id changed {old.id!r} → {new.id!r}", True)
    if old.key_fields != new.key_fields:
        message = f"key {list(old.key_fields)} → {list(new.key_fields)}: upserts and uniqueness change"
        yield Change(BOTH, "key_fields", "key_fields", message, True)
    if old.subject_field != new.subject_field:
        message = f"{old.subject_field!r} → {new.subject_field!r}: consent, pseudonyms and receipts change"
        yield Change(BOTH, "subject_field", "subject_field", message, True)
    if old.cursor_field != new.cursor_field:
        message = f"{old.cursor_field!r} → {new.cursor_field!r}: incremental reads restart"
        yield Change(PRODUCER, "cursor_field", "cursor_field", message, True)
    if old.owner != new.owner:
        yield Change(NOBODY, "owner", "owner", f"owner {old.owner!r} → {new.owner!r}", False)
    before, after = _GUARANTEES[old.compatibility], _GUARANTEES[new.compatibility]
    if before != after:
        text = f"{old.compatibility} → {new.compatibility}"
        if after > before:
            yield Change(NOBODY, "compatibility", "compatibility", f"{text}: stricter evolution", False)
        else:
            message = f"{text}: consumers lose a guarantee about future versions"
            yield Change(CONSUMER, "compatibility", "compatibility", message, True)


def _key(expectation: Expectation) -> tuple[str, tuple[str, ...]]:
    columns: list[str] = []
    for name in _COLUMN_KWARGS:
        value = expectation.kwargs.get(name)
        columns.extend(value if isinstance(value, list) else [value] if value else [])
    return expectation.type, tuple(columns)


def _expectations(old: Iterable[Expectation], new: Iterable[Expectation]) -> Iterable[Change]:
    pending: dict[tuple[str, tuple[str, ...]], list[Expectation]] = {}
    for expectation in old:
        pending.setdefault(_key(expectation), []).append(expectation)
    for expectation in new:
        key = _key(expectation)
        label = ",".join(key[1])
        if pending.get(key):
            yield from _compare(label, pending[key].pop(0), expectation)
        else:
            yield Change(PRODUCER, "tightened_rule", label, f"new rule {expectation.type}", True)
    for (kind, columns), left in pending.items():
        for _ in left:
            message = f"rule {kind} dropped: consumers lose that guarantee"
            yield Change(CONSUMER, "loosened_rule", ",".join(columns), message, True)


def _compare(label: str, old: Expectation, new: Expectation) -> Iterable[Change]:
    a, b = dict(old.kwargs), dict(new.kwargs)
    a.pop("meta", None)
    b.pop("meta", None)
    if a == b:
        return
    tighter, looser, unordered = [], [], []
    for name in sorted(set(a) | set(b)):
        before, after = a.get(name), b.get(name)
        if before == after or name in _COLUMN_KWARGS:
            continue
        verdict = _order(new.type, name, before, after)
        {"tighter": tighter, "looser": looser}.get(verdict, unordered).append(
            f"{name} {before!r} → {after!r}"
        )
    kind = new.type
    if unordered or (tighter and looser):
        yield Change(BOTH, "changed_rule", label, f"{kind}: {'; '.join(tighter + looser + unordered)}", True)
    elif tighter:
        yield Change(PRODUCER, "tightened_rule", label, f"{kind}: {'; '.join(tighter)}", True)
    elif looser:
        yield Change(CONSUMER, "loosened_rule", label, f"{kind}: {'; '.join(looser)}", True)


def _order(kind: str, name: str, before: Any, after: Any) -> str:
    """'tighter', 'looser' or 'unordered' for one kwarg's change."""
    try:
        if name == "min_value":
            return _compare_bound(before, after, raise_is="tighter")
        if name == "max_value":
            return _compare_bound(before, after, raise_is="looser")
        if name in ("strict_min", "strict_max"):
            return "tighter" if after else "looser"
        if name == "mostly":  # absent means every row must pass
            return "tighter" if _or_one(after) > _or_one(before) else "looser"
        if name == "value_set":
            old_set, new_set = set(map(repr, before or [])), set(map(repr, after or []))
            shrinks = "tighter" if kind.endswith("to_be_in_set") else "looser"
            grows = "looser" if shrinks == "tighter" else "tighter"
            if new_set < old_set:
                return shrinks
            if new_set > old_set:
                return grows
    except TypeError:
        pass
    return "unordered"


def _or_one(value: Any) -> Any:
    return 1 if value is None else value


def _compare_bound(before: Any, after: Any, raise_is: str) -> str:
    lower_is = "looser" if raise_is == "tighter" else "tighter"
    if before is None:  # no bound before: adding one tightens
        return "tighter"
    if after is None:
        return "looser"
    return raise_is if after > before else lower_is


def _sla(old: Contract, new: Contract) -> Iterable[Change]:
    a, b = old.sla, new.sla
    if a.freshness != b.freshness:
        text = f"freshness {a.freshness_text} → {b.freshness_text}"
        if a.freshness is not None and (b.freshness is None or b.freshness > a.freshness):
            yield Change(CONSUMER, "sla", "sla.freshness", f"{text}: data may arrive staler", True)
        else:
            yield Change(PRODUCER, "sla", "sla.freshness", f"{text}: data must arrive sooner", True)
    for name, raise_is in (("min_rows", "tighter"), ("max_rows", "looser")):
        before, after = getattr(a, name), getattr(b, name)
        if before != after:
            order = _compare_bound(before, after, raise_is)
            side = PRODUCER if order == "tighter" else CONSUMER
            yield Change(side, "sla", f"sla.volume.{name}", f"{name} {before} → {after}", True)
    if a.on_breach != b.on_breach:
        side = PRODUCER if b.on_breach == "fail" else CONSUMER
        yield Change(side, "sla", "sla.on_breach", f"on_breach {a.on_breach} → {b.on_breach}", True)
