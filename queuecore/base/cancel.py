"""The cancellation signal a processor may take (BullMQ's AbortSignal, in Python).

A processor opts in by taking a second positional parameter: ``async def process(job,
signal)`` (or a plain ``def``, or one in a child process). ``Worker.cancel_job(job_id,
reason)`` then cancels that job's signal; the processor decides how to wind down, usually
by raising ``signal.raise_if_cancelled()``'s ``JobCancelledError`` (fails the job for good,
as BullMQ's guide advises with ``UnrecoverableError``). Nothing stops a processor that does
not look.

The signal is safe to use from any thread: ``cancelled`` and ``wait_sync`` for thread and
process processors, ``await signal.wait()`` for async ones, and ``add_callback`` for either.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable

from .errors import JobCancelledError

log = logging.getLogger("queuecore")

CancelCallback = Callable[["str | None"], object]


class CancelSignal:
    """One job attempt's cancellation: ``cancelled``, ``reason``, ``wait()``,
    ``wait_sync()``, ``add_callback()``, ``raise_if_cancelled()``."""

    __slots__ = ("_callbacks", "_event", "_lock", "_reason", "_waiters")

    def __init__(self) -> None:
        self._event = threading.Event()
        self._lock = threading.Lock()
        self._reason: str | None = None
        self._callbacks: list[CancelCallback] = []
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = []

    def __repr__(self) -> str:
        state = f"cancelled: {self._reason!r}" if self.cancelled else "not cancelled"
        return f"<CancelSignal {state}>"

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    @property
    def reason(self) -> str | None:
        """The reason given to ``cancel_job`` (None before, or when none was given)."""
        return self._reason

    def raise_if_cancelled(self) -> None:
        """Raise ``JobCancelledError`` (the reason as its message) once cancelled."""
        if self._event.is_set():
            raise JobCancelledError(self._reason or "the job was cancelled")

    def wait_sync(self, timeout: float | None = None) -> bool:
        """Block (a thread or a child process) until cancelled or ``timeout`` s passed;
        whether it was cancelled. Also a cancellable sleep: ``if signal.wait_sync(5): ...``."""
        return self._event.wait(timeout)

    async def wait(self) -> str | None:
        """Wait (asyncio) until cancelled; the reason."""
        loop = asyncio.get_running_loop()
        with self._lock:
            if not self._event.is_set():
                future: asyncio.Future[None] = loop.create_future()
                self._waiters.append((loop, future))
            else:
                return self._reason
        try:
            await future
        finally:
            with self._lock, contextlib.suppress(ValueError):
                self._waiters.remove((loop, future))
        return self._reason

    def add_callback(self, callback: CancelCallback) -> None:
        """Call ``callback(reason)`` once when cancelled (at once when already cancelled),
        in the thread that cancels: keep it short, and thread-safe."""
        with self._lock:
            if not self._event.is_set():
                self._callbacks.append(callback)
                return
        self._call(callback)

    def cancel(self, reason: str | None = None) -> bool:
        """Cancel (the worker does it); False when it already was."""
        with self._lock:
            if self._event.is_set():
                return False
            self._reason = reason
            self._event.set()
            callbacks, self._callbacks = self._callbacks, []
            waiters = list(self._waiters)
        for loop, future in waiters:
            with contextlib.suppress(RuntimeError):  # that loop is closed: nobody waits
                loop.call_soon_threadsafe(_wake, future)
        for callback in callbacks:
            self._call(callback)
        return True

    def _call(self, callback: CancelCallback) -> None:
        try:
            callback(self._reason)
        except Exception:
            log.exception("a cancel callback raised")


def _wake(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
