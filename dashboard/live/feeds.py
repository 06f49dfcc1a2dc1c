"""One reader per queue per process: an asyncio task doing XREAD BLOCK on the queue's event
stream, started by the first subscription and stopped with the last, fanning each batch out
to the subscribers of this process (never a Redis read per browser tab).

A reader that falls behind (a full batch: the queue emits faster than it is read) skips to
the stream's end and tells subscribers to re-read everything; counts and pages are re-read
from Redis on flush anyway, so nothing shown goes stale.

Feeds live per event loop (daphne has one; each test has its own).
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Callable
from typing import Any

from dashboard.live import services
from dashboard.live.changes import Changes, fold

log = logging.getLogger(__name__)

Key = tuple[str, str]  # (connection, queue)
Subscriber = Callable[[Key, Changes], None]

#: How long one XREAD blocks; the task is cancelled on stop, so this only bounds idle reads.
BLOCK_MS = 5000
#: Wait after a failed read before the next one (doubling up to the last value).
RETRY_DELAYS = (0.2, 0.5, 1.0, 2.0, 5.0)


class Feed:
    """The reader of one queue's stream and the subscribers it fans out to."""

    def __init__(self, key: Key) -> None:
        self.key = key
        self.subscribers: dict[int, Subscriber] = {}
        self.queue = services.open_queue(*key)  # shared by this process's flushes
        self._reader = services.open_reader(*key)
        self._task: asyncio.Task[None] | None = None
        self.batches = 0
        self.skips = 0

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(
            self._run(), name=f"queue-dashboard-feed:{self.key[0]}:{self.key[1]}"
        )

    async def _run(self) -> None:
        failures = 0
        while True:
            try:
                events = await self._reader.aread(BLOCK_MS)
            except asyncio.CancelledError:
                raise
            except services.READ_ERRORS as exc:
                delay = RETRY_DELAYS[min(failures, len(RETRY_DELAYS) - 1)]
                failures += 1
                log.warning("event stream of %s:%s: %s", *self.key, exc)
                await asyncio.sleep(delay)
                # Events may have been missed: let every page re-read.
                self._fan_out(Changes(full=True))
                continue
            failures = 0
            if not events:
                continue
            changes = fold(events)  # type: ignore[arg-type]
            if len(events) >= services.READ_BATCH:
                # Behind: skip to the end of the stream, re-read everything on flush.
                self._reader.last_event_id = "$"
                changes.full = True
                self.skips += 1
            self.batches += 1
            self._fan_out(changes)

    def _fan_out(self, changes: Changes) -> None:
        for callback in list(self.subscribers.values()):
            try:
                callback(self.key, changes)
            except Exception:  # one broken socket must not stop the others
                log.exception("live subscriber failed")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            except Exception:
                log.exception("feed task of %s:%s ended with an error", *self.key)
        await self._reader.aclose()
        await self.queue.close()


class FeedRegistry:
    """The feeds of one event loop, refcounted by subscriptions."""

    def __init__(self) -> None:
        self.feeds: dict[Key, Feed] = {}
        self._lock = asyncio.Lock()

    async def subscribe(self, key: Key, token: int, callback: Subscriber) -> Feed:
        async with self._lock:
            feed = self.feeds.get(key)
            if feed is None:
                feed = Feed(key)
                self.feeds[key] = feed
                feed.start()
            feed.subscribers[token] = callback
            return feed

    async def unsubscribe(self, key: Key, token: int) -> None:
        async with self._lock:
            feed = self.feeds.get(key)
            if feed is None:
                return
            feed.subscribers.pop(token, None)
            if feed.subscribers:
                return
            del self.feeds[key]
        await feed.stop()


_registries: weakref.WeakKeyDictionary[Any, FeedRegistry] = weakref.WeakKeyDictionary()


def registry() -> FeedRegistry:
    """The feeds of the running event loop."""
    loop = asyncio.get_running_loop()
    found = _registries.get(loop)
    if found is None:
        found = _registries[loop] = FeedRegistry()
    return found
