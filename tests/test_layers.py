"""The package's import graph: no loop, and no import that runs upward between layers.

The layers, bottom to top::

    functional -> {metrics, models, datasets} -> {hub, plotting} -> training -> cli

Private root modules (``_validation``, ``_optional``, ...) sit at the bottom. Within the
middle layer, datasets may use metrics (neuron quality), and models use neither.
Every import counts, also those inside functions; only imports under ``if TYPE_CHECKING:``
(annotations, never executed) are left out of the loop check.
"""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

import pytest

import deepSTRF

ROOT = Path(deepSTRF.__file__).parent

# Rank of each top-level part; an import may only go to a part of lower or equal rank,
# and equal rank only within the same part (models and datasets are independent).
RANKS = {
    "_base": 0,
    "functional": 1,
    "metrics": 2,
    "models": 3,
    "datasets": 3,
    "testing": 4,
    "utils": 4,
    "training": 5,
    "estimators": 6,
    "cli": 7,
}
ALLOWED_SIDEWAYS = {("datasets", "metrics")}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def part_of(module: str) -> str:
    parts = module.split(".")
    if len(parts) == 1 or parts[1].startswith("_"):
        return "_base"
    return parts[1]


def imports_of(path: Path) -> set[str]:
    """deepSTRF modules imported by a file (``from pkg import sub`` counts as ``pkg.sub`` when ``sub`` is a module)."""
    module = module_name(path)
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found: set[str] = set()
    tree = ast.parse(path.read_text(encoding="utf-8"))
    typing_only = {
        id(child)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and ast.unparse(node.test) in ("TYPE_CHECKING", "typing.TYPE_CHECKING")
        for child in ast.walk(node)
    }
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("deepSTRF"))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if not target.startswith("deepSTRF"):
                continue
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                found.add(sub if _is_module(sub) else target)
    found.discard(module)
    return found


def _is_module(name: str) -> bool:
    rel = Path(*name.split(".")[1:])
    return (ROOT / rel).with_suffix(".py").is_file() or (ROOT / rel / "__init__.py").is_file()


def import_graph() -> dict[str, set[str]]:
    return {module_name(p): imports_of(p) for p in sorted(ROOT.rglob("*.py"))}


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    bad = []
    for module, targets in graph.items():
        src = part_of(module)
        for target in targets:
            dst = part_of(target)
            if src == dst or (src, dst) in ALLOWED_SIDEWAYS:
                continue
            if RANKS[dst] >= RANKS[src]:
                bad.append(f"{module} ({src}) imports {target} ({dst})")
    return sorted(bad)


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import loop among the modules (ignoring a package's imports of its own submodules' parents)."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in graph:
                continue
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_every_part_has_a_rank():
    parts = {part_of(m) for m in import_graph()}
    assert parts <= set(RANKS), f"unranked parts of the package: {sorted(parts - set(RANKS))}"


def test_no_import_runs_upward():
    assert upward_imports(import_graph()) == []


def test_the_import_graph_has_no_loop():
    assert find_cycle(import_graph()) is None


def test_the_checks_catch_an_upward_import_and_a_loop():
    graph = {"deepSTRF.models.a": {"deepSTRF.training.fit"}, "deepSTRF.training.fit": {"deepSTRF.models.a"}}
    assert upward_imports(graph) == ["deepSTRF.models.a (models) imports deepSTRF.training.fit (training)"]
    assert find_cycle(graph) == ["deepSTRF.models.a", "deepSTRF.training.fit", "deepSTRF.models.a"]
    assert upward_imports({"deepSTRF.models.a": {"deepSTRF.datasets.b"}}) != []


@pytest.mark.parametrize(
    "path",
    ["deepSTRF.models.scales", "deepSTRF.utils.hub", "deepSTRF.models.neural_model", "deepSTRF.models.layers"],
)
def test_the_seeds_public_paths_still_import(path):
    assert importlib.import_module(path) is not None
