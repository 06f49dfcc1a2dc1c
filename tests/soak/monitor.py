"""What the soak watches while it runs: RSS samples of the steady workers and of daphne, and
a few live dashboard sockets held open on daphne the whole time.

The leak figures are RSS at the start (the first sample after a warm-up of a tenth of the
run: imports, script loading and pools settle first), at the end, and the least-squares
slope over the samples after the warm-up, in MiB per hour."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from tests.dashboard.wsclient import Closed, WebSocket

from .workers import rss_kib


def slope_per_hour(samples: list[tuple[float, int]]) -> float:
    """Least-squares slope of (seconds, KiB) samples, in MiB per hour."""
    n = len(samples)
    if n < 2:
        return 0.0
    mean_t = sum(t for t, _ in samples) / n
    mean_v = sum(v for _, v in samples) / n
    var = sum((t - mean_t) ** 2 for t, _ in samples)
    if var == 0:
        return 0.0
    cov = sum((t - mean_t) * (v - mean_v) for t, v in samples)
    return cov / var * 3600 / 1024


def leak_figures(samples: list[tuple[float, int]], warmup: float) -> dict[str, Any]:
    """RSS start/end (MiB), growth and slope after ``warmup`` seconds of the run."""
    if not samples:
        return {"samples": 0}
    t0 = samples[0][0]
    settled = [(t, v) for t, v in samples if t - t0 >= warmup] or samples[-1:]
    return {
        "samples": len(samples),
        "rss_first_mib": round(samples[0][1] / 1024, 1),
        "rss_start_mib": round(settled[0][1] / 1024, 1),
        "rss_end_mib": round(settled[-1][1] / 1024, 1),
        "rss_max_mib": round(max(v for _, v in settled) / 1024, 1),
        "growth_mib": round((settled[-1][1] - settled[0][1]) / 1024, 1),
        "slope_mib_per_hour": round(slope_per_hour(settled), 2),
        # a leak keeps its slope; growth that levels off (caches, pools) loses it
        "second_half_slope_mib_per_hour": round(
            slope_per_hour(settled[len(settled) // 2:]), 2),
        "over_s": round(settled[-1][0] - settled[0][0], 1),
        "series_mib": _series(samples, t0),
    }


def _series(samples: list[tuple[float, int]], t0: float, points: int = 30) -> list[list[float]]:
    """About ``points`` (seconds since start, MiB) pairs, for a look at the curve's shape."""
    step = max(1, len(samples) // points)
    picked = samples[::step] + ([samples[-1]] if (len(samples) - 1) % step else [])
    return [[round(t - t0), round(v / 1024, 1)] for t, v in picked]


@dataclass
class RssSampler:
    pids: dict[str, int]
    interval: float
    samples: dict[str, list[tuple[float, int]]] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="rss", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            now = time.monotonic()
            for name, pid in self.pids.items():
                kib = rss_kib(pid)
                if kib is not None:
                    self.samples.setdefault(name, []).append((now, kib))
            if self._stop.wait(self.interval):
                return

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(10)


@dataclass
class DashboardWatchers:
    """``sockets`` websockets on the main queue's live page, each counting the frames it
    gets and reconnecting when the server closes it (a Redis restart may)."""

    port: int
    base: str
    session: str
    queue: str
    sockets: int
    frames: list[int] = field(default_factory=list)
    reconnects: int = 0
    errors: list[str] = field(default_factory=list)
    _loop: asyncio.AbstractEventLoop | None = None
    _stopping: asyncio.Event | None = None
    _thread: threading.Thread | None = None
    _ready: threading.Event = field(default_factory=threading.Event)

    def start(self) -> None:
        self.frames = [0] * self.sockets
        self._thread = threading.Thread(target=asyncio.run, args=(self._main(),),
                                        name="dashboard-watchers", daemon=True)
        self._thread.start()
        self._ready.wait(30)

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        tasks = [asyncio.create_task(self._watch(i)) for i in range(self.sockets)]
        self._ready.set()
        await self._stopping.wait()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _watch(self, i: int) -> None:
        url = f"ws://127.0.0.1:{self.port}/ws/queue-dashboard/default/q/{self.queue}/"
        first = True
        while True:
            try:
                ws = await WebSocket.connect(url, cookie=f"sessionid={self.session}",
                                             origin=self.base)
            except OSError as exc:
                self.errors.append(f"connect: {exc}")
                await asyncio.sleep(1.0)
                continue
            if not first:
                self.reconnects += 1
            first = False
            try:
                while True:
                    await ws.recv()
                    self.frames[i] += 1
            except (Closed, OSError, asyncio.IncompleteReadError):
                await asyncio.sleep(0.5)
            finally:
                with contextlib.suppress(Exception):
                    await ws.close()

    def stop(self) -> None:
        """Close the sockets; safe to call twice."""
        if self._thread is None or not self._thread.is_alive():
            return
        if self._loop and self._stopping:
            with contextlib.suppress(RuntimeError):  # the loop ended on its own
                self._loop.call_soon_threadsafe(self._stopping.set)
        self._thread.join(10)
