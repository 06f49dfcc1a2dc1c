"""Fixtures of the reliability suite: private Redis servers, child processes, ledgers.

Every server and process is started here and stopped here. ``QC_SOAK=1`` (``make soak-reliability``)
scales the cases up to their long versions."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import pytest

from tests.redisproc import RedisProcess

ROOT = Path(__file__).resolve().parents[2]
SOAK = os.environ.get("QC_SOAK") == "1"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def scale(small: Any, soak: Any) -> Any:
    """The `make test` value, or the `make soak-reliability` one."""
    return soak if SOAK else small


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a live process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


@dataclass
class Child:
    """A child process whose output goes to files (a full pipe would block it)."""

    proc: subprocess.Popen[bytes]
    out_path: Path
    err_path: Path
    files: list[IO[bytes]] = field(default_factory=list)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stderr(self) -> str:
        return self.err_path.read_text(errors="replace")

    def kill(self) -> None:
        if self.alive():
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def terminate(self) -> None:
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)

    def close(self) -> None:
        if self.alive():
            self.proc.kill()
        self.proc.wait(10)
        for fh in self.files:
            fh.close()


@pytest.fixture
def spawn(tmp_path: Path) -> Iterator[Callable[..., Child]]:
    """spawn("tests.reliability.proc_worker", url, ...) runs ``python -m`` a module."""
    children: list[Child] = []

    def start(module: str, *args: str) -> Child:
        n = len(children)
        out_path, err_path = tmp_path / f"child{n}.out", tmp_path / f"child{n}.err"
        out, err = out_path.open("wb"), err_path.open("wb")
        proc = subprocess.Popen([sys.executable, "-m", module, *args], cwd=ROOT,
                                stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        child = Child(proc, out_path, err_path, [out, err])
        children.append(child)
        return child

    yield start
    for child in children:
        child.close()


@pytest.fixture
def redis_servers() -> Iterator[Callable[..., RedisProcess]]:
    """Make private redis-servers (not started); all are stopped and removed afterwards."""
    made: list[RedisProcess] = []

    def make(config: dict[str, str] | None = None, port: int | None = None) -> RedisProcess:
        server = RedisProcess(config, port)
        made.append(server)
        return server

    yield make
    for server in made:
        server.close()


def read_ledgers(directory: Path) -> dict[int, list[str]]:
    """pid -> ledger lines of every worker process that wrote into ``directory``, without
    their timestamps ("start 17", "end 17", "ready", "exit")."""
    return {pid: [line.rsplit(" ", 1)[0] for line in lines]
            for pid, lines in read_timed_ledgers(directory).items()}


def read_timed_ledgers(directory: Path) -> dict[int, list[str]]:
    """pid -> raw ledger lines ("start 17 1717171717.123")."""
    return {int(path.stem): path.read_text().splitlines()
            for path in directory.glob("*.ledger")}


def starts_by_job(ledgers: dict[int, list[str]]) -> dict[str, list[int]]:
    """job id -> pids of the processes that started it (one entry per execution)."""
    out: dict[str, list[int]] = {}
    for pid, lines in ledgers.items():
        for line in lines:
            if line.startswith("start "):
                out.setdefault(line.split()[1], []).append(pid)
    return out


def worker_args(url: str, queue: str, ledger_dir: Path, **options: Any) -> list[str]:
    args = [url, queue, str(ledger_dir)]
    for key, value in options.items():
        if value is not None:
            args += [f"--{key.replace('_', '-')}", str(value)]
    return args
