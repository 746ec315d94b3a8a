"""The import graph of python/glmmx (every import, also those inside functions) has no
circles, and each folder imports only the folders below it (issue #10).

Layers, bottom to top; a module may import its own folder and the layers below:

    exceptions, checks, _core, datasets      the bottom
    formula                                  lme4's formula language, no data
    design                                   formula + data → model matrices
    inference                                degrees of freedom, tests
    report                                   printing, summaries, plots, progress
    batch                                    many refits on the cores (no result class)
    results                                  fitted models
    models                                   the fitting functions
    demo, __main__, glmmx (the package)      the top
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "python" / "glmmx"

LAYERS = [
    {"exceptions", "checks", "_core", "datasets"},
    {"formula"},
    {"design"},
    {"inference"},
    {"report"},
    {"batch"},
    {"results"},
    {"models"},
    {"demo", "__main__", ""},
]


def module_name(path: Path, root: Path = PACKAGE) -> str:
    parts = ["glmmx", *path.relative_to(root).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path, name: str, modules: set[str]) -> set[str]:
    """Every glmmx module `path` imports, at any depth of its code (relative imports resolved;
    ``from glmmx.x import y`` imports the module ``glmmx.x.y`` when there is one, else a name
    of ``glmmx.x``)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "glmmx"}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "glmmx":
                continue
            for a in node.names:
                found.add(f"{target}.{a.name}" if f"{target}.{a.name}" in modules else target)
    return found


def graph(root: Path = PACKAGE) -> dict[str, set[str]]:
    files = {module_name(p, root): p for p in root.rglob("*.py")}
    known = set(files) | {"glmmx._core"}
    return {name: {m for m in imports(path, name, known) if m in known and m != name} for name, path in files.items()}


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One circle of imports, as the list of modules round it, or None."""
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == "open":
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        state[node] = "done"
        stack.pop()
        return None

    for node in sorted(edges):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def layer(module: str) -> int:
    top = module.split(".")[1] if "." in module else ""
    return next(i for i, names in enumerate(LAYERS) if top in names)


def test_no_import_circles():
    cycle = find_cycle(graph())
    assert cycle is None, "import circle: " + " -> ".join(cycle)


def test_every_folder_imports_only_folders_below_it():
    wrong = [f"{a} imports {b}" for a, targets in graph().items() for b in targets if layer(b) > layer(a)]
    assert not wrong, "\n".join(wrong)


def test_every_module_has_a_layer():
    for name in graph():
        layer(name)  # StopIteration names a folder missing from LAYERS


def test_a_circle_is_found_and_named(tmp_path):
    """The check itself: a package with an import circle (inside a function) fails it."""
    root = tmp_path / "glmmx"
    (root / "results").mkdir(parents=True)
    (root / "__init__.py").write_text("")
    (root / "results" / "__init__.py").write_text("")
    (root / "results" / "a.py").write_text("from glmmx.results.b import f\n")
    (root / "results" / "b.py").write_text("def f():\n    from glmmx.results import a\n")
    assert find_cycle(graph(root)) == ["glmmx.results.a", "glmmx.results.b", "glmmx.results.a"]


@pytest.mark.parametrize("module", ["glmmx.batch.engine", "glmmx.batch.adapters", "glmmx.batch.cores"])
def test_the_batch_layer_knows_no_result_class(module):
    assert not any(m.startswith(("glmmx.results", "glmmx.models")) for m in graph()[module])
