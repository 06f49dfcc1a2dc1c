"""Several Workers of one queue in one asyncio loop, grown and shrunk while running.

Each worker has its own fetch loop, blocking connection, lock renewal and stall check, so a
pool of N workers behaves like N worker processes on one loop (for I/O-bound processors; for
CPU-bound ones run more processes, or give the workers ``processes=``).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from ..base.emitter import Listener
from ..base.errors import InvalidOptionsError, QueueCoreError
from ..base.validation import non_negative_int, positive_int
from ..transport.connection import ConnectionLike
from .worker import Processor, Worker

log = logging.getLogger("queuecore.pool")


class WorkerPool:
    """``size`` Workers of ``queue_name``; every other keyword goes to each ``Worker``.

    >>> pool = WorkerPool("emails", send, "redis://127.0.0.1:6379/0", size=4, concurrency=10)
    >>> await pool.start()
    >>> await pool.scale_up(2)      # 6 workers
    >>> await pool.scale_down(3)    # 3 workers, after the jobs of the 3 others finished
    >>> await pool.close()
    """

    def __init__(self, queue_name: str, processor: Processor, connection: ConnectionLike = None,
                 *, size: int = 1, **worker_options: Any) -> None:
        self.queue_name = queue_name
        self.processor = processor
        self.connection = connection
        self.worker_options = worker_options
        self._initial = positive_int("size", size)
        self._workers: dict[Worker, asyncio.Task[None]] = {}
        self._listeners: list[tuple[str, Listener]] = []
        self._lock: asyncio.Lock | None = None
        self._started = False
        self._closed = False
        self._errors: list[BaseException] = []
        # Built now so that a bad option fails here, before anything runs; it runs first.
        self._spare: Worker | None = self._make()

    def _make(self) -> Worker:
        return Worker(self.queue_name, self.processor, self.connection, **self.worker_options)

    @property
    def size(self) -> int:
        """The number of workers running (those being closed are no longer counted)."""
        return len(self._workers)

    @property
    def workers(self) -> tuple[Worker, ...]:
        return tuple(self._workers)

    def on(self, event: str, listener: Listener) -> Listener:
        """Listen to an event of every worker, present and future."""
        self._listeners.append((event, listener))
        for worker in self._workers:
            worker.on(event, listener)
        return listener

    async def __aenter__(self) -> WorkerPool:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def start(self) -> None:
        """Start ``size`` workers (they run until ``scale_down`` or ``close``)."""
        if self._started:
            raise QueueCoreError("this worker pool was already started")
        self._started = True
        self._lock = asyncio.Lock()
        async with self._lock:
            await self._add(self._initial)

    async def _add(self, n: int) -> None:
        for _ in range(n):
            worker, self._spare = self._spare or self._make(), None
            for event, listener in self._listeners:
                worker.on(event, listener)
            task = asyncio.ensure_future(worker.run())
            task.add_done_callback(self._on_done)
            self._workers[worker] = task
        await asyncio.sleep(0)  # let each new worker enter run(), so that close() reaches it

    def _on_done(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            error = task.exception()
            assert error is not None
            self._errors.append(error)
            log.error("a worker of queue %s stopped with an error", self.queue_name,
                      exc_info=error)

    def _check_running(self) -> asyncio.Lock:
        if not self._started or self._lock is None:
            raise QueueCoreError("the worker pool is not started: call start() first")
        if self._closed:
            raise QueueCoreError("the worker pool is closed")
        return self._lock

    async def scale_up(self, n: int = 1) -> None:
        """Start ``n`` more workers."""
        non_negative_int("n", n)
        async with self._check_running():
            await self._add(n)

    async def scale_down(self, n: int = 1, timeout: float | None = None) -> None:
        """Close ``n`` workers gracefully: they stop fetching and their active jobs finish
        (within ``timeout`` seconds, else those jobs go back to the queue). Idle workers are
        chosen first."""
        non_negative_int("n", n)
        async with self._check_running():
            if n > len(self._workers):
                raise InvalidOptionsError(
                    f"cannot scale down by {n}: the pool has {len(self._workers)} workers")
            chosen = sorted(self._workers, key=lambda w: w.active_count)[:n]
            tasks = [self._workers.pop(w) for w in chosen]
            await self._stop(chosen, tasks, timeout)

    async def close(self, timeout: float | None = None) -> None:
        """Close every worker as ``scale_down`` would. Safe to call more than once."""
        if not self._started or self._closed or self._lock is None:
            self._closed = True
            return
        async with self._lock:
            self._closed = True
            chosen = list(self._workers)
            tasks = [self._workers.pop(w) for w in chosen]
            await self._stop(chosen, tasks, timeout)

    async def _stop(self, workers: list[Worker], tasks: list[asyncio.Task[None]],
                    timeout: float | None) -> None:
        if timeout is None:
            timeout = self.worker_options.get("shutdown_timeout")
        await asyncio.gather(*(w.close(timeout=timeout) for w in workers))
        if tasks:
            await asyncio.wait(tasks)
