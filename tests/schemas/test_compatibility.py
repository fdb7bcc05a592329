"""Confluent compatibility modes over schema versions, with the official avro checker's
verdicts translated into field + rule."""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from govbus.errors import BadConfiguration
from schemas import COMPATIBILITY_MODES, AvroSchema, check_compatibility, load_schema, parse_schema

BASE: list[dict[str, Any]] = [
    {"name": "id", "type": "string"},
    {"name": "n", "type": "int"},
    {"name": "big", "type": "long"},
    {"name": "status", "type": {"type": "enum", "name": "Status", "symbols": ["A", "B"]}},
    {"name": "note", "type": ["null", "string"], "default": None},
    {"name": "kept", "type": "int", "default": 0},
    {"name": "home", "type": {"type": "record", "name": "Home", "fields": [{"name": "zip", "type": "int"}]}},
]


def _record(fields: list[dict[str, Any]], name: str = "Row") -> dict[str, Any]:
    return {"type": "record", "name": name, "namespace": "test", "fields": fields}


def _version(document: dict[str, Any], number: int) -> AvroSchema:
    return dataclasses.replace(parse_schema(document, f"v{number}.avsc"), version=number)


def _changed(change: Callable[[list[dict[str, Any]]], Any]) -> AvroSchema:
    fields = copy.deepcopy(BASE)
    change(fields)
    return _version(_record(fields), 2)


def _field(name: str) -> Callable[[list[dict[str, Any]]], dict[str, Any]]:
    return lambda fields: next(f for f in fields if f["name"] == name)


# change → (backward breaks?, forward breaks?, field named, rule) ; FULL breaks if either does
CHANGES: dict[str, tuple[Callable[[list[dict[str, Any]]], Any], bool, bool, str, str]] = {
    "add field without default": (
        lambda f: f.append({"name": "extra", "type": "int"}),
        True, False, "extra", "reader_field_missing_default_value",
    ),
    "add field with default": (
        lambda f: f.append({"name": "extra", "type": "int", "default": 7}), False, False, "", "",
    ),
    "remove field without default": (
        lambda f: f.remove(_field("n")(f)), False, True, "n", "reader_field_missing_default_value",
    ),
    "remove field with default": (lambda f: f.remove(_field("kept")(f)), False, False, "", ""),
    "change type int to string": (
        lambda f: _field("n")(f).update(type="string"), True, True, "n", "type_mismatch",
    ),
    "widen int to long": (lambda f: _field("n")(f).update(type="long"), False, True, "n", "type_mismatch"),
    "narrow long to int": (
        lambda f: _field("big")(f).update(type="int"), True, False, "big", "type_mismatch",
    ),
    "rename with alias": (
        lambda f: _field("n")(f).update(name="count", aliases=["n"]),
        False, True, "n", "reader_field_missing_default_value",
    ),
    "add enum symbol": (
        lambda f: _field("status")(f)["type"].update(symbols=["A", "B", "C"]),
        False, True, "status", "missing_enum_symbols",
    ),
    "remove enum symbol": (
        lambda f: _field("status")(f)["type"].update(symbols=["A"]),
        True, False, "status", "missing_enum_symbols",
    ),
    "make nullable field required": (
        lambda f: _field("note")(f).update(type="string", default=""), True, False, "note", "type_mismatch",
    ),
    "nested field type": (
        lambda f: _field("home")(f)["type"]["fields"][0].update(type="boolean"),
        True, True, "home.zip", "type_mismatch",
    ),
}  # fmt: skip


def _breaks(mode: str, backward: bool, forward: bool) -> bool:
    if mode == "NONE":
        return False
    if mode.startswith("BACKWARD"):
        return backward
    if mode.startswith("FORWARD"):
        return forward
    return backward or forward


@pytest.mark.parametrize("mode", COMPATIBILITY_MODES)
@pytest.mark.parametrize("change", list(CHANGES))
def test_each_mode_accepts_compatible_and_refuses_breaking_changes(change: str, mode: str) -> None:
    apply, backward, forward, field, rule = CHANGES[change]
    old, new = _version(_record(copy.deepcopy(BASE)), 1), _changed(apply)
    problems = check_compatibility([old, new], mode)
    assert bool(problems) == _breaks(mode, backward, forward), [str(p) for p in problems]
    for problem in problems:
        assert (problem.field, problem.rule, problem.mode) == (field, rule, mode)
        assert problem.source == "v2.avsc"  # the file to fix is the new version
        assert {problem.reader, problem.writer} == {"v1", "v2"}
        assert field.split(".")[-1] in problem.message or field in str(problem)


