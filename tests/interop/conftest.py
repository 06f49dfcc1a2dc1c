"""Fixtures for the interop tests: drive the Node bullmq peer (tests/peers/node_peer.mjs).

The peer reads one JSON scenario on stdin and writes one JSON result on stdout. When Node or
the peer's node_modules are missing the tests are skipped locally, but FAIL when the ``CI``
environment variable is set (CI must really run them).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

PEERS_DIR = Path(__file__).resolve().parent.parent / "peers"
PEER_SCRIPT = PEERS_DIR / "node_peer.mjs"
DEFAULT_TIMEOUT = 30.0


def _missing_reason() -> str | None:
    node = shutil.which("node")
    if node is None:
        return "node is not installed"
    if not (PEERS_DIR / "node_modules" / "bullmq").is_dir():
        return f"{PEERS_DIR}/node_modules is missing (run `npm ci` in tests/peers)"
    return None


class NodePeer:
    """Runs one scenario through the Node peer and returns its parsed JSON result.

    ``peer({"queue": "q", "actions": [...]})`` blocks; ``await peer.arun({...})`` does the same
    without blocking the event loop (use it while a queuecore Worker runs in the same loop).
    ``redis`` and ``prefix`` are filled in when the scenario does not give them.
    """

    def __init__(self, node: str, redis_url: str) -> None:
        self.node = node
        self.redis_url = redis_url

    def _input(self, scenario: dict[str, Any]) -> bytes:
        full = {"redis": self.redis_url, "prefix": "bull", **scenario}
        return json.dumps(full).encode()

    @staticmethod
    def _parse(scenario: dict[str, Any], rc: int | None, out: bytes, err: bytes) -> dict[str, Any]:
        stdout = out.decode(errors="replace")
        stderr = err.decode(errors="replace")
        try:
            result = json.loads(stdout.strip().splitlines()[-1]) if stdout.strip() else None
        except json.JSONDecodeError:
            result = None
        if rc != 0 or not isinstance(result, dict) or "error" in result:
            pytest.fail(
                f"node peer failed (exit {rc}) on scenario {json.dumps(scenario)}\n"
                f"--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}",
                pytrace=False,
            )
        return result

    def __call__(self, scenario: dict[str, Any], timeout: float = DEFAULT_TIMEOUT
                 ) -> dict[str, Any]:
        try:
            proc = subprocess.run(
                [self.node, str(PEER_SCRIPT)], input=self._input(scenario), capture_output=True,
                cwd=PEERS_DIR, timeout=timeout, check=False,
            )
        except subprocess.TimeoutExpired as exc:
            pytest.fail(f"node peer timed out after {timeout}s on {json.dumps(scenario)}\n"
                        f"--- stderr ---\n{(exc.stderr or b'').decode(errors='replace')}",
                        pytrace=False)
        return self._parse(scenario, proc.returncode, proc.stdout, proc.stderr)

    async def arun(self, scenario: dict[str, Any], timeout: float = DEFAULT_TIMEOUT
                   ) -> dict[str, Any]:
        proc = await asyncio.create_subprocess_exec(
            self.node, str(PEER_SCRIPT), stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, cwd=PEERS_DIR,
        )
        try:
            out, err = await asyncio.wait_for(proc.communicate(self._input(scenario)), timeout)
        except TimeoutError:
            proc.kill()
            out, err = await proc.communicate()
            pytest.fail(f"node peer timed out after {timeout}s on {json.dumps(scenario)}\n"
                        f"--- stderr ---\n{err.decode(errors='replace')}", pytrace=False)
        return self._parse(scenario, proc.returncode, out, err)


@pytest.fixture
def node_peer(redis_url: str) -> NodePeer:
    reason = _missing_reason()
    if reason is not None:
        if "CI" in os.environ:
            pytest.fail(f"interop tests cannot run in CI: {reason}", pytrace=False)
        pytest.skip(reason)
    node = shutil.which("node")
    assert node is not None
    return NodePeer(node, redis_url)
