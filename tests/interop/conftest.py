"""Fixtures for the interop tests: drive the real peers.

``node_peer``: Node bullmq 6.x (tests/peers/node_peer.mjs); ``py_peer``: Python bullmq 3.4.x
(tests/peers/python/py_peer.py, in its own venv made by tests/peers/python/setup.sh). Both read
one JSON scenario on stdin and write one JSON result on stdout. `make test` installs both
(`make peers`); a missing peer fails its tests with the command that installs it.
"""

from __future__ import annotations

import asyncio
import base64
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

pytest.register_assert_rewrite("tests.interop.scenarios")

PEERS_DIR = Path(__file__).resolve().parent.parent / "peers"
PEER_SCRIPT = PEERS_DIR / "node_peer.mjs"
PY_PEER_DIR = PEERS_DIR / "python"
PY_PEER_SCRIPT = PY_PEER_DIR / "py_peer.py"
PY_PEER_PYTHON = PY_PEER_DIR / ".venv" / "bin" / "python"
DEFAULT_TIMEOUT = 30.0


def _missing_reason() -> str | None:
    node = shutil.which("node")
    if node is None:
        return "node is not installed"
    if not (PEERS_DIR / "node_modules" / "bullmq").is_dir():
        return f"{PEERS_DIR}/node_modules is missing (run `npm ci` in tests/peers)"
    return None


def _py_missing_reason() -> str | None:
    if not PY_PEER_PYTHON.exists():
        return (f"{PY_PEER_DIR}/.venv is missing "
                "(run `bash tests/peers/python/setup.sh` or `make peers-python`)")
    return None


def node_worker_client_name(queue: str, worker_name: str | None = None) -> str:
    """Node bullmq's (and queuecore's) worker client name: the queue name in base64."""
    base = "bull:" + base64.b64encode(queue.encode()).decode()
    return f"{base}:w:{worker_name}" if worker_name else base


class Peer:
    """Runs one scenario through a peer program and returns its parsed JSON result.

    ``peer({"queue": "q", "actions": [...]})`` blocks; ``await peer.arun({...})`` does the same
    without blocking the event loop (use it while a queuecore Worker runs in the same loop);
    ``await peer.spawn({...})`` starts it and returns the running process (to kill it).
    ``redis`` and ``prefix`` are filled in when the scenario does not give them.
    """

    kind = "peer"
    label = "peer"

    def __init__(self, argv: list[str], cwd: Path, redis_url: str) -> None:
        self.argv = argv
        self.cwd = cwd
        self.redis_url = redis_url

    def worker_client_name(self, queue: str, worker_name: str | None = None) -> str:
        """The CLIENT SETNAME of this peer's worker (what getWorkers lists)."""
        raise NotImplementedError

    def _input(self, scenario: dict[str, Any]) -> bytes:
        full = {"redis": self.redis_url, "prefix": "bull", **scenario}
        return json.dumps(full).encode()

    def _parse(self, scenario: dict[str, Any], rc: int | None, out: bytes,
               err: bytes) -> dict[str, Any]:
        stdout = out.decode(errors="replace")
        stderr = err.decode(errors="replace")
        try:
            result = json.loads(stdout.strip().splitlines()[-1]) if stdout.strip() else None
        except json.JSONDecodeError:
            result = None
        if rc != 0 or not isinstance(result, dict) or "error" in result:
            pytest.fail(
                f"{self.label} peer failed (exit {rc}) on scenario {json.dumps(scenario)}\n"
                f"--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}",
                pytrace=False,
            )
        return result

    def __call__(self, scenario: dict[str, Any], timeout: float = DEFAULT_TIMEOUT
                 ) -> dict[str, Any]:
        try:
            proc = subprocess.run(
                self.argv, input=self._input(scenario), capture_output=True,
                cwd=self.cwd, timeout=timeout, check=False,
            )
        except subprocess.TimeoutExpired as exc:
            pytest.fail(f"{self.label} peer timed out after {timeout}s on {json.dumps(scenario)}\n"
                        f"--- stderr ---\n{(exc.stderr or b'').decode(errors='replace')}",
                        pytrace=False)
        return self._parse(scenario, proc.returncode, proc.stdout, proc.stderr)

    async def arun(self, scenario: dict[str, Any], timeout: float = DEFAULT_TIMEOUT
                   ) -> dict[str, Any]:
        proc = await self.spawn(scenario)
        try:
            out, err = await asyncio.wait_for(proc.communicate(), timeout)
        except TimeoutError:
            proc.kill()
            out, err = await proc.communicate()
            pytest.fail(f"{self.label} peer timed out after {timeout}s on {json.dumps(scenario)}\n"
                        f"--- stderr ---\n{err.decode(errors='replace')}", pytrace=False)
        return self._parse(scenario, proc.returncode, out, err)

    async def spawn(self, scenario: dict[str, Any]) -> asyncio.subprocess.Process:
        """Start the peer on ``scenario`` (stdin written and closed) and return the process."""
        proc = await asyncio.create_subprocess_exec(
            *self.argv, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE, cwd=self.cwd,
        )
        assert proc.stdin is not None
        proc.stdin.write(self._input(scenario))
        await proc.stdin.drain()
        proc.stdin.close()
        return proc


class NodePeer(Peer):
    """Node bullmq 6.7.0."""

    kind = "node"
    label = "node"

    def __init__(self, node: str, redis_url: str) -> None:
        super().__init__([node, str(PEER_SCRIPT)], PEERS_DIR, redis_url)

    def worker_client_name(self, queue: str, worker_name: str | None = None) -> str:
        return node_worker_client_name(queue, worker_name)


class PyPeer(Peer):
    """Python bullmq 3.4.4 (its own venv)."""

    kind = "python"
    label = "python bullmq"

    def __init__(self, redis_url: str) -> None:
        super().__init__([str(PY_PEER_PYTHON), str(PY_PEER_SCRIPT)], PY_PEER_DIR, redis_url)

    def worker_client_name(self, queue: str, worker_name: str | None = None) -> str:
        base = f"bull:{queue}"  # the Python package names it with the raw queue name
        return f"{base}:w:{worker_name}" if worker_name else base


def _require(reason: str | None) -> None:
    if reason is not None:
        pytest.fail(f"interop peer missing: {reason}", pytrace=False)


@pytest.fixture
def py_peer(redis_url: str) -> PyPeer:
    _require(_py_missing_reason())
    return PyPeer(redis_url)


@pytest.fixture
def node_peer(redis_url: str) -> NodePeer:
    _require(_missing_reason())
    node = shutil.which("node")
    assert node is not None
    return NodePeer(node, redis_url)
