"""A package's public face that loads each name on first use (PEP 562), for fast start-up.

`govbus --help`, `govbus status` and Airflow parsing the DAG file import the parts'
packages; if each `__init__.py` imported every module behind its names, each of them would
load pyarrow, SQLAlchemy, Alembic, paramiko, httpx, ... whether it uses them or not. A
package instead lists where each public name lives and calls `lazy_face`:

    if TYPE_CHECKING:                      # for type checkers and import-linter
        from audit.ledger.ledger import Ledger
    _LAZY = {"Ledger": ("audit.ledger.ledger", "Ledger")}   # ("pkg.sub", "") for a submodule
    __getattr__, __dir__ = lazy_face(__name__, _LAZY)
    __all__ = ["Ledger"]

What a caller must know: `from audit import Ledger` and `audit.Ledger` work as before and
cost the import of `audit.ledger.ledger` (and what it imports) the first time only. A
submodule is reached as an attribute too (`consent.disclosure`). A public name that is
also the name of one of the package's modules (`exchange.views.audit_report`, the
function in the module of that name) stays the public name when that module is imported
elsewhere, as it did when the package imported it eagerly.
"""

from __future__ import annotations

import importlib
import sys
import types
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_face"]


class _LazyFace(types.ModuleType):
    """A package module whose public names are not overwritten by same-named submodules.

    Importing `pkg.name` makes the import system bind the submodule as `pkg.name`; when
    `name` is a public name of another kind (a function of that module), the binding is
    dropped, so `pkg.name` keeps resolving to the public name.
    """

    _lazy_names: Mapping[str, tuple[str, str]]

    def __setattr__(self, name: str, value: Any) -> None:
        where = self.__dict__.get("_lazy_names", {}).get(name)
        if isinstance(value, types.ModuleType) and where is not None and where[1]:
            if value.__name__ == f"{self.__name__}.{name}":
                return
        super().__setattr__(name, value)


def lazy_face(
    package: str,
    names: Mapping[str, tuple[str, str]],
    *,
    also: Mapping[str, tuple[str, ...]] | None = None,
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """`__getattr__` and `__dir__` for `package`, whose public `names` map to (module, attribute).

    An attribute of "" names the module itself. A name not in `names` is tried as a
    submodule of `package`; otherwise it is an `AttributeError`, as for any module.
    `also[name]` lists modules imported with `name` because they complete it: the modules
    that define tables on a part's `MetaData`, so that whoever reads it (migrations,
    `create_all`) sees every table, as when the package imported everything.
    """
    completing = also or {}
    module = sys.modules[package]
    module.__class__ = _LazyFace
    module.__dict__["_lazy_names"] = names

    def __getattr__(name: str) -> Any:
        if name in names:
            where, attr = names[name]
            value = importlib.import_module(where)
            value = getattr(value, attr) if attr else value
            for extra in completing.get(name, ()):
                importlib.import_module(extra)
        else:
            try:
                value = importlib.import_module(f"{package}.{name}")
            except ModuleNotFoundError as exc:
                if exc.name != f"{package}.{name}":
                    raise
                raise AttributeError(f"module {package!r} has no attribute {name!r}") from None
        module.__dict__[name] = value  # resolved once: later lookups are plain attribute reads
        return value

    def __dir__() -> list[str]:
        return sorted({*module.__dict__, *names})

    return __getattr__, __dir__
