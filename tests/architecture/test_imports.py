"""The import rules that import-linter cannot say: no cycle anywhere, parts met at their front door.

import-linter (`make lint`, contracts in setup.cfg) keeps the layers one way. Two more
rules hold for the whole project and are checked here on the real import graph
(grimp, the library import-linter is built on; imports inside functions and under
TYPE_CHECKING count, because they are cycles waiting to happen):

* no import cycle between any two modules of the project;
* a part is imported through its `__init__.py` only: `from audit import Ledger`, never
  `from audit.ledger.ledger import Ledger` from another part. The kernel `govbus/` is
  a set of small modules each imported by name, so it is exempt.
"""

from __future__ import annotations

import grimp
import pytest

PARTS = ("govbus", "connectors", "schemas", "contracts", "consent", "audit", "exchange")
KERNEL = "govbus"


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph(*PARTS, include_external_packages=False, cache_dir=None)


def _cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = 0
    for root in sorted(graph.modules):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.find_modules_directly_imported_by(root))))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.find_modules_directly_imported_by(child)))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
    return found


def test_the_cycle_finder_finds_a_cycle() -> None:
    """The check below can fail: a graph with a planted cycle is reported."""
    planted = grimp.ImportGraph()
    for name in ("a", "a.x", "a.y", "a.z"):
        planted.add_module(name)
    planted.add_import(importer="a.x", imported="a.y")
    planted.add_import(importer="a.y", imported="a.z")
    planted.add_import(importer="a.z", imported="a.x")
    assert _cycles(planted) == [["a.x", "a.y", "a.z"]]


def test_no_import_cycle_anywhere(graph: grimp.ImportGraph) -> None:
    cycles = _cycles(graph)
    assert cycles == [], "import cycles: " + "; ".join(" ↔ ".join(c) for c in cycles)


def _part(module: str) -> str:
    return module.split(".", 1)[0]


def test_parts_are_imported_through_their_init(graph: grimp.ImportGraph) -> None:
    reaching = sorted(
        f"{importer} → {imported}"
        for importer in graph.modules
        for imported in graph.find_modules_directly_imported_by(importer)
        if _part(imported) != _part(importer) and _part(imported) != KERNEL and imported != _part(imported)
    )
    assert reaching == [], "imports past another part's __init__.py:\n" + "\n".join(reaching)


def test_only_the_demo_command_imports_the_sample_deployment(graph: grimp.ImportGraph) -> None:
    """The sample deployment is a demo: no step, room or other command depends on it."""
    importers = {
        importer
        for module in graph.find_descendants("exchange.demo") | {"exchange.demo"}
        for importer in graph.find_modules_that_directly_import(module)
        if importer != "exchange.demo" and not importer.startswith("exchange.demo.")
    }
    assert importers == {"exchange.cli.demo"}
