"""The documentation's examples run, so they cannot drift."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def python_blocks(path: Path) -> list[str]:
    return re.findall(r"```python\n(.*?)```", path.read_text(), re.DOTALL)


def test_quickstart_examples_run_in_order(redis_url: str, capsys) -> None:
    namespace: dict[str, object] = {"REDIS_URL": redis_url}
    blocks = python_blocks(ROOT / "docs" / "quickstart.md")
    assert len(blocks) >= 4
    for block in blocks:
        exec(compile(block, "docs/quickstart.md", "exec"), namespace)
    namespace["queue"].close()  # type: ignore[attr-defined]
    assert "done" in capsys.readouterr().out


def test_features_examples_run_in_order(redis_url: str) -> None:
    namespace: dict[str, object] = {"REDIS_URL": redis_url}
    blocks = python_blocks(ROOT / "docs" / "features.md")
    assert len(blocks) >= 6
    for block in blocks:
        exec(compile(block, "docs/features.md", "exec"), namespace)


def test_readme_opens_with_the_two_commands() -> None:
    lines = (ROOT / "README.md").read_text().splitlines()
    commands = [line.strip() for line in lines[:6] if line.startswith("    make ")]
    assert [c.split()[:2] for c in commands] == [["make", "demo"], ["make", "test"]]
