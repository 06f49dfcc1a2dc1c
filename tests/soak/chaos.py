"""The chaos driver: one fault every ``interval`` seconds, in a fixed rotation shuffled by
the seed, until told to stop. Every fault is recorded (time, kind, detail) for the report.

Faults:
- ``sigkill``: SIGKILL a random non-steady worker and start a new one in its slot;
- ``sigterm``: SIGTERM one (it drains within its shutdown timeout), then start a new one;
- ``redis-kill`` / ``redis-term``: SIGKILL (a crash) or SIGTERM (a clean shutdown) of
  redis-server, down for 1-3 s, then started again on the same port and directory: it loads
  its append-only file;
- ``latency``: the proxy adds 50-300 ms before every chunk, both ways, for a while;
- ``drops``: the proxy cuts a connection instead of passing a reply, 1 to 5 % of replies;
- ``cut``: the proxy cuts every open connection at once.
"""

from __future__ import annotations

import random
import signal
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from tests.redisproc import RedisProcess
from tests.tcp_proxy import TcpProxy

from .ledger import Ledger
from .workers import Fleet

ROTATION = ("sigkill", "latency", "sigkill", "redis-kill", "sigterm", "drops", "sigkill",
            "cut", "redis-term", "sigkill", "drops", "latency")


@dataclass
class Chaos:
    fleet: Fleet
    redis: RedisProcess
    proxy: TcpProxy
    ledger: Ledger
    interval: float
    seed: int
    events: list[dict[str, Any]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="chaos", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop after the current fault, and leave a healthy network behind."""
        self._stop.set()
        if self._thread:
            self._thread.join(120)
        self.proxy.latency = 0.0
        self.proxy.drop_rate = 0.0

    def _run(self) -> None:
        rng = random.Random(self.seed)
        order = list(ROTATION)
        while not self._stop.wait(self.interval * rng.uniform(0.7, 1.3)):
            if not order:
                order = list(ROTATION)
                rng.shuffle(order)
            kind = order.pop(0)
            t0 = time.time()
            try:
                detail = self._fault(kind, rng)
            except Exception as exc:  # recorded and reported: the run then fails its checks
                self.errors.append(f"{kind}: {type(exc).__name__}: {exc}")
                detail = {"error": str(exc)}
            self.events.append({"at": t0, "kind": kind, "seconds": round(time.time() - t0, 3),
                                **detail})

    def _pause(self, seconds: float) -> None:
        self._stop.wait(seconds)

    def _fault(self, kind: str, rng: random.Random) -> dict[str, Any]:
        if kind in ("sigkill", "sigterm"):
            victims = self.fleet.victims()
            if not victims:
                return {"skipped": "no worker to kill"}
            victim = rng.choice(victims)
            sig = signal.SIGKILL if kind == "sigkill" else signal.SIGTERM
            self.ledger.note("kill", str(victim.pid), int(sig))
            code = self.fleet.stop(victim, sig)
            new = self.fleet.respawn(victim)
            return {"worker": victim.name, "pid": victim.pid, "exit": code, "new_pid": new.pid}
        if kind in ("redis-kill", "redis-term"):
            down = rng.uniform(1.0, 3.0)
            if kind == "redis-kill":
                self.redis.kill()
            else:
                self.redis.stop()
            time.sleep(down)
            self.redis.start()
            return {"down_s": round(down, 2)}
        if kind == "latency":
            self.proxy.latency = rng.uniform(0.05, 0.3)
            latency = self.proxy.latency
            self._pause(rng.uniform(0.5, 1.0) * self.interval)
            self.proxy.latency = 0.0
            return {"latency_s": round(latency, 3)}
        if kind == "drops":
            self.proxy.drop_rate = rng.uniform(0.01, 0.05)
            rate, before = self.proxy.drop_rate, self.proxy.drops
            self._pause(rng.uniform(0.3, 0.6) * self.interval)
            self.proxy.drop_rate = 0.0
            return {"rate": round(rate, 3), "cut": self.proxy.drops - before}
        if kind == "cut":
            return {"cut": self.proxy.cut_all()}
        raise ValueError(f"unknown fault {kind}")

    def count(self, kind: str) -> int:
        return sum(1 for e in self.events if e["kind"] == kind and "skipped" not in e
                   and "error" not in e)
