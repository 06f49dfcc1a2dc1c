"""The documentation's examples run, so they cannot drift."""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from queuecore import Queue
from tests.waiting import wait_for

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


def fenced_blocks(path: Path) -> list[tuple[str, str]]:
    """(language, code) of every ```python and ```sh block, in document order."""
    return re.findall(r"```(python|sh)\n(.*?)```", path.read_text(), re.DOTALL)


def _wait(predicate: Callable[[], object], what: str) -> None:
    wait_for(predicate, what=f"docs/workers.md: {what}")


def _run_cli_example(command: str, cwd: Path, redis_url: str) -> None:
    """Run one `python -m queuecore ...` line of the docs for real: a worker is fed jobs, then
    stopped with SIGTERM while a job is active, and must finish that job and exit 0."""
    argv = shlex.split(command)
    assert argv[:3] == ["python", "-m", "queuecore"], command
    argv[0] = sys.executable
    env = {**os.environ, "QUEUECORE_REDIS_URL": redis_url}
    queue_name = argv[argv.index("--queue") + 1]
    if argv[3] == "health":
        done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True,
                              timeout=30, check=False)
        assert done.returncode == 0, done.stderr
        report = json.loads(done.stdout)
        assert report["ok"] is True and report["queue"] == queue_name
        return
    assert argv[3] == "worker", f"docs/workers.md: no test runs {command!r}"
    with Queue(queue_name, redis_url) as queue:
        quick = [queue.add("welcome", {"to": f"cli{i}@example.com"}) for i in range(3)]
        slow = queue.add("welcome", {"to": "slow@example.com", "seconds": 1.0})
        proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        try:
            _wait(lambda: queue.get_job_state(slow.id) == "active", "the slow job's start")
            proc.send_signal(signal.SIGTERM)
            _, err = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
        assert proc.returncode == 0, err
        assert "worker stopped" in err
        assert queue.get_job_state(slow.id) == "completed"  # drained, not abandoned
        for job in quick:
            stored = queue.get_job(job.id)
            assert stored is not None and stored.return_value == {"sent_to": job.data["to"]}


def test_workers_examples_run_in_order(redis_url: str, tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """docs/workers.md: the CLI (worker, --processes, health, drained by SIGTERM),
    processes=, WorkerPool and the health check."""
    path = ROOT / "docs" / "workers.md"
    namespace: dict[str, object] = {"REDIS_URL": redis_url}
    monkeypatch.syspath_prepend(str(tmp_path))
    ran = {"python": 0, "file": 0, "cli": 0}
    try:
        for language, block in fenced_blocks(path):
            first_line = block.splitlines()[0]
            if language == "python" and first_line.startswith("# file: "):
                (tmp_path / first_line.removeprefix("# file: ").strip()).write_text(block)
                ran["file"] += 1
            elif language == "python":
                exec(compile(block, str(path.relative_to(ROOT)), "exec"), namespace)
                ran["python"] += 1
            else:
                for line in block.splitlines():
                    if line.startswith("python -m queuecore"):
                        _run_cli_example(line, tmp_path, redis_url)
                        ran["cli"] += 1
    finally:
        sys.modules.pop("tasks", None)
    assert ran == {"python": 3, "file": 1, "cli": 3}


def test_readme_opens_with_the_two_commands() -> None:
    lines = (ROOT / "README.md").read_text().splitlines()
    commands = [line.strip() for line in lines[:6] if line.startswith("    make ")]
    assert [c.split()[:2] for c in commands] == [["make", "demo"], ["make", "test"]]
