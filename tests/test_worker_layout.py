"""The worker package keeps to its layer: small modules, imports only from the layers below
(base, commands, transport, client, observe) and from itself, and no redis-py (Redis errors
are told apart by queuecore/transport/errors.py's predicates)."""

from __future__ import annotations

import ast
from pathlib import Path

WORKER = Path(__file__).resolve().parent.parent / "queuecore" / "worker"
BELOW = {"base", "commands", "transport", "client", "observe"}


def _modules() -> list[Path]:
    return sorted(WORKER.glob("*.py"))


def _imports(path: Path) -> list[tuple[int, str]]:
    """(level, module) of every import, TYPE_CHECKING ones and those inside functions too."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [(0, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            found.append((node.level, node.module or ""))
    return found


def test_no_module_is_over_400_lines() -> None:
    long = {p.name: n for p in _modules() if (n := len(p.read_text().splitlines())) > 400}
    assert not long


def test_imports_stay_in_the_layers_below() -> None:
    for path in _modules():
        for level, module in _imports(path):
            if level == 2:
                assert module.split(".")[0] in BELOW, (path.name, module)
            assert level in (0, 1, 2), (path.name, level, module)
            if level == 0:
                assert not module.startswith("queuecore"), (path.name, module)


def test_the_worker_does_not_import_redis_py() -> None:
    for path in _modules():
        for level, module in _imports(path):
            assert not (level == 0 and module.split(".")[0] == "redis"), (path.name, module)
