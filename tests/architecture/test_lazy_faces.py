"""The packages whose public face loads on first use (PEP 562) keep that face whole and light.

Each of these `__init__.py` files lists its public names three times: under
`TYPE_CHECKING` (for type checkers and import-linter), in `_LAZY` (where `__getattr__`
finds each one) and in `__all__`. A name added to one list and forgotten in another
would be a `from audit import X` that fails only at run time, so the three are compared
here, every name is resolved, and importing a part loads none of its modules.
"""

from __future__ import annotations

import ast
import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

LAZY_FACES = (
    "connectors",
    "schemas",
    "contracts",
    "consent",
    "audit",
    "exchange.catalog",
    "exchange.ops",
    "exchange.state",
    "exchange.views",
    "exchange.orchestration",
)


def _type_checking_imports(package: str) -> dict[str, tuple[str, str]]:
    """public name -> (module, attribute) as the `if TYPE_CHECKING:` block imports it."""
    path = REPO / Path(*package.split(".")) / "__init__.py"
    found: dict[str, tuple[str, str]] = {}
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
            for imp in node.body:
                assert isinstance(imp, ast.ImportFrom) and imp.module, ast.dump(imp)
                for alias in imp.names:
                    if imp.module == package:  # `from package import submodule`
                        found[alias.asname or alias.name] = (f"{package}.{alias.name}", "")
                    else:
                        found[alias.asname or alias.name] = (imp.module, alias.name)
    return found


@pytest.mark.parametrize("package", LAZY_FACES)
def test_the_lazy_face_lists_every_public_name_once_and_each_resolves(package: str) -> None:
    module = importlib.import_module(package)
    assert set(module._LAZY) == set(module.__all__)
    assert module._LAZY == _type_checking_imports(package)
    for name, (where, attr) in module._LAZY.items():
        target = importlib.import_module(where)
        assert getattr(module, name) is (getattr(target, attr) if attr else target), name
    with pytest.raises(AttributeError):
        module.no_such_name  # noqa: B018


def test_importing_a_part_loads_none_of_its_modules() -> None:
    script = (
        "import json, sys\n"
        f"parts = {LAZY_FACES!r}\n"
        "for part in parts: __import__(part)\n"
        "print(json.dumps(sorted(m for m in sys.modules if any(m.startswith(p + '.') for p in parts))))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == []  # the packages themselves, none of the modules behind them


TABLES = """
import importlib, json, pkgutil, sys
import audit, consent
from exchange import state

def tables():
    return {name: sorted(m.tables) for name, m in (
        ("consent", consent.CONSENT_METADATA), ("audit", audit.AUDIT_METADATA), ("state", state.METADATA))}

first = tables()  # what migrations and create_all see through the faces
for part in ("connectors", "schemas", "contracts", "audit", "consent", "exchange"):
    for info in pkgutil.walk_packages(importlib.import_module(part).__path__, part + "."):
        if not info.name.endswith("__main__") and ".migrations" not in info.name:
            try:
                importlib.import_module(info.name)
            except Exception:
                pass  # a module that needs a setting to import (the Airflow plugin)
print(json.dumps([first, tables()]))
"""


def test_a_parts_metadata_holds_every_table_however_little_was_imported() -> None:
    """Tables defined beside their code (consent's purges, privacy budget) are on the
    MetaData a migration compares with, though nothing else of the part was imported."""
    done = subprocess.run(
        [sys.executable, "-c", TABLES], cwd=REPO, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr
    through_faces, after_everything = json.loads(done.stdout.strip().splitlines()[-1])
    assert through_faces == after_everything
    assert "privacy_budget_spends" in through_faces["consent"]
