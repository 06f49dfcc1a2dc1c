"""The flush clock: sockets with pending changes are flushed together, each at most
``LIVE_UPDATES_PER_SECOND`` times a second (a socket quiet for longer goes at once), so a
queue doing 10,000 jobs a second sends each socket a few updates carrying the latest state.
Sockets flushed in the same tick share their Redis reads and rendered fragments through a
``TickCache``.

One ticker per event loop; it sleeps while nothing is pending.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar

from dashboard import conf

log = logging.getLogger(__name__)
T = TypeVar("T")
#: The task ends after this long without anything to flush.
IDLE_SECONDS = 30.0


class TickCache:
    """Reads and renders shared by the sockets flushed in one tick (keyed by the caller)."""

    def __init__(self) -> None:
        self._values: dict[Any, asyncio.Future[Any]] = {}
        self.misses = 0

    async def get(self, key: Any, make: Callable[[], Awaitable[T]]) -> T:
        found = self._values.get(key)
        if found is None:
            self.misses += 1
            found = asyncio.ensure_future(make())
            self._values[key] = found
        return await asyncio.shield(found)

    async def close(self) -> None:
        """Cancel reads still running and wait for them, so that no Redis connection is left
        mid-command (a cancelled read that is not awaited can outlive its event loop)."""
        pending = []
        for future in self._values.values():
            if future.done() and not future.cancelled():
                future.exception()  # retrieved: no "never retrieved" warning
            else:
                future.cancel()
                pending.append(future)
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)


class Flushable(Protocol):
    async def flush(self, cache: TickCache) -> None: ...


class Ticker:
    """The interval is kept per socket: a socket flushed less than an interval ago waits out
    its interval (a burst is sent as one update per interval), one that has been quiet for
    longer is flushed at once, so a lone change reaches the screen without the wait."""

    def __init__(self) -> None:
        self._dirty: dict[int, Flushable] = {}
        self._flushed: dict[int, float] = {}  # loop time of each socket's last flush
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.ticks = 0

    @staticmethod
    def interval() -> float:
        return 1.0 / conf.get_settings().live_updates_per_second

    def mark(self, session: Flushable) -> None:
        """Flush ``session`` in the next tick (once, however often it is marked)."""
        key = id(session)
        if key not in self._dirty:  # a socket already waiting for its turn wakes nothing
            self._dirty[key] = session
            self._wake.set()
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(
                self._run(), name="queue-dashboard-ticker"
            )

    def forget(self, session: Flushable) -> None:
        self._dirty.pop(id(session), None)
        self._flushed.pop(id(session), None)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                await asyncio.wait_for(self._wake.wait(), IDLE_SECONDS)
            except TimeoutError:
                if not self._dirty:
                    return  # idle: ``mark`` starts a new task
                continue
            self._wake.clear()
            interval = self.interval()
            now = loop.time()
            flushed = self._flushed
            never = float("-inf")
            due = min((flushed.get(k, never) + interval for k in self._dirty), default=now)
            if due > now:
                # Wait out the earliest socket's interval, unless another socket is marked
                # first (it may have been quiet: then it goes at once).
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), due - now)
                self._wake.set()
                continue
            sessions = []
            for k, session in list(self._dirty.items()):
                if flushed.get(k, never) + interval <= now:
                    sessions.append(session)
                    del self._dirty[k]
                    flushed[k] = now
            if self._dirty:
                self._wake.set()  # the others when their interval is over
            for k in [k for k, t in flushed.items() if t + interval < now]:
                del flushed[k]  # quiet for an interval: the same as never flushed
            if not sessions:
                continue
            self.ticks += 1
            cache = TickCache()
            try:
                results = await asyncio.gather(*(s.flush(cache) for s in sessions),
                                               return_exceptions=True)
            finally:
                await cache.close()
            for result in results:
                if isinstance(result, Exception):
                    log.error("live flush failed", exc_info=result)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


_tickers: weakref.WeakKeyDictionary[Any, Ticker] = weakref.WeakKeyDictionary()


def ticker() -> Ticker:
    loop = asyncio.get_running_loop()
    found = _tickers.get(loop)
    if found is None:
        found = _tickers[loop] = Ticker()
    return found
