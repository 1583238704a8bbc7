"""The core's imports go one way: no runtime import cycle between its modules (imports
inside functions count: they run too; ``if TYPE_CHECKING:`` imports do not), and no
module imports another module's private (``_name``) objects."""

from __future__ import annotations

import ast
from collections.abc import Mapping
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "benchmark" / "genrebench"


def module_name(path: Path, package: Path = PACKAGE) -> str:
    parts = [package.name, *path.relative_to(package).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _type_checking(node: ast.If) -> bool:
    return "TYPE_CHECKING" in ast.unparse(node.test)


def imports_of(source: str, name: str, known: set[str], is_package: bool = False):
    """``(imported module, imported name or None, line, private access)`` for every
    runtime import of a module in ``known`` by the module ``name``."""
    found = []
    aliases: dict[str, str] = {}

    def resolve(node: ast.ImportFrom) -> str:
        if not node.level:
            return node.module or ""
        base = name.split(".")
        base = base if is_package else base[:-1]
        base = base[: len(base) - node.level + 1]
        return ".".join(base + ([node.module] if node.module else []))

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _type_checking(child):
                for other in child.orelse:
                    visit(other)
                continue
            if isinstance(child, ast.Import):
                for alias in child.names:
                    if alias.name in known:
                        found.append((alias.name, None, child.lineno))
                        aliases[alias.asname or alias.name] = alias.name
            elif isinstance(child, ast.ImportFrom):
                base = resolve(child)
                for alias in child.names:
                    full = f"{base}.{alias.name}"
                    if full in known:  # a module: from genrebench import outputs
                        found.append((full, None, child.lineno))
                        aliases[alias.asname or alias.name] = full
                    elif base in known:
                        found.append((base, alias.name, child.lineno))
            elif (
                isinstance(child, ast.Attribute)
                and isinstance(child.value, ast.Name)
                and child.value.id in aliases
            ):
                found.append((aliases[child.value.id], child.attr, child.lineno))
            visit(child)

    visit(ast.parse(source))
    return [(m, n, line) for m, n, line in found if m != name]


def graph_of(sources: Mapping[str, str], packages: set[str] = frozenset()):
    """The runtime import graph of ``sources`` (module name -> source) and the private
    names imported across modules (``module: line: imported.name``)."""
    known = set(sources)
    edges: dict[str, set[str]] = {m: set() for m in sources}
    private = []
    for name, source in sources.items():
        for module, imported, line in imports_of(source, name, known, name in packages):
            edges[name].add(module)
            if imported and imported.startswith("_") and not imported.endswith("__"):
                private.append(f"{name}:{line}: {module}.{imported}")
    return edges, private


def cycles(edges: Mapping[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def strong(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            strong(v)
    return found


def core_sources() -> tuple[dict[str, str], set[str]]:
    paths = sorted(PACKAGE.rglob("*.py"))
    sources = {module_name(p): p.read_text(encoding="utf-8") for p in paths}
    packages = {module_name(p) for p in paths if p.name == "__init__.py"}
    return sources, packages


def layers(edges: Mapping[str, set[str]]) -> dict[str, int]:
    """Each module's layer: 0 imports no other module, n imports only layers below n."""
    depth: dict[str, int] = {}

    def of(v: str) -> int:
        if v not in depth:
            depth[v] = 0  # cycles are reported by the test above; stop here
            depth[v] = 1 + max((of(w) for w in edges[v]), default=-1)
        return depth[v]

    return {v: of(v) for v in sorted(edges)}


# --------------------------------------------------------------------------- the core
def test_the_core_is_found():
    sources, _ = core_sources()
    assert {"genrebench", "genrebench.run.runner", "genrebench.builtin.reference"} <= set(sources)


def test_no_runtime_import_cycle_in_the_core():
    sources, packages = core_sources()
    edges, _ = graph_of(sources, packages)
    assert cycles(edges) == []


def test_no_module_imports_another_modules_private_names():
    sources, packages = core_sources()
    _, private = graph_of(sources, packages)
    assert private == []


# --------------------------------------------------------------------------- the checks
def test_a_cycle_through_a_function_level_import_is_found():
    sources = {
        "pkg.a": "from pkg import b\n",
        "pkg.b": "def f():\n    from pkg.c import g\n",
        "pkg.c": "import pkg.a\n",
        "pkg.d": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg import a\n",
    }
    edges, _ = graph_of(sources)
    assert cycles(edges) == [["pkg.a", "pkg.b", "pkg.c"]]
    assert edges["pkg.d"] == set()  # typing-only imports are not runtime imports


@pytest.mark.parametrize(
    "source",
    [
        "from pkg.a import _helper\n",
        "def f():\n    from pkg.a import _helper\n",
        "from pkg import a\nx = a._helper()\n",
        "from . import a\nx = a._helper\n",
    ],
)
def test_a_private_import_across_modules_is_found(source):
    _, private = graph_of({"pkg.a": "def _helper(): ...\n", "pkg.b": source})
    assert private and private[0].startswith("pkg.b:")


def test_layers_put_each_module_above_what_it_imports():
    sources, packages = core_sources()
    edges, _ = graph_of(sources, packages)
    level = layers(edges)
    for module, imported in edges.items():
        assert all(level[module] > level[other] for other in imported), module
