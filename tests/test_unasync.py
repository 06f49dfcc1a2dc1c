"""The blocking faces are generated from the asyncio sources (scripts/unasync.py): each
committed generated module is what the generator makes of its source today."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("unasync", ROOT / "scripts" / "unasync.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("unasync", module)
    spec.loader.exec_module(module)
    return module


unasync = _generator()


@pytest.mark.parametrize(("source", "target"), unasync.PAIRS)
def test_generated_module_is_current(source: str, target: str) -> None:
    expected = unasync.unasync((ROOT / source).read_text(), source)
    committed = (ROOT / target).read_text()
    assert committed == expected, (
        f"{target} differs from what {source} generates: run `python scripts/unasync.py`")


def test_generated_modules_say_so_at_the_top() -> None:
    for source, target in unasync.PAIRS:
        assert (ROOT / target).read_text().startswith(
            f"# Generated from {source} by scripts/unasync.py: do not edit.\n")


def test_translation_of_keywords_names_and_face_blocks() -> None:
    source = (
        '"""An ``AsyncQueue`` for asyncio code."""\n'
        "# only in the source  # unasync: async-only\n"
        "async def alist_queues(q: AsyncQueue) -> AsyncJob:\n"
        "    async with q:\n"
        "        return [await x async for x in await q.get_jobs()]\n"
        "    # unasync: async-only\n"
        "    q.enable_autopipeline()\n"
        "    # unasync: sync-only\n"
        "    # q.blocking_only()\n"
        "    # unasync: end\n"
        "    await q.aclose()\n"
        "    return (await q.get(1))[0] + (await q.size() + 1) + f(await q.size())\n"
    )
    assert unasync.unasync(source, "x.py") == unasync.header("x.py") + (
        '"""A ``Queue`` for blocking code."""\n'
        "def list_queues(q: Queue) -> Job:\n"
        "    with q:\n"
        "        return [x for x in q.get_jobs()]\n"
        "    q.blocking_only()\n"
        "    q.close()\n"
        "    return q.get(1)[0] + (q.size() + 1) + f(q.size())\n"
    )


@pytest.mark.parametrize("text", [
    "# unasync: end\n",
    "# unasync: async-only\nx = 1\n",
    "# unasync: sync-only\n# a\n# unasync: sync-only\n",
    "# unasync: sync-only\nnot_a_comment()\n# unasync: end\n",
])
def test_unbalanced_or_wrong_blocks_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match=r"x\.py"):
        unasync.unasync(text, "x.py")
