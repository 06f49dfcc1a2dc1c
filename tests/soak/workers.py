"""The soak's worker processes: ``python -m queuecore worker`` on the main queue and
``limited_worker.py`` on the rate-limited one, started, killed and restarted by slot.

A "steady" worker is never killed by the chaos driver: its RSS over the whole run is the
leak check. Settings: a 15 s lock renewed every 7.5 s outlives a Redis restart (at most 3 s
down) and proxy latency, so a live worker's job is never taken for stalled; a SIGKILLed
worker's jobs are back within lock + stall interval (20 s); 3 stalls are allowed before a
job fails, so a job caught by several kills in a row still completes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LOCK_MS = 15_000
STALLED_MS = 5_000
MAX_STALLED = 3
SHUTDOWN_S = 10.0
MAIN_QUEUE = "soak"
LIMITED_QUEUE = "soak-limited"
CONCURRENCY = 8


def rss_kib(pid: int) -> int | None:
    """Resident set size of a live process (VmRSS), or None once it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return None


@dataclass
class WorkerProc:
    kind: str  # "cli" or "limited"
    slot: int
    name: str
    steady: bool
    proc: subprocess.Popen[bytes]
    log: Path
    signal: int | None = None  # what the chaos driver sent it, if anything

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None


@dataclass
class Fleet:
    url: str
    ledger_dir: Path
    log_dir: Path
    limit: tuple[int, int]  # the limiter: (max jobs, per duration ms)
    current: dict[tuple[str, int], WorkerProc] = field(default_factory=dict)
    retired: list[WorkerProc] = field(default_factory=list)
    _generation: int = 0

    def start(self, kind: str, slot: int, *, steady: bool = False) -> WorkerProc:
        self._generation += 1
        name = f"soak-{kind}{slot}-g{self._generation}"
        if kind == "cli":
            args = ["-m", "queuecore", "worker", "tests.soak.tasks:process",
                    "--queue", MAIN_QUEUE, "--url", self.url, "--name", name,
                    "--concurrency", str(CONCURRENCY), "--lock-duration", str(LOCK_MS),
                    "--stalled-interval", str(STALLED_MS),
                    "--max-stalled-count", str(MAX_STALLED),
                    "--shutdown-timeout", str(SHUTDOWN_S), "--log-level", "warning"]
        else:
            args = ["-m", "tests.soak.limited_worker", self.url, LIMITED_QUEUE, name,
                    str(self.limit[0]), str(self.limit[1])]
        log = self.log_dir / f"{name}.log"
        env = {**os.environ, "PYTHONPATH": str(ROOT), "QC_SOAK_LEDGER": str(self.ledger_dir)}
        with log.open("wb") as out:
            proc = subprocess.Popen([sys.executable, *args], cwd=ROOT, env=env, stdout=out,
                                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        worker = WorkerProc(kind, slot, name, steady, proc, log)
        old = self.current.get((kind, slot))
        if old is not None:
            self.retired.append(old)
        self.current[(kind, slot)] = worker
        return worker

    def victims(self) -> list[WorkerProc]:
        return [w for w in self.current.values() if not w.steady and w.alive()]

    def stop(self, worker: WorkerProc, sig: int, timeout: float = 60.0) -> int | None:
        """Send ``sig`` and reap; returns the exit code (None if it would not stop)."""
        worker.signal = sig
        if worker.alive():
            worker.proc.send_signal(sig)
        try:
            return worker.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def respawn(self, worker: WorkerProc) -> WorkerProc:
        return self.start(worker.kind, worker.slot, steady=worker.steady)

    def everyone(self) -> list[WorkerProc]:
        return [*self.retired, *self.current.values()]

    def stop_all(self, timeout: float = 60.0) -> dict[str, int | None]:
        """SIGTERM every current worker, then wait: name -> exit code."""
        for worker in self.current.values():
            if worker.alive():
                worker.proc.send_signal(signal.SIGTERM)
        codes: dict[str, int | None] = {}
        for worker in self.current.values():
            try:
                codes[worker.name] = worker.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                worker.proc.kill()
                worker.proc.wait(10)
                codes[worker.name] = None
        return codes

    def kill_all(self) -> None:
        for worker in self.everyone():
            if worker.alive():
                worker.proc.kill()
                worker.proc.wait(10)
