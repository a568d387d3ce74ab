"""The packages of rcstudio form no import cycle (function-level imports included).

`rationale/` is the pure core everyone calls; jobs, clients and W&B code live where I/O lives.
One edge is allowed by design: `spec/` reads the engine declarations - the registry, the seam's
base module and each engine's settings table - to build `[rl]` (docs/architecture.md); those
modules import nothing of `spec/` at run time, so no module cycle exists.
"""

from __future__ import annotations

import ast
from pathlib import Path

import rcstudio

ROOT = Path(rcstudio.__file__).parent
DECLARATIONS = {"rcstudio.engines", "rcstudio.engines.registry", "rcstudio.engines.base"}  # engines/__init__ is a docstring


def _is_declaration(module: str) -> bool:
    return module in DECLARATIONS or (module.startswith("rcstudio.engines.") and module.endswith(".settings"))


def _imports(path: Path) -> list[str]:
    """Modules imported anywhere in `path` except under `if TYPE_CHECKING:`."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
            for n in ast.walk(node)}
    out = []
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out += [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            out += [a.name for a in node.names]
    return [m for m in out if m.startswith("rcstudio.")]


def _graph() -> dict[str, dict[str, list[str]]]:
    """package -> package it imports -> the modules that do."""
    graph: dict[str, dict[str, list[str]]] = {}
    for path in ROOT.rglob("*.py"):
        rel = path.relative_to(ROOT.parent).with_suffix("")
        module = ".".join(rel.parts)
        src = rel.parts[1]
        for target in _imports(path):
            dst = target.split(".")[1]
            if dst == src or (src == "spec" and dst == "engines" and _is_declaration(target)):
                continue
            graph.setdefault(src, {}).setdefault(dst, []).append(module)
    return graph


def _cycle(graph: dict[str, dict[str, list[str]]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in graph.get(node, {}):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in list(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_no_package_import_cycles():
    graph = _graph()
    cycle = _cycle(graph)
    assert cycle is None, " -> ".join(cycle) + ": " + "; ".join(
        f"{a}->{b} in {sorted(set(graph[a][b]))[:3]}" for a, b in zip(cycle, cycle[1:]))


def test_engine_declarations_do_not_import_spec_at_run_time():
    for path in (ROOT / "engines").rglob("*.py"):
        module = ".".join(path.relative_to(ROOT.parent).with_suffix("").parts)
        if _is_declaration(module):
            assert not [m for m in _imports(path) if m.startswith("rcstudio.spec")], module


def test_the_rationale_core_imports_no_io_package():
    for path in (ROOT / "rationale").rglob("*.py"):
        bad = [m for m in _imports(path) if m.split(".")[1] in ("tracking", "launch", "serve", "evals", "engines", "tui")]
        assert not bad, f"{path}: {bad}"
