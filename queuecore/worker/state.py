"""What the parts of one Worker share while it runs: the jobs in hand and the run's events."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Coroutine
from typing import Any

from ..base.cancel import CancelSignal

#: job id -> (lock token, the task processing it)
ActiveJobs = dict[str, tuple[str, "asyncio.Task[None]"]]


class RunState:
    """The containers are made once and never replaced (parts may keep a reference to them);
    the events are made anew by ``begin()`` for each run."""

    def __init__(self) -> None:
        self.active: ActiveJobs = {}
        self.lost: set[str] = set()  # reported as lock-lost once
        self.signals: dict[str, CancelSignal] = {}  # jobs whose processor takes a signal
        self.finishing: set[str] = set()  # finish or retry call sent: the lock goes with it
        self.closing = asyncio.Event()  # close() was called or run() is ending
        self.closed = asyncio.Event()
        self.slot_free = asyncio.Event()  # a job slot was freed
        self.paused = False  # Worker.pause(): fetch nothing until resume()
        self.resumed = asyncio.Event()  # set by resume() (made anew by pause())
        self._background: set[asyncio.Task[None]] = set()

    def begin(self) -> None:
        """Fresh events for a new run (inside the loop that runs it)."""
        self.closing = asyncio.Event()
        self.closed = asyncio.Event()
        self.slot_free = asyncio.Event()
        self.resumed = asyncio.Event()
        if not self.paused:  # pause() before run() holds the new run too
            self.resumed.set()

    async def wait_any(self, awaitable: Awaitable[Any],
                       stop: asyncio.Event | None = None) -> None:
        """Wait for ``awaitable`` or for ``stop`` (default: closing), whichever comes first."""
        waiter = asyncio.ensure_future(awaitable)
        stopper = asyncio.ensure_future((stop or self.closing).wait())
        try:
            await asyncio.wait({waiter, stopper}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (waiter, stopper):
                if not task.done():
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        """Run ``coro`` beside the worker; ``run()`` waits for it before closing clients."""
        task = asyncio.ensure_future(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def wait_background(self) -> None:
        if self._background:
            await asyncio.wait(set(self._background))
