"""evalkit's import graph has no cycles, and its layers point one way: the CLI sits on top of the runner, the
runner on top of the controllers, and nothing below reaches back up.

The graph is read with `ast` from the source files, never by importing evalkit, so the test runs in well under a
second and sees every import: top level, inside functions (a lazy import is still a dependency) and under
TYPE_CHECKING. Relative imports are resolved, and `from pkg import name` points at the submodule `pkg.name` when
there is one, else at `pkg`. A parent package's `__init__`, which Python runs on the way to a submodule, is not an
edge (as in grimp / import-linter): `engines/__init__` re-exporting `build_engine` is no circle with the engines.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent / "evalkit"


def _module_name(path: Path, root: Path) -> str:
    parts = ("evalkit",) + path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(tree: ast.AST, module: str, is_package: bool, known: set[str]) -> set[str]:
    """evalkit modules that `module` imports anywhere in its body."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: level 1 is the package this module lives in (a package's own __init__ counts)
                package = module.split(".") if is_package else module.split(".")[:-1]
                base_parts = package[: len(package) - (node.level - 1)]
                base = ".".join(base_parts + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                found.add(sub if sub in known else base)
    # `import evalkit.a.b` names evalkit.a.b; keep the longest known prefix of each name (a name may be an attribute).
    edges = set()
    for name in found:
        parts = name.split(".")
        while parts and ".".join(parts) not in known:
            parts.pop()
        if parts:
            edges.add(".".join(parts))
    edges.discard(module)
    return edges


def import_graph(root: Path = ROOT) -> dict[str, set[str]]:
    files = {_module_name(p, root): p for p in root.rglob("*.py")}
    known = set(files)
    return {
        m: _imports(ast.parse(p.read_text(encoding="utf-8"), str(p)), m, p.name == "__init__.py", known)
        for m, p in sorted(files.items())
    }


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle per strongly connected component, each a path that starts and ends at the same module.

    Every component is reported, so one run of the test shows every circle to break, not just the first.
    """
    return sorted(_cycle_in(graph, component) for component in _components(graph))


def _cycle_in(graph: dict[str, set[str]], component: set[str]) -> list[str]:
    """The shortest way from the component's first module back to itself, staying inside the component."""
    start = min(component)
    chain = path_to({m: graph[m] & component for m in component}, start, {start})
    assert chain is not None  # a strongly connected component of two or more modules has a cycle through each
    return chain


def _components(graph: dict[str, set[str]]) -> list[set[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[set[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    m = stack.pop()
                    on_stack.discard(m)
                    component.add(m)
                    if m == node:
                        break
                if len(component) > 1:
                    found.append(component)
    return found


def path_to(graph: dict[str, set[str]], src: str, targets: set[str]) -> list[str] | None:
    """Shortest import chain from `src` to any of `targets` (breadth first; `src` itself counts only when the
    chain comes back to it, which is how a cycle is found), or None."""
    parent: dict[str, str] = {}
    frontier = [src]
    while frontier:
        later = []
        for m in frontier:
            for n in sorted(graph.get(m, ())):
                if n in targets:
                    chain = [n, m]
                    while chain[-1] != src:
                        chain.append(parent[chain[-1]])
                    return chain[::-1]
                if n not in parent and n != src:
                    parent[n] = m
                    later.append(n)
        frontier = later
    return None


def is_cli(module: str) -> bool:
    """Command-line modules: evalkit.cli (module or package), cli_* / *_cli modules, and `python -m evalkit`."""
    parts = module.split(".")[1:]
    return any(p == "cli" or p.startswith("cli_") or p.endswith("_cli") or p == "__main__" for p in parts)


GRAPH = import_graph()


def test_graph_is_read_from_source():
    # Edges the rules below depend on, so a parser that silently finds nothing fails here first.
    assert len(GRAPH) > 40
    assert "evalkit.types" in GRAPH["evalkit.config"] or "evalkit.errors" in GRAPH["evalkit.config"]
    assert any(is_cli(m) for m in GRAPH["evalkit.__main__"])  # `python -m evalkit` runs the CLI
    lazy = [m for m, deps in GRAPH.items() if {"evalkit.engines.vllm", "evalkit.engines.hf"} <= deps]
    assert lazy, "the engine factory imports its engines lazily: those function-level imports must be edges"


def test_relative_and_submodule_imports_resolve(tmp_path):
    pkg = tmp_path / "evalkit"
    (pkg / "sub").mkdir(parents=True)
    for f in ("__init__.py", "a.py", "sub/__init__.py", "sub/b.py", "sub/c.py"):
        (pkg / f).write_text("")
    (pkg / "sub" / "b.py").write_text("from . import c\nfrom .. import a\nfrom ..sub.c import thing\n")
    (pkg / "sub" / "__init__.py").write_text("from .b import x\n")
    (pkg / "a.py").write_text("def f():\n    from evalkit.sub import b, helper\n    import evalkit.sub.c as cc\n")
    g = import_graph(pkg)
    assert g["evalkit.sub.b"] == {"evalkit.sub.c", "evalkit.a"}
    assert g["evalkit.sub"] == {"evalkit.sub.b"}
    assert g["evalkit.a"] == {"evalkit.sub.b", "evalkit.sub", "evalkit.sub.c"}
    assert find_cycles(g) == [["evalkit.a", "evalkit.sub.b", "evalkit.a"]]
    assert path_to(g, "evalkit.sub", {"evalkit.a"}) == ["evalkit.sub", "evalkit.sub.b", "evalkit.a"]


def test_cli_modules_are_recognised():
    assert all(map(is_cli, ["evalkit.cli", "evalkit.cli_app", "evalkit.offload_cli", "evalkit.grading.rating_cli",
                            "evalkit.cli.options", "evalkit.__main__"]))
    assert not any(map(is_cli, ["evalkit.client", "evalkit.run.runner", "evalkit.engines.http"]))


def test_no_import_cycles():
    tangles = _components(GRAPH)
    assert not tangles, "import cycles: " + "; ".join(
        f"{' -> '.join(_cycle_in(GRAPH, t))} (tangle: {', '.join(sorted(t))})" for t in tangles
    )


LAYER_RULES = [
    # (who, what it must not reach, why)
    ("evalkit.run.", lambda m: is_cli(m), "the runner serves every command; commands import it, not the reverse"),
    ("evalkit.reasoning.", lambda m: is_cli(m) or m == "evalkit.store",
     "controllers decide how a group spends tokens; where rows are stored and which command asked is the runner's"),
]


@pytest.mark.parametrize("prefix,forbidden,why", LAYER_RULES, ids=["run", "reasoning"])
def test_layers(prefix, forbidden, why):
    members = [m for m in GRAPH if m.startswith(prefix) or m == prefix.rstrip(".")]
    assert members, f"no modules under {prefix}: update the rule"
    targets = {m for m in GRAPH if forbidden(m)}
    broken = [chain for m in members if (chain := path_to(GRAPH, m, targets))]
    assert not broken, f"{why}; but: " + "; ".join(" -> ".join(c) for c in broken)
