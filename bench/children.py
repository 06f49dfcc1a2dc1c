"""Running adapters as child processes: one-shot roles and long-lived workers."""

from __future__ import annotations

import contextlib
import json
import select
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

from .libs import Lib


class ChildError(RuntimeError):
    pass


class ChildTimeout(ChildError):
    pass


def _last_json(text: str) -> dict[str, Any]:
    """The JSON objects an adapter printed, one a line, merged (later keys win)."""
    merged: dict[str, Any] = {}
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                value = json.loads(line)
            except ValueError:
                continue
            if isinstance(value, dict):
                merged.update(value)
    if not merged:
        raise ChildError(f"no JSON result in output: {text[-400:]!r}")
    return merged


def _tail(path: Path, limit: int = 1500) -> str:
    try:
        return path.read_text(errors="replace")[-limit:]
    except OSError:
        return ""


def one_shot(lib: Lib, role: str, cfg: dict[str, Any], timeout: float) -> dict[str, Any]:
    """Run ``ADAPTER ROLE CONFIG`` to its end and return its JSON result."""
    argv = [*lib.argv, role, json.dumps({**lib.options, **cfg})]
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                              env=lib.environ(), stdin=subprocess.DEVNULL, check=False)
    except subprocess.TimeoutExpired:
        raise ChildTimeout(f"{lib.key} {role}: no result within {timeout:.0f} s") from None
    if done.returncode != 0:
        raise ChildError(f"{lib.key} {role} exited {done.returncode}: {done.stderr[-1500:]}")
    return _last_json(done.stdout)


class WorkerChild:
    """A worker adapter process: ready -> go -> ... -> SIGTERM -> result."""

    def __init__(self, lib: Lib, cfg: dict[str, Any]) -> None:
        self.lib = lib
        self.log = Path(tempfile.mkstemp(prefix=f"bench-{lib.key}-", suffix=".log")[1])
        argv = [*lib.argv, "work", json.dumps({**lib.options, **cfg})]
        with self.log.open("wb") as err:
            self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         stderr=err, env=lib.environ(), bufsize=0)
        self._ps = psutil.Process(self.proc.pid)
        self.rss_peak = 0

    def wait_ready(self, timeout: float = 60.0) -> None:
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        line = b""
        while not line.endswith(b"\n"):
            left = deadline - time.monotonic()
            if left <= 0:
                raise ChildTimeout(f"{self.lib.key} worker not ready in {timeout:.0f} s")
            readable, _, _ = select.select([self.proc.stdout], [], [], left)
            if readable:
                byte = self.proc.stdout.read(1)
                if not byte:
                    raise ChildError(f"{self.lib.key} worker exited before it was ready: "
                                     f"{_tail(self.log)}")
                line += byte
        if not json.loads(line).get("ready"):
            raise ChildError(f"{self.lib.key} worker said {line!r} instead of ready")

    def go(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(b"go\n")
        self.proc.stdin.flush()

    def rss(self) -> int:
        """Resident set size now (bytes); also kept as the peak."""
        try:
            value = int(self._ps.memory_info().rss)
        except psutil.Error:
            return 0
        self.rss_peak = max(self.rss_peak, value)
        return value

    def cpu(self) -> float:
        """CPU seconds (user + system) this worker process has used so far."""
        try:
            times = self._ps.cpu_times()
        except psutil.Error:
            return 0.0
        return float(times.user + times.system)

    def stop(self, timeout: float = 15.0) -> dict[str, Any]:
        """SIGTERM; the adapter prints its result at once, then closes its worker. A worker
        whose close() does not end within ``timeout`` is killed; its result still counts and
        says ``close_hung``."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        hung = False
        try:
            out, _ = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            hung = True
            self.kill()
            out, _ = self.proc.communicate(timeout=10)
        if self.proc.returncode != 0 and not hung:
            raise ChildError(f"{self.lib.key} worker exited {self.proc.returncode}: "
                             f"{_tail(self.log)}")
        result = _last_json(out.decode(errors="replace"))
        if "processed" not in result:
            raise ChildError(f"{self.lib.key} worker gave no result: {_tail(self.log)}")
        if hung:
            result["close_hung"] = True
        self.log.unlink(missing_ok=True)
        return result

    def kill(self) -> None:
        """Kill this worker and any process it started (RQ's scheduler)."""
        try:
            children = self._ps.children(recursive=True)
        except psutil.Error:
            children = []
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        for child in children:
            with contextlib.suppress(psutil.Error):
                child.kill()
