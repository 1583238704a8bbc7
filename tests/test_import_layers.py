"""The core's imports go one way: no runtime import cycle between its modules (imports
inside functions count: they run too; ``if TYPE_CHECKING:`` imports do not), no module
imports another module's private (``_name``) objects, no module imports a subpackage of a
higher layer than its own (:data:`LAYERS`), and every import inside a function says why it
is there (a comment on its line or the line above)."""

from __future__ import annotations

import ast
from collections.abc import Mapping
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "benchmark" / "genrebench"

#: The core's layers, lowest first; a module may import its own layer and those below it.
#: ``api`` is every top-level module but ``testing`` (the public plugin API and the
#: toolkits plugins use), each other name a subpackage, or the test kit ``testing``, which
#: drives the whole harness.  docs/development/architecture.md shows the same order.
LAYERS = (
    "api",
    "evaluation",
    "datasets",
    "builtin",
    "registry",
    "results",
    "features",
    "run",
    "reporting",
    "cli",
    "testing",
)


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


def layer_of(module: str) -> str:
    """The layer of a module of the core (see :data:`LAYERS`): its subpackage, ``testing``,
    or ``api`` for the package itself and its other top-level modules."""
    parts = module.split(".")
    if len(parts) == 1:
        return "api"
    if len(parts) == 2 and parts[1] not in LAYERS:
        return "api"  # a top-level module (a subpackage's own __init__ is its layer's)
    return parts[1]


def upward_imports(edges: Mapping[str, set[str]], order: tuple[str, ...] = LAYERS) -> list[str]:
    """``importer -> imported`` for every import of a module of a higher layer."""
    rank = {name: n for n, name in enumerate(order)}
    return sorted(
        f"{module} ({layer_of(module)}) -> {other} ({layer_of(other)})"
        for module, imported in edges.items()
        for other in imported
        if rank[layer_of(other)] > rank[layer_of(module)]
    )


def unexplained_function_imports(source: str, name: str = "<module>") -> list[str]:
    """Every import inside a function (at any depth) that does not say why it is there: a
    comment on its first line, or on the line above it or above the run of import
    statements it closes (one comment may explain a group of imports)."""
    lines = source.splitlines()
    tree = ast.parse(source)
    ends = {  # last line of an import statement -> its first line
        node.end_lineno: node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
    }
    found = []

    def explained(node: ast.Import | ast.ImportFrom) -> bool:
        if "#" in lines[node.lineno - 1]:
            return True
        above = node.lineno - 1
        while above in ends:  # climb over the imports right above this one
            above = ends[above] - 1
        return above > 0 and lines[above - 1].strip().startswith("#")

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            is_import = isinstance(child, ast.Import | ast.ImportFrom)
            if in_function and is_import and not explained(child):
                found.append(f"{name}:{child.lineno}: {ast.unparse(child)}")
            function = isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
            visit(child, in_function or function)

    visit(tree, False)
    return found


# --------------------------------------------------------------------------- the core
def test_the_core_is_found():
    sources, _ = core_sources()
    assert {"genrebench", "genrebench.run.runner", "genrebench.builtin.reference"} <= set(sources)


def test_no_runtime_import_cycle_in_the_core():
    sources, packages = core_sources()
    edges, _ = graph_of(sources, packages)
    assert cycles(edges) == []


def test_every_subpackage_has_a_layer_and_says_what_it_owns():
    subpackages = {p.parent.name for p in PACKAGE.glob("*/__init__.py")}
    assert subpackages and subpackages <= set(LAYERS), subpackages - set(LAYERS)
    for sub in subpackages:
        assert ast.get_docstring(ast.parse((PACKAGE / sub / "__init__.py").read_text())), sub


def test_no_import_goes_up_the_layers():
    sources, packages = core_sources()
    edges, _ = graph_of(sources, packages)
    assert upward_imports(edges) == []


def test_every_function_level_import_in_the_core_says_why():
    sources, _ = core_sources()
    found = [line for m, s in sources.items() for line in unexplained_function_imports(s, m)]
    assert found == []


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


def test_an_import_up_the_layers_is_found():
    sources = {
        "genrebench": "from genrebench.specs import Spec\n",
        "genrebench.specs": "class Spec: ...\n",
        "genrebench.evaluation": '"""metrics"""\n',
        "genrebench.evaluation.metrics": "from genrebench import specs\n",
        # upward: results is above evaluation, though no cycle is formed
        "genrebench.evaluation.calibration": "def f():\n    from genrebench.results import io\n",
        "genrebench.results.io": "from genrebench.evaluation import metrics\n",
        "genrebench.testing": "from genrebench.cli import main\n",
        "genrebench.cli": "from genrebench.run import session\n",
        "genrebench.run.session": "import genrebench.results.io\n",
    }
    edges, _ = graph_of(sources, {"genrebench", "genrebench.evaluation", "genrebench.cli"})
    assert cycles(edges) == []
    assert upward_imports(edges) == [
        "genrebench.evaluation.calibration (evaluation) -> genrebench.results.io (results)"
    ]
    # and in the other direction every import above is allowed
    assert upward_imports(edges, tuple(reversed(LAYERS))) != []


def test_layer_of_names_top_level_modules_api():
    assert layer_of("genrebench") == "api"
    assert layer_of("genrebench.training") == "api"
    assert layer_of("genrebench.testing") == "testing"
    assert layer_of("genrebench.run") == "run"
    assert layer_of("genrebench.run.stages") == "run"
    assert layer_of("genrebench.datasets.loaders.base") == "datasets"


@pytest.mark.parametrize(
    ("source", "found"),
    [
        ("import os\ndef f():\n    import json\n", 1),
        ("def f():\n    import json  # lazy: json is slow\n", 0),
        ("def f():\n    # lazy: json is slow\n    import json\n", 0),
        ("class A:\n    def f(self):\n        def g():\n            from a import b\n", 1),
        ("def f():\n    x = 1  # a comment two lines up\n\n    from a import b\n", 1),
        ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import json\n", 0),
        (
            "def f():\n    # lazy: a group\n    import json\n"
            "    from a import (\n        b,\n    )\n    import c\n",
            0,
        ),
        ("def f():\n    import json  # lazy: this one only\n    import c\n", 1),
        ("def f():\n    # lazy: json\n    import json\n\n    import c\n", 1),
    ],
)
def test_an_unexplained_function_level_import_is_found(source, found):
    assert len(unexplained_function_imports(source)) == found
