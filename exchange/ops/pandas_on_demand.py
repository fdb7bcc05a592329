"""pandas in a bus process only when some code there asks for it.

Why: GovBus never uses pandas, yet pyarrow imports it the first time a Python value or a
NumPy array becomes an Arrow value (`pa.scalar`, `pa.array`, a compute call with a
Python argument): it looks for pandas' missing-value markers and categoricals. Each
process that moves data (a stage, a delivery, an Airflow task) paid that import in its
first batch: about 0.3 s of CPU and 40 MiB, a quarter of a 1 M-row delivery in its own
process (bench/exchange_bench.py).

What a caller must know:

* `load_pandas_on_demand()` is called by `Bus.open`, before the bus starts a thread; it
  is idempotent and does nothing when pandas is loaded already. It puts a finder first on
  `sys.meta_path` that refuses pandas only to pyarrow's implicit look-up made on behalf
  of GovBus code: no import statement (nor `importlib.import_module`) asked for it, and
  the nearest Python frame past pyarrow's own is GovBus's. pyarrow takes the refusal as
  "pandas is not installed" and converts as it does without pandas;
* every other import of pandas goes through untouched: `import pandas` anywhere
  (GovBus's code included), `importlib.import_module`, and whatever a connector, a DAG
  or a library of its own does. Once pandas is loaded, pyarrow's pandas support is
  turned back on (its shim looks again) and the finder leaves: a connector that works
  with pandas sees no difference;
* what GovBus code cannot do is let pyarrow import pandas for it: `Table.to_pandas()`
  called from GovBus code fails with a `ModuleNotFoundError` naming this module until
  pandas is imported. GovBus code has no such call (a test keeps it so);
* it leans on pyarrow's private pandas shim (`pyarrow.lib._pandas_api`); with a pyarrow
  that has none, nothing is installed and pandas is imported as before.
"""

from __future__ import annotations

import dis
import importlib.abc
import importlib.machinery
import importlib.util
import logging
import os
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from types import FrameType, ModuleType
from typing import Any

log = logging.getLogger("govbus.exchange")

__all__ = ["GOVBUS_PACKAGES", "load_pandas_on_demand"]

GOVBUS_PACKAGES = ("govbus", "connectors", "schemas", "contracts", "consent", "audit", "exchange", "dags")
"""The top-level packages whose frames count as GovBus's own."""

_IMPORT_NAME = dis.opmap["IMPORT_NAME"]
_lock = threading.Lock()
_installed = False


def load_pandas_on_demand() -> bool:
    """Install the finder (module doc); True when it is in place after this call."""
    global _installed
    with _lock:
        if _installed:
            return _Gate.current is not None
        _installed = True
        if "pandas" in sys.modules:
            return False
        import pyarrow as pa

        shim = getattr(getattr(pa, "lib", None), "_pandas_api", None)
        if shim is None:
            return False
        here = Path(__file__).absolute()
        roots = {here.parent.parent.parent, here.resolve().parent.parent.parent}  # a symlinked checkout
        ours = tuple(f"{root / name}{os.sep}" for root in roots for name in GOVBUS_PACKAGES)
        arrow = Path(pa.__file__).absolute().parent
        gate = _Gate(ours, tuple(f"{path}{os.sep}" for path in {arrow, arrow.resolve()}), shim)
        sys.meta_path.insert(0, gate)
        _Gate.current = gate
        try:
            # From here (GovBus's frame), pyarrow's shim looks for pandas once, is refused,
            # and will not take its lock to look again: giving pandas back to it later
            # (`_give_back`) may then run inside an import of pandas it started itself.
            refused = not shim.have_pandas
        except Exception:  # a pyarrow whose shim differs: leave pandas to it
            refused = False
        if not refused:
            gate.leave()
            return False
        return True


class _Gate(importlib.abc.MetaPathFinder):
    """The finder of the module doc."""

    current: _Gate | None = None

    def __init__(self, ours: tuple[str, ...], pyarrow: tuple[str, ...], shim: Any) -> None:
        self._ours = ours
        self._pyarrow = pyarrow
        self._shim = shim

    def leave(self) -> None:
        if self in sys.meta_path:
            sys.meta_path.remove(self)
        if _Gate.current is self:
            _Gate.current = None

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != "pandas":
            return None
        if self._implicit(sys._getframe(1)):
            raise ModuleNotFoundError(
                "pandas is loaded on demand in a bus process (exchange.ops.pandas_on_demand): "
                "GovBus code that needs it imports it (import pandas) before pyarrow's pandas functions",
                name=fullname,
            )
        self.leave()
        spec = importlib.util.find_spec(fullname)  # the other finders, this one gone
        loader = spec.loader if spec is not None else None
        if loader is None or not hasattr(loader, "exec_module"):
            return spec  # anything unusual: let it load as it would have
        load = loader.exec_module
        shim = self._shim

        def exec_module(module: ModuleType) -> None:
            load(module)
            _give_back(shim)

        loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec

    def _implicit(self, frame: FrameType | None) -> bool:
        """Is this look-up pyarrow's own, made for GovBus code? (The nearest frame past the
        import machinery and pyarrow's Python wrappers is GovBus's, and no import statement
        or `importlib.import_module` asked for pandas.)"""
        while frame is not None and frame.f_code.co_filename.startswith("<frozen importlib"):
            frame = frame.f_back
        if frame is None:
            return False
        code = frame.f_code
        if code.co_filename.endswith(f"importlib{os.sep}__init__.py"):
            return False  # importlib.import_module("pandas")
        if 0 <= frame.f_lasti < len(code.co_code) and code.co_code[frame.f_lasti] == _IMPORT_NAME:
            return False  # an import statement
        while frame is not None and frame.f_code.co_filename.startswith(self._pyarrow):
            frame = frame.f_back
        return frame is not None and frame.f_code.co_filename.startswith(self._ours)


def _give_back(shim: Any) -> None:
    """pandas is loaded: pyarrow's shim looks for it again (its `compat` property does)."""
    try:
        shim.compat  # noqa: B018
    except Exception:  # pragma: no cover - a pandas this pyarrow does not accept
        log.debug("pandas: pyarrow does not take the pandas loaded", exc_info=True)
