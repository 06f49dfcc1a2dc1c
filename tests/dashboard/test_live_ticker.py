"""The flush clock keeps its interval per socket: a quiet socket's change goes out at once,
a socket flushed less than an interval ago waits out its interval."""

from __future__ import annotations

from typing import Any

from dashboard.live.ticker import TickCache, Ticker
from tests.waiting import wait_until


class Probe:
    def __init__(self) -> None:
        self.flushes = 0

    async def flush(self, cache: TickCache) -> None:
        self.flushes += 1


async def test_a_quiet_socket_goes_at_once_and_a_busy_one_waits(monkeypatch: Any) -> None:
    # An interval no test run outlasts: a flush seen at all was not held for it.
    monkeypatch.setattr(Ticker, "interval", staticmethod(lambda: 1000.0))
    ticker = Ticker()
    busy, quiet = Probe(), Probe()
    try:
        ticker.mark(busy)
        await wait_until(lambda: busy.flushes == 1)  # quiet until now: at once
        ticker.mark(busy)  # flushed just now: waits out its interval
        ticker.mark(busy)
        ticker.mark(quiet)  # never flushed: at once, not behind the busy one
        await wait_until(lambda: quiet.flushes == 1)
        assert busy.flushes == 1
        ticker.forget(busy)
    finally:
        await ticker.close()
    assert ticker.ticks == 2
