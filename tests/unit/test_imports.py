"""The import contract of src/mmrwe: no cycles anywhere, and the layers of docs/architecture.md.

Every import counts, also those inside functions and under ``TYPE_CHECKING``: a cycle that
only a function call closes is still a cycle (and a layering leak).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"
ROOT = "mmrwe"


def _modules() -> dict[str, Path]:
    out = {}
    for p in (SRC / ROOT).rglob("*.py"):
        parts = list(p.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = p
    return out


MODULES = _modules()


def _imports(name: str, path: Path) -> set[str]:
    """mmrwe modules imported by one module (resolved to modules, not names)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*up, base] if base else up)
            for a in node.names:
                sub = f"{base}.{a.name}"
                found.add(sub if sub in MODULES else base)
    return {m for m in found if m == ROOT or m.startswith(ROOT + ".")}


GRAPH = {name: {m for m in _imports(name, p) if m in MODULES} for name, p in MODULES.items()}


def _cycles() -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), and self-imports."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(GRAPH[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1 or v in GRAPH[v]:
                out.append(sorted(comp))

    for v in sorted(GRAPH):
        if v not in index:
            visit(v)
    return out


def _package(module: str) -> str:
    parts = module.split(".")
    return ".".join(parts[:2]) if len(parts) > 1 else parts[0]


def test_no_import_cycle_anywhere() -> None:
    assert _cycles() == []


# ``python -m mmrwe`` runs the command line: the one module besides cli/ that may import it
ENTRY = "mmrwe.__main__"


def test_nothing_outside_cli_imports_cli() -> None:
    bad = sorted(
        (a, b)
        for a, deps in GRAPH.items()
        for b in deps
        if _package(b) == "mmrwe.cli" and _package(a) != "mmrwe.cli" and a != ENTRY
    )
    assert bad == []
    assert GRAPH[ENTRY] <= {"mmrwe.cli.main"}  # the entry point does nothing else


# Which packages each layer may import (besides itself and the packages listed for core).
STAGES = ("mmrwe.engine", "mmrwe.io", "mmrwe.validate", "mmrwe.derive", "mmrwe.stats")
ALLOWED = {
    "mmrwe": {"mmrwe.core", "mmrwe.study", "mmrwe.results"},
    "mmrwe.core": set(),
    "mmrwe.spec": {"mmrwe.core"},
    "mmrwe.results": {"mmrwe.core"},
    "mmrwe.stats": {"mmrwe.core"},
    "mmrwe.engine": {"mmrwe.core", "mmrwe.spec"},
    "mmrwe.io": {"mmrwe.core", "mmrwe.spec"},
    "mmrwe.validate": {"mmrwe.core", "mmrwe.spec"},
    "mmrwe.derive": {"mmrwe.core", "mmrwe.spec"},
    "mmrwe.tables": {"mmrwe.core", "mmrwe.results"},
    "mmrwe.figures": {"mmrwe.core", "mmrwe.results", "mmrwe.tables"},
    "mmrwe.report": {"mmrwe.core", "mmrwe.results", "mmrwe.tables", "mmrwe.figures"},
    # study may use a renderer-free part of tables (published_comparison looks numbers up in
    # the results) without importing report, which loads matplotlib and python-docx
    "mmrwe.study": {
        "mmrwe.core",
        "mmrwe.spec",
        "mmrwe.results",
        "mmrwe.report",
        "mmrwe.tables",
        *STAGES,
    },
    "mmrwe.cli": {"mmrwe.core", "mmrwe.spec", "mmrwe.results", "mmrwe.study"},
    "mmrwe.data": set(),
    ENTRY: {"mmrwe.cli"},
}


def test_layers() -> None:
    bad = []
    for a, deps in GRAPH.items():
        pa = _package(a)
        allowed = ALLOWED[pa] | {pa}
        bad += [(a, b) for b in sorted(deps) if _package(b) not in allowed]
    assert bad == []


PURE = ("mmrwe.stats", "mmrwe.core", "mmrwe.results", "mmrwe.spec")
HEAVY = ("matplotlib", "docx", "jinja2", "ibis", "duckdb", "pyspark", "typer", "rich")


@pytest.mark.parametrize("layer", PURE)
def test_pure_layers_import_no_engine_or_renderer(layer: str) -> None:
    bad = []
    for name, path in MODULES.items():
        if _package(name) != layer:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            bad += [(name, n) for n in names if n.split(".")[0] in HEAVY]
    assert bad == []


def test_every_package_has_a_layer() -> None:
    assert {_package(m) for m in MODULES} <= set(ALLOWED)
