"""The shape of the package, checked: no import cycle, a current state diagram, one version.

Import cycles are looked for in grimp's graph of ``hyperframes_auth`` (grimp comes with import-linter). The graph
holds every import statement of the package: module-level ones, the lazy ones inside functions that keep the CLI's
start-up fast, and the ones under ``TYPE_CHECKING``. A cycle through any of them counts: a lazy import only moves
the cycle to run time, and a type-only one still ties the two modules' designs together.
"""

from __future__ import annotations

import ast
import importlib.metadata
import importlib.util
import itertools
import re
from pathlib import Path

import grimp

import hyperframes_auth
from hyperframes_auth.domain import machine

PACKAGE = "hyperframes_auth"
ARCHITECTURE_DOC = Path(__file__).resolve().parents[2] / "docs" / "ARCHITECTURE.md"
DIAGRAM = re.compile(r"<!-- machine:begin -->\n```mermaid\n(.*?)```\n<!-- machine:end -->", re.DOTALL)


def import_cycles(graph: grimp.ImportGraph) -> list[tuple[str, ...]]:
    """Every import cycle of ``graph``, as paths ``(a, b, ..., a)``: the shortest through each import, one per set."""
    cycles: dict[frozenset[str], tuple[str, ...]] = {}
    for importer in sorted(graph.modules):
        for imported in sorted(graph.find_modules_directly_imported_by(importer)):
            back = (
                (importer,)
                if imported == importer
                else graph.find_shortest_chain(importer=imported, imported=importer, as_packages=False)
            )
            if back is not None:
                cycle = (importer, *back)
                cycles.setdefault(frozenset(cycle), cycle)
    return sorted(cycles.values())


def describe(graph: grimp.ImportGraph, cycle: tuple[str, ...]) -> str:
    """One line per import of the cycle, with where it is written."""
    lines = []
    for importer, imported in itertools.pairwise(cycle):
        details = graph.get_import_details(importer=importer, imported=imported)
        where = ", ".join(f"line {d['line_number']}: {d['line_contents']}" for d in details)
        lines.append(f"    {importer} -> {imported} ({where})")
    return "\n".join(lines)


def test_the_package_has_no_import_cycle() -> None:
    graph = grimp.build_graph(PACKAGE, cache_dir=None)
    assert len(graph.modules) > 1
    cycles = import_cycles(graph)
    assert not cycles, "import cycles:\n" + "\n\n".join(describe(graph, cycle) for cycle in cycles)


def test_the_cycle_finder_reports_each_cycle_once_and_nothing_else() -> None:
    graph = grimp.ImportGraph()
    for importer, imported in [
        ("p.a", "p.b"),
        ("p.b", "p.c"),
        ("p.c", "p.a"),  # a -> b -> c -> a
        ("p.c", "p.d"),  # d and e hang off the cycle without closing another
        ("p.d", "p.e"),
        ("p.x", "p.y"),
        ("p.y", "p.x"),  # x <-> y
        ("p.s", "p.s"),  # a module importing itself
    ]:
        graph.add_import(importer=importer, imported=imported, line_number=1, line_contents="")

    assert import_cycles(graph) == [("p.a", "p.b", "p.c", "p.a"), ("p.s", "p.s"), ("p.x", "p.y", "p.x")]
    assert import_cycles(grimp.ImportGraph()) == []


def _imports_inside_functions(module: str) -> set[int]:
    """Line numbers of the package-internal imports written inside a function of ``module``."""
    spec = importlib.util.find_spec(module)
    assert spec is not None
    assert spec.origin is not None
    tree = ast.parse(Path(spec.origin).read_text(encoding="utf-8"))
    lines = set()
    for function in ast.walk(tree):
        if isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
            for node in ast.walk(function):
                internal = (
                    isinstance(node, ast.ImportFrom) and (node.level > 0 or (node.module or "").startswith(PACKAGE))
                ) or (isinstance(node, ast.Import) and any(alias.name.startswith(PACKAGE) for alias in node.names))
                if internal:
                    lines.add(node.lineno)
    return lines


def test_the_graph_holds_the_imports_written_inside_functions() -> None:
    # The cycle check above is only as good as the graph: every lazy import the source holds must be in it.
    graph = grimp.build_graph(PACKAGE, cache_dir=None)
    lazy = {(module, line) for module in graph.modules for line in _imports_inside_functions(module)}
    seen = {
        (module, detail["line_number"])
        for module in graph.modules
        for imported in graph.find_modules_directly_imported_by(module)
        for detail in graph.get_import_details(importer=module, imported=imported)
    }
    assert lazy, "the CLI's start-up relies on lazy imports: none were found, so this check checks nothing"
    assert lazy <= seen, f"imports inside functions that the graph misses: {sorted(lazy - seen)}"


def test_the_state_diagram_in_the_architecture_doc_is_the_machine() -> None:
    found = DIAGRAM.findall(ARCHITECTURE_DOC.read_text(encoding="utf-8"))
    assert len(found) == 1, f"{ARCHITECTURE_DOC} needs one ```mermaid block between the machine markers"
    assert found[0] == machine.mermaid(), "the diagram is out of date: run scripts/diagram"


def test_the_installed_version_is_the_package_version() -> None:
    # pyproject.toml reads the version from hyperframes_auth.__version__; an install made before a version change
    # (scripts/setup reinstalls when src/__init__.py changes) would show here.
    assert importlib.metadata.version("hyperframes-auth") == hyperframes_auth.__version__
