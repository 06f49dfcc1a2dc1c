"""The child side of a ProcessPool: one long-lived process that runs one job at a time.

The child runs the optional initializer ("pkg.module:function", no arguments: what a
framework needs first, e.g. ``"django:setup"`` so that a processor module may import Django
models), imports the processor by its module path, then answers the parent's job messages
(queuecore/worker/process_protocol.py). In the child a plain function gets a sync ``Job``
bound to the child's own ``Queue``, an ``async def`` one gets an ``AsyncJob`` on its own
loop, so both can call ``update_progress`` and ``log``. A child whose parent dies exits by
itself; it ignores SIGINT (a Ctrl-C in the terminal reaches the whole process group; the
parent decides).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import multiprocessing
import os
import queue
import signal
import threading
import traceback
from collections.abc import Callable, Mapping
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING, Any

from ..base.cancel import CancelSignal
from ..base.errors import InvalidOptionsError
from ..base.jsonutil import dumps
from .options import takes_cancel_signal
from .process_protocol import PortableConnection, decode, error_kind, send
from .targets import import_target

if TYPE_CHECKING:
    from ..client.aqueue import AsyncQueue
    from ..client.queue import Queue


def _exit_with_parent() -> None:
    """Leave at once when the parent dies (no orphans still holding job locks)."""
    parent = multiprocessing.parent_process()
    if parent is None:
        return
    parent_pid = os.getppid()

    def watch() -> None:
        parent.join()
        os._exit(70)

    def poll() -> None:  # in case the sentinel is not a pipe we can wait on
        while os.getppid() == parent_pid:
            threading.Event().wait(1.0)
        os._exit(70)

    target = watch if getattr(parent, "_sentinel", None) is not None else poll
    threading.Thread(target=target, name="queuecore-parent-watch", daemon=True).start()



class _ChildRunner:
    """What a child keeps between jobs: the processor, its queue(s), its event loop."""

    def __init__(self, fn: Callable[..., Any], connection: PortableConnection, queue_name: str,
                 prefix: str) -> None:
        self.fn = fn
        self.is_async = inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(
            getattr(fn, "__call__", None))  # noqa: B004
        self.connection = connection
        self.queue_name = queue_name
        self.prefix = prefix
        self.takes_signal = takes_cancel_signal(fn)
        self._queue: Queue | None = None
        self._aqueue: AsyncQueue | None = None
        self._loop: asyncio.Runner | None = None
        self._lock = threading.Lock()
        self._current: tuple[str, CancelSignal] | None = None  # the job and its signal

    def cancel(self, job_id: str, reason: str | None) -> None:
        """(From the reader thread.) Cancel the running job's signal, if it is that job."""
        with self._lock:
            current = self._current
        if current is not None and current[0] == job_id:
            current[1].cancel(reason)

    def run(self, message: Mapping[str, Any]) -> dict[str, Any]:
        from ..client.ajob import AsyncJob
        from ..client.job import Job
        from ..commands.record import JobRecord

        fields = JobRecord.fields_from_hash(str(message["id"]), dict(message["hash"]))
        fields["token"] = str(message["token"])
        job: JobRecord | None = None
        args: tuple[Any, ...] = ()
        if self.takes_signal:
            cancel_signal = CancelSignal()
            args = (cancel_signal,)
            with self._lock:
                self._current = (str(message["id"]), cancel_signal)
        try:
            if self.is_async:
                job = AsyncJob(self._async_queue(), **fields)
                result = self._runner().run(self.fn(job, *args))
            else:
                job = Job(self._sync_queue(), **fields)
                result = self.fn(job, *args)
                if inspect.isawaitable(result):
                    result = self._runner().run(_await(result))
            return {"op": "result", "value": dumps(result), "moved": _moved(job)}
        except Exception as exc:
            return {
                "op": "error",
                "type": f"{type(exc).__module__}.{type(exc).__qualname__}",
                "message": str(exc),
                "traceback": "".join(traceback.format_exception(exc)),
                "kind": error_kind(exc),
                "moved": _moved(job),
            }
        finally:
            with self._lock:
                self._current = None

    def _sync_queue(self) -> Queue:
        from ..client.queue import Queue

        if self._queue is None:
            self._queue = Queue(self.queue_name, self.connection, prefix=self.prefix)
        return self._queue

    def _async_queue(self) -> AsyncQueue:
        from ..client.aqueue import AsyncQueue

        if self._aqueue is None:
            self._runner()
            self._aqueue = AsyncQueue(self.queue_name, self.connection, prefix=self.prefix)
        return self._aqueue

    def _runner(self) -> asyncio.Runner:
        if self._loop is None:
            self._loop = asyncio.Runner()
        return self._loop

    def close(self) -> None:
        if self._queue is not None:
            self._queue.close()
        if self._loop is not None:
            if self._aqueue is not None:
                with contextlib.suppress(Exception):
                    self._loop.run(self._aqueue.close())
            self._loop.close()


async def _await(awaitable: Any) -> Any:
    return await awaitable


def _moved(job: Any) -> bool:
    return bool(getattr(job, "moved", False))


def _start_up(conn: Connection, target: str, log_level: int,
              initializer: str | None) -> Callable[..., Any] | None:
    """Everything a child does once before its first job; the processor, or None when it
    could not be imported (the parent is told why)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _exit_with_parent()
    if log_level:
        logging.basicConfig(level=log_level)
    try:
        if initializer is not None:
            setup = import_target(initializer)
            try:
                setup()
            except Exception as exc:
                raise InvalidOptionsError(
                    f"the initializer {initializer} failed: {type(exc).__name__}: {exc}"
                ) from exc
        return import_target(target)
    except Exception as exc:
        send(conn, {"op": "startup-error", "message": str(exc)})
        return None


def _read_pipe(conn: Connection, runner: _ChildRunner,
               jobs: queue.SimpleQueue[dict[str, Any] | None]) -> None:
    """(The reader thread.) Cancel requests act at once; the rest goes to the main thread."""
    while True:
        try:
            message = decode(conn.recv_bytes())
        except (EOFError, OSError):
            jobs.put(None)
            return
        if message.get("op") == "cancel":
            reason = message.get("reason")
            runner.cancel(str(message.get("id")), None if reason is None else str(reason))
            continue
        jobs.put(message)
        if message.get("op") != "job":
            return


def child_main(conn: Connection, target: str, connection: PortableConnection, queue_name: str,
               prefix: str, log_level: int, initializer: str | None = None) -> None:
    """The body of a child: start up, then run jobs until told to stop."""
    fn = _start_up(conn, target, log_level, initializer)
    if fn is None:
        conn.close()
        return
    runner = _ChildRunner(fn, connection, queue_name, prefix)
    try:
        send(conn, {"op": "ready", "pid": os.getpid(), "async": runner.is_async})
        # A thread reads the pipe, so that a "cancel" reaches the job while it runs.
        jobs: queue.SimpleQueue[dict[str, Any] | None] = queue.SimpleQueue()
        threading.Thread(target=_read_pipe, args=(conn, runner, jobs), daemon=True,
                         name="queuecore-child-reader").start()
        while True:
            message = jobs.get()
            if message is None or message.get("op") != "job":
                break
            send(conn, {"op": "started"})
            send(conn, runner.run(message))
    finally:
        runner.close()
        conn.close()
