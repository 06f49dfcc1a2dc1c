"""A thread pool for sync processors whose threads never hold the process up.

``concurrent.futures.ThreadPoolExecutor`` joins its threads at interpreter exit, so a
processor that ignores a shutdown (or one abandoned by a job timeout) would keep a stopped
worker process alive. These threads are daemons: the process exits when the worker is done,
and the job such a thread held is already back in the queue.
"""

from __future__ import annotations

import contextvars
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Executor, Future
from typing import Any, TypeVar

T = TypeVar("T")
_STOP = object()


class DaemonThreadPool(Executor):
    def __init__(self, size: int, name: str = "qc") -> None:
        self._work: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._name = name
        self._threads: list[threading.Thread] = []
        self._closed = False
        self._lock = threading.Lock()
        for _ in range(size):
            self._add_thread()

    def _add_thread(self) -> None:
        thread = threading.Thread(target=self._run, daemon=True,
                                  name=f"{self._name}-{len(self._threads)}")
        self._threads.append(thread)
        thread.start()

    def _run(self) -> None:
        while True:
            item = self._work.get()
            if item is _STOP:
                return
            future, fn, args, kwargs = item
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(fn(*args, **kwargs))
            except BaseException as exc:  # handed to the awaiting coroutine
                future.set_exception(exc)

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        with self._lock:
            if self._closed:
                raise RuntimeError("the pool is shut down")
            future: Future[T] = Future()
            self._work.put((future, fn, args, kwargs))
            return future

    def replace_abandoned(self) -> None:
        """A thread is stuck in a job given up on (timeout): add one so capacity stays."""
        with self._lock:
            if not self._closed:
                self._add_thread()

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        with self._lock:
            self._closed = True
        if cancel_futures:
            while True:
                try:
                    item = self._work.get_nowait()
                except queue.Empty:
                    break
                if item is not _STOP:
                    item[0].cancel()
        for _ in self._threads:
            self._work.put(_STOP)
        if wait:
            for thread in self._threads:
                thread.join()


class ContextThreadPool(DaemonThreadPool):
    """The same, each call run in a copy of the submitter's context (contextvars): with
    telemetry, a sync processor's own spans are children of its job's ``process`` span."""

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        # asyncio's run_in_executor calls submit on the loop, in the job task's context.
        return super().submit(contextvars.copy_context().run, fn, *args, **kwargs)
