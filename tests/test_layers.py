"""The import structure of ``simulator/``: no cycles between modules, nothing imports upward.

Every ``import`` in a module counts, at top level or inside a function (a lazy import is still a
dependency). The layers are declared here, lowest first; a module may import from its own layer
or a lower one. Within the model layer the fluoroscopy and the cement do not import each other
(the cement hands the image a volume fraction; the image owns the attenuation).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "simulator"

LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("base", ("simulator.errors", "simulator.units", "simulator.assets", "simulator.inputs")),
    (
        "tables",
        ("simulator.materials", "simulator.metrics", "simulator.releases", "simulator.rubric"),
    ),
    ("anatomy", ("simulator.anatomy",)),
    ("scenario", ("simulator.scenario",)),
    (
        "model",
        (
            "simulator.actions",
            "simulator.needle",
            "simulator.planning",
            "simulator.fluoro",
            "simulator.cement",
            "simulator",  # the package's public API (scenario, phantom, planner)
        ),
    ),
    ("procedure", ("simulator.procedure",)),
    ("scoring", ("simulator.scoring",)),
    ("records", ("simulator.records", "simulator.batch")),
    ("tools", ("simulator.personas", "simulator.preview", "simulator.review", "simulator.sweep")),
    ("ui", ("simulator.ui",)),
    ("entry", ("simulator.bench", "simulator.cli", "simulator.cli_records", "simulator.__main__")),
)
"""Layers, lowest first: a name covers the module and everything under it; the longest
matching name wins (so ``simulator`` alone is the package's ``__init__``)."""

INDEPENDENT = (("simulator.fluoro", "simulator.cement"),)
"""Pairs in one layer that must not import each other, in either direction."""


def module_names() -> dict[str, Path]:
    """Dotted module name → file, for every module of the package."""
    out = {}
    for p in PACKAGE.rglob("*.py"):
        parts = p.relative_to(ROOT).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = p
    return out


def imports_of(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The package modules that module ``name`` imports (anywhere in its body)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*up, *([base] if base else [])])
            targets = [
                f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names
            ]
        else:
            continue
        out.update(t for t in targets if t in known and t != name)
    return out


def graph() -> dict[str, set[str]]:
    known = module_names()
    return {name: imports_of(name, path, known) for name, path in known.items()}


def layer_of(module: str) -> int:
    best, best_len = None, -1
    for i, (_, names) in enumerate(LAYERS):
        for n in names:
            if (module == n or module.startswith(n + ".")) and len(n) > best_len:
                best, best_len = i, len(n)
    if best is None:
        pytest.fail(f"{module} is in no layer: add it to LAYERS in {Path(__file__).name}")
    return best


def find_cycle(g: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a list of modules (first = last), or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(m: str) -> list[str] | None:
        state[m] = 1
        stack.append(m)
        for d in sorted(g[m]):
            if state.get(d) == 1:
                return [*stack[stack.index(d) :], d]
            if d not in state and (c := visit(d)):
                return c
        stack.pop()
        state[m] = 2
        return None

    for m in sorted(g):
        if m not in state and (c := visit(m)):
            return c
    return None


def test_no_import_cycles():
    assert find_cycle(graph()) is None, " → ".join(find_cycle(graph()))


def test_nothing_imports_upward():
    upward = [
        f"{m} ({LAYERS[layer_of(m)][0]}) imports {d} ({LAYERS[layer_of(d)][0]})"
        for m, deps in graph().items()
        for d in sorted(deps)
        if layer_of(d) > layer_of(m)
    ]
    assert upward == []


def test_independent_packages_do_not_import_each_other():
    def under(m: str, p: str) -> bool:
        return m == p or m.startswith(p + ".")

    bad = [
        f"{m} imports {d}"
        for m, deps in graph().items()
        for d in deps
        for a, b in INDEPENDENT
        if (under(m, a) and under(d, b)) or (under(m, b) and under(d, a))
    ]
    assert bad == []


def test_the_checker_sees_cycles_and_upward_imports():
    """The checks above can fail: a made-up graph with a cycle and an upward edge."""
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None
    assert layer_of("simulator.records.log") > layer_of("simulator.scoring.rules")
    assert layer_of("simulator") < layer_of("simulator.procedure")
    g = graph()
    assert "simulator.records.log" in g["simulator.records.verify"]  # edges are seen
    assert "simulator.cement.flow" in g["simulator.cement.injection"]


def test_top_level_stays_small():
    """``simulator/`` keeps about a dozen top-level modules; the rest live in packages."""
    top = sorted(p.stem for p in PACKAGE.glob("*.py") if p.stem not in ("__init__", "__main__"))
    assert len(top) <= 15, top


def test_every_import_of_the_package_resolves():
    """Every ``from simulator… import NAME`` (lazy ones too) names something that exists, so
    that a stale import left in a function cannot hide until it runs."""
    import importlib

    missing = []
    for name, path in module_names().items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.ImportFrom):
                continue
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*up, *([base] if base else [])])
            if base != "simulator" and not base.startswith("simulator."):
                continue
            module = importlib.import_module(base)
            for alias in node.names:
                if hasattr(module, alias.name):
                    continue
                try:
                    importlib.import_module(f"{base}.{alias.name}")
                except ModuleNotFoundError:
                    missing.append(f"{name}: from {base} import {alias.name}")
    assert missing == []