def test_messages_say_direction_and_rule_in_words() -> None:
    old = _version(_record(copy.deepcopy(BASE)), 1)
    widened = _changed(CHANGES["widen int to long"][0])
    (problem,) = check_compatibility([old, widened], "FORWARD")
    assert (problem.reader, problem.writer) == ("v1", "v2")
    assert "v1 reads int where v2 wrote long" in problem.message
    assert "int→long→float→double" in problem.message
    assert str(problem).startswith("v2.avsc: n: FORWARD: v1 cannot read data written with v2")

    required = _changed(CHANGES["make nullable field required"][0])
    (problem,) = check_compatibility([old, required], "BACKWARD")
    assert "became non-nullable" in problem.message

    more = _changed(CHANGES["add enum symbol"][0])
    (problem,) = check_compatibility([old, more], "FULL")
    assert "symbol(s) C written by v2 are unknown to v1" in problem.message


def test_renamed_record_needs_an_alias_and_fixed_size_and_union_branches_are_named() -> None:
    old = _version(_record([{"name": "h", "type": {"type": "fixed", "name": "H", "size": 4}}]), 1)
    renamed = _version(
        _record([{"name": "h", "type": {"type": "fixed", "name": "H", "size": 4}}], "Other"), 2
    )
    (problem,) = check_compatibility([old, renamed], "BACKWARD")
    assert (problem.field, problem.rule) == ("", "name_mismatch")
    aliased = copy.deepcopy(renamed.document)
    aliased["aliases"] = ["test.Row"]
    assert check_compatibility([old, _version(aliased, 2)], "BACKWARD") == []

    resized = _version(_record([{"name": "h", "type": {"type": "fixed", "name": "H", "size": 8}}]), 2)
    (problem,) = check_compatibility([old, resized], "BACKWARD")
    assert (problem.field, problem.rule) == ("h", "fixed_size_mismatch")
    assert "8 in v2 but 4 in v1" in problem.message

    union_old = _version(_record([{"name": "u", "type": ["null", "int"]}]), 1)
    union_new = _version(_record([{"name": "u", "type": ["null", "boolean"]}]), 2)
    problems = check_compatibility([union_old, union_new], "BACKWARD")
    assert [(p.field, p.rule) for p in problems] == [("u", "missing_union_branch")]
    assert "v1 may write int" in problems[0].message


def _three(fields1: list[Any], fields2: list[Any], fields3: list[Any]) -> list[AvroSchema]:
    return [_version(_record(f), n) for n, f in enumerate((fields1, fields2, fields3), start=1)]


A = {"name": "a", "type": "int"}
B = {"name": "b", "type": "int"}
B_DEFAULT = {"name": "b", "type": "int", "default": 0}


@pytest.mark.parametrize(
    ("versions", "mode"),
    [
        (_three([A], [A, B_DEFAULT], [A, B]), "BACKWARD"),  # v3 cannot read v1 (b missing)
        (_three([A, B], [A, B_DEFAULT], [A]), "FORWARD"),  # v1 cannot read v3 (b missing)
        (_three([A, B], [A, B_DEFAULT], [A]), "FULL"),
    ],
)
def test_transitive_modes_check_every_earlier_version(versions: list[AvroSchema], mode: str) -> None:
    assert check_compatibility(versions, mode) == []
    problems = check_compatibility(versions, f"{mode}_TRANSITIVE")
    assert problems and {(p.field, p.rule) for p in problems} == {("b", "reader_field_missing_default_value")}
    assert "v1" in {problems[0].reader, problems[0].writer}


def test_only_the_newest_version_is_checked_unless_every_version_is_asked() -> None:
    bad_middle = _three([A], [A, B], [A, B])  # v2 broke BACKWARD; v3 is fine against v2
    assert check_compatibility(bad_middle, "BACKWARD") == []
    (problem,) = check_compatibility(bad_middle, "BACKWARD", every_version=True)
    assert (problem.reader, problem.writer, problem.field) == ("v2", "v1", "b")
    assert check_compatibility(bad_middle[:1], "FULL_TRANSITIVE") == []
    assert check_compatibility([], "FULL") == []


def test_an_unknown_mode_is_a_configuration_error() -> None:
    with pytest.raises(BadConfiguration, match="unknown compatibility mode"):
        check_compatibility([], "SIDEWAYS")


def test_the_sample_dataset_is_compatible_with_itself() -> None:
    path = Path(__file__).parents[2] / "catalog/datasets/tax.income/schema/v1.avsc"
    schema = load_schema(path)
    assert check_compatibility([schema, schema], "FULL_TRANSITIVE") == []
