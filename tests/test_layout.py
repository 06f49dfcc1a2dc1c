"""The shape of the code: queuecore's layers import only downwards, nothing imports in a
circle (imports under ``if TYPE_CHECKING:`` included), and no module grows past about 400
lines (Lua aside). docs/architecture.md describes the same layers."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("queuecore", "dashboard")
#: queuecore's subpackages, lowest first: each may import only from those before it.
LAYERS = ("base", "commands", "transport", "client", "observe", "worker", "flows")
MAX_LINES = 400


def modules(package: str) -> Iterator[tuple[str, Path]]:
    for path in sorted((ROOT / package).rglob("*.py")):
        if "migrations" in path.parts:
            continue
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        yield ".".join(parts), path


def _absolute(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    base = module.split(".")
    if not is_package:
        base = base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


@cache
def graph() -> dict[str, set[str]]:
    """Module -> the project modules it imports, every import statement counted (functions
    and ``if TYPE_CHECKING:`` blocks included)."""
    known = {name for package in PACKAGES for name, _ in modules(package)}
    edges: dict[str, set[str]] = {}
    for package in PACKAGES:
        for name, path in modules(package):
            targets: set[str] = set()
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    candidates = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom):
                    target = _absolute(name, path.name == "__init__.py", node)
                    candidates = [target] + [f"{target}.{a.name}" for a in node.names]
                else:
                    continue
                for candidate in candidates:
                    # The deepest project module the import names.
                    while candidate and candidate not in known:
                        candidate = candidate.rpartition(".")[0]
                    if candidate and candidate != name:
                        targets.add(candidate)
            edges[name] = targets
    return edges


def test_no_import_cycles() -> None:
    edges = graph()
    state: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            # A package's __init__ re-exporting its modules is not a cycle through them.
            if node.startswith(nxt + "."):
                continue
            if state.get(nxt) == 1:
                cycles.append([*stack[stack.index(nxt):], nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            visit(node)
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


def _layer(module: str) -> int | None:
    parts = module.split(".")
    if parts[0] != "queuecore" or len(parts) < 2 or parts[1] not in LAYERS:
        return None
    return LAYERS.index(parts[1])


def test_queuecore_layers_import_only_downwards() -> None:
    wrong = []
    for module, targets in graph().items():
        here = _layer(module)
        if here is None:
            continue
        for target in targets:
            there = _layer(target)
            if target == "queuecore":
                wrong.append(f"{module} imports the package root")
            elif there is not None and there > here:
                wrong.append(f"{module} ({LAYERS[here]}) imports {target} ({LAYERS[there]})")
    assert not wrong, "\n".join(sorted(wrong))


def test_every_queuecore_module_is_in_a_layer() -> None:
    loose = [name for name, _ in modules("queuecore")
             if name not in ("queuecore", "queuecore.__main__") and _layer(name) is None]
    assert not loose, loose


#: The worker CLI (``python -m queuecore``), which ``manage.py queuecore_worker`` wraps.
DASHBOARD_MAY_IMPORT = frozenset({"queuecore.worker.cli"})


def test_the_dashboard_uses_queuecore_through_its_public_api() -> None:
    """The dashboard is a client of queuecore: it imports ``queuecore`` itself (the public
    names) and the CLI it wraps, and no ``redis``."""
    wrong = []
    for package in ("dashboard",):
        for name, path in modules(package):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module] if node.module == "queuecore" else [
                        f"{node.module}.{a.name}" for a in node.names]
                else:
                    continue
                for imported in names:
                    if imported.split(".")[0] == "redis" or (
                            imported.startswith("queuecore.")
                            and imported not in DASHBOARD_MAY_IMPORT):
                        wrong.append(f"{name}: {imported}")
    assert not wrong, wrong


def test_no_module_is_over_about_400_lines() -> None:
    long = []
    for package in PACKAGES:
        for name, path in modules(package):
            lines = len(path.read_text(encoding="utf-8").splitlines())
            if lines > MAX_LINES:
                long.append(f"{name}: {lines}")
    assert not long, long
