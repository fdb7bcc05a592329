"""A contract's references to other datasets (the referential expectation), linted.

`expect_column_values_to_be_in_dataset_keys` names another dataset of the same catalog.
Its folder must sit next to this contract's (`datasets/<id>/contract.yaml`); its
`key_field`, when given, must be one of that dataset's key fields, and without it that
dataset must have exactly one key field. Only the other contract's `key_fields` are
read (not linted: it is linted on its own), so two contracts may refer to each other.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from contracts.expectations import SUPPORTED_EXPECTATIONS
from contracts.model import Contract, Problem

_CONTRACT = "contract.yaml"


def referenced_key_field(contract: Contract, expectation_kwargs: dict[str, Any]) -> str | None:
    """The key field a referential expectation names, or the referenced dataset's only one."""
    named = expectation_kwargs.get("key_field")
    if named:
        return str(named)
    keys = _key_fields(contract, str(expectation_kwargs.get("dataset")))
    return keys[0] if keys and len(keys) == 1 else None


def check_references(contract: Contract) -> list[Problem]:
    """Problems of the contract's referential expectations (empty: every reference resolves)."""
    if contract.path is None:
        return []
    file = str(contract.path)
    problems: list[Problem] = []
    for index, expectation in enumerate(contract.expectations):
        compiler = SUPPORTED_EXPECTATIONS.get(expectation.type)
        if compiler is None or not compiler.needs_keys:
            continue
        where = f"expectations[{index}].kwargs"
        target = str(expectation.kwargs.get("dataset"))
        keys = _key_fields(contract, target)
        if keys is None:
            message = (
                f"dataset {target!r} is not in the catalog (no datasets/{target}/{_CONTRACT} "
                "next to this contract's folder)"
            )
            problems.append(Problem(file, expectation.line, f"{where}.dataset", message))
            continue
        named = expectation.kwargs.get("key_field")
        if named is not None and named not in keys:
            message = f"{named!r} is not a key field of {target!r} (its key_fields: {', '.join(keys)})"
            problems.append(Problem(file, expectation.line, f"{where}.key_field", message))
        elif named is None and len(keys) != 1:
            message = f"{target!r} has key fields {', '.join(keys) or 'none'}: name one with key_field"
            problems.append(Problem(file, expectation.line, where, message))
    return problems


def _key_fields(contract: Contract, dataset: str) -> list[str] | None:
    """The `key_fields` of `dataset` in the contract's catalog; None when it has no contract."""
    if dataset == contract.id:
        return list(contract.key_fields)
    if contract.path is None or "/" in dataset or dataset in ("", ".", ".."):
        return None
    path = Path(contract.path).parent.parent / dataset / _CONTRACT
    if not path.is_file():
        return None
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return []  # unreadable: its own lint says why; here it has no usable key
    keys = document.get("key_fields") if isinstance(document, dict) else None
    return [k for k in keys if isinstance(k, str)] if isinstance(keys, list) else []
