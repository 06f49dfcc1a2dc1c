"""One reader per queue per process: an asyncio task doing XREAD BLOCK on the queue's event
stream, started by the first subscription and stopped with the last, fanning each batch out
to the subscribers of this process (never a Redis read per browser tab).

A reader that falls behind (a full batch: the queue emits faster than it is read) skips to
the stream's end and tells subscribers to re-read everything; counts and pages are re-read
from Redis on flush anyway, so nothing shown goes stale.

BullMQ writes no stream event for a job's log line, so a feed also keeps a small log watch:
while a job page of this process watches an *active* job (its socket says so after each
render of the job), the feed checks the LLEN of those jobs' log lists once per coalescing
tick, in one pipelined round trip, and tells only those pages when a list changed. Bounded:
at most ``MAX_LOG_WATCH`` jobs per queue, nothing at all while no job page watches an active
job, and still one reader (this feed) per queue per process.

Feeds live per event loop (daphne has one; each test has its own).
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Awaitable, Callable
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

from dashboard.live import services
from dashboard.live.changes import Changes, fold
from dashboard.live.ticker import Ticker

if TYPE_CHECKING:
    from queuecore import AsyncQueue

log = logging.getLogger(__name__)
T = TypeVar("T")

Key = tuple[str, str]  # (connection, queue)
Subscriber = Callable[[Key, Changes], None]

#: How long one XREAD blocks; the task is cancelled on stop, so this only bounds idle reads.
BLOCK_MS = 5000
#: Wait after a failed read before the next one (doubling up to the last value).
RETRY_DELAYS = (0.2, 0.5, 1.0, 2.0, 5.0)
#: Most active jobs one feed follows the log lists of (further job pages wait for events).
MAX_LOG_WATCH = 100
#: How long ``stop`` waits for reads in flight before it closes the queue anyway.
STOP_WAIT_SECONDS = 5.0


class FeedClosed(Exception):
    """The feed has stopped: nothing more is read through its queue."""


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
        self.log_watch: dict[str, set[int]] = {}  # active job id -> tokens of its job pages
        self._log_lengths: dict[str, int] = {}
        self._log_task: asyncio.Task[None] | None = None
        self.log_checks = 0
        self.closed = False
        self._reads = 0
        self._no_reads = asyncio.Event()
        self._no_reads.set()

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
            changes = fold(events)
            if len(events) >= services.READ_BATCH:
                # Behind: skip to the end of the stream, re-read everything on flush.
                self._reader.last_event_id = "$"
                changes.full = True
                self.skips += 1
            self.batches += 1
            self._fan_out(changes)

    def _fan_out(self, changes: Changes, tokens: set[int] | None = None) -> None:
        for token, callback in list(self.subscribers.items()):
            if tokens is not None and token not in tokens:
                continue
            try:
                callback(self.key, changes)
            except Exception:  # one broken socket must not stop the others
                log.exception("live subscriber failed")

    async def read(self, make: Callable[[AsyncQueue], Awaitable[T]]) -> T:
        """``make(queue)``: a read through the feed's queue, which ``stop`` closes only after
        the reads in flight. Raises ``FeedClosed`` once stopped: a read on a closed redis-py
        pool would open a new connection that nothing closes."""
        if self.closed:
            raise FeedClosed(f"{self.key[0]}:{self.key[1]}")
        self._reads += 1
        self._no_reads.clear()
        try:
            return await make(self.queue)
        finally:
            self._reads -= 1
            if not self._reads:
                self._no_reads.set()

    # -- the log watch --

    def watch_logs(self, token: int, job_id: str, active: bool) -> None:
        """A job page (``token``) shows ``job_id``, tailing its logs; ``active`` says whether
        the job is active now (its lines can grow). Called after every render of the job."""
        if not active:
            self._drop_log_watch(token, job_id)
            return
        watchers = self.log_watch.get(job_id)
        if watchers is None:
            if len(self.log_watch) >= MAX_LOG_WATCH:
                return
            watchers = self.log_watch[job_id] = set()
        watchers.add(token)
        if self._log_task is None or self._log_task.done():
            self._log_task = asyncio.get_running_loop().create_task(
                self._watch_logs(), name=f"queue-dashboard-logs:{self.key[0]}:{self.key[1]}"
            )

    def unwatch_logs(self, token: int) -> None:
        for job_id in list(self.log_watch):
            self._drop_log_watch(token, job_id)

    def _drop_log_watch(self, token: int, job_id: str) -> None:
        watchers = self.log_watch.get(job_id)
        if watchers is None:
            return
        watchers.discard(token)
        if not watchers:
            del self.log_watch[job_id]
            self._log_lengths.pop(job_id, None)

    async def _watch_logs(self) -> None:
        """LLEN the watched jobs' log lists once a tick; ends when nothing is watched."""
        failures = 0
        while self.log_watch:
            await asyncio.sleep(Ticker.interval())
            job_ids = list(self.log_watch)
            if not job_ids:
                break
            try:
                lengths = await self.read(partial(services.log_lengths, job_ids=job_ids))
            except FeedClosed:
                return
            except services.READ_ERRORS as exc:
                failures += 1
                if failures == 1:
                    log.warning("log lists of %s:%s: %s", *self.key, exc)
                await asyncio.sleep(RETRY_DELAYS[min(failures, len(RETRY_DELAYS)) - 1])
                continue
            failures = 0
            self.log_checks += 1
            for job_id, length in lengths.items():
                watchers = self.log_watch.get(job_id)
                if watchers is None or self._log_lengths.get(job_id) == length:
                    continue
                # The first check of a job reports too: a line may have come since its render.
                self._log_lengths[job_id] = length
                self._fan_out(Changes(logs={job_id}), set(watchers))

    async def stop(self) -> None:
        """Stop the reader and the log watch, let reads in flight end, close the clients
        (closed even when this is cancelled, so that no connection outlives the loop)."""
        self.closed = True
        self.log_watch.clear()
        try:
            tasks = [t for t in (self._task, self._log_task) if t is not None]
            for task in tasks:
                task.cancel()
            if tasks:
                await asyncio.wait(tasks)  # a cancellation of stop itself still propagates
            for task in tasks:
                if not task.cancelled() and task.exception() is not None:
                    log.error("feed task of %s:%s ended with an error", *self.key,
                              exc_info=task.exception())
            if self._reads:
                try:
                    await asyncio.wait_for(self._no_reads.wait(), STOP_WAIT_SECONDS)
                except TimeoutError:
                    log.warning("feed %s:%s: closing with reads still running", *self.key)
        finally:
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
            feed.unwatch_logs(token)
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
