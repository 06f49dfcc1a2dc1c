"""Processors in child processes: for CPU-bound work and crash isolation (``processes=N``).

One long-lived child per slot, started with the ``spawn`` (or ``forkserver``) context. The
processor is imported in the child by its module path ("pkg.module:function"); nothing from
the job is ever pickled: the job hash goes to the child as JSON text and the return value
comes back as JSON text. In the child a plain function gets a sync ``Job`` bound to the
child's own ``Queue``, an ``async def`` one gets an ``AsyncJob`` on its own loop, so both can
call ``update_progress`` and ``log``.

A child that dies during a job fails that attempt with ``ChildProcessCrashedError`` and is
replaced; a job over its time limit has its child terminated (SIGTERM, then SIGKILL after a
grace period) and fails with ``JobTimeoutError``. A child whose parent dies exits by itself.
Children ignore SIGINT (a Ctrl-C in the terminal reaches the whole process group; the parent
decides): under systemd use ``KillMode=mixed`` so SIGTERM goes to the parent only.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import inspect
import json
import logging
import multiprocessing
import os
import pickle
import signal
import threading
import traceback
from collections.abc import Callable, Mapping, Sequence
from enum import Enum
from multiprocessing.connection import Connection
from multiprocessing.context import BaseContext
from multiprocessing.process import BaseProcess
from typing import TYPE_CHECKING, Any

from ..base.errors import (
    ChildProcessCrashedError,
    DelayedError,
    InvalidOptionsError,
    JobTimeoutError,
    QueueCoreError,
    RateLimitError,
    RemoteProcessorError,
    UnrecoverableError,
    WaitingChildrenError,
)
from ..base.jsonutil import dumps
from ..base.keys import QueueKeys
from ..transport.connection import ConnectionLike, _kwargs_from

if TYPE_CHECKING:
    from ..client.aqueue import AsyncQueue
    from ..client.queue import Queue

log = logging.getLogger("queuecore.processes")

PortableConnection = str | dict[str, Any] | None

# Errors a processor raises on purpose keep their class across the process boundary.
_CONTROL_ERRORS: dict[str, type[QueueCoreError]] = {
    "unrecoverable": UnrecoverableError,
    "delayed": DelayedError,
    "waiting-children": WaitingChildrenError,
    "rate-limit": RateLimitError,
}
_SIMPLE = (str, int, float, bool, type(None), Enum)


# -- targets ----------------------------------------------------------------------------------


def target_path(target: str | Callable[..., Any]) -> str:
    """"module:qualname" of a processor given as that text or as a top-level function."""
    if isinstance(target, str):
        module, sep, qualname = target.partition(":")
        parts = [*module.split("."), *qualname.split(".")]
        if not sep or not all(part.isidentifier() for part in parts):
            raise InvalidOptionsError(
                f"a processor target looks like 'pkg.module:function', got {target!r}")
        return target
    if not callable(target):
        raise InvalidOptionsError("the processor must be a function or 'pkg.module:function'")
    mod = getattr(target, "__module__", None)
    qual = getattr(target, "__qualname__", None)
    if not isinstance(mod, str) or not isinstance(qual, str) or "<" in qual:
        raise InvalidOptionsError(
            f"{target!r} cannot run in a child process: it must be an importable top-level "
            "function (not a lambda, closure or method); or pass 'pkg.module:function'")
    path = f"{mod}:{qual}"
    if import_target(path) is not target:
        raise InvalidOptionsError(
            f"{target!r} cannot run in a child process: importing {path} gives another object")
    return path


def import_target(path: str) -> Callable[..., Any]:
    """Import "pkg.module:function"; any failure is an ``InvalidOptionsError`` that says so."""
    module_name, _, qualname = target_path(path).partition(":")
    try:
        obj: Any = importlib.import_module(module_name)
        for part in qualname.split("."):
            obj = getattr(obj, part)
    except Exception as exc:
        raise InvalidOptionsError(f"cannot import {path}: {type(exc).__name__}: {exc}") from exc
    if not callable(obj):
        raise InvalidOptionsError(f"cannot import {path}: it is not callable")
    return obj  # type: ignore[no-any-return]


def portable_connection(connection: ConnectionLike) -> PortableConnection:
    """The connection in a form a child process can be started with (a URL or plain options)."""
    if connection is None or isinstance(connection, str):
        return connection
    kwargs = _kwargs_from(connection)
    if kwargs.get("credential_provider") is not None:
        raise InvalidOptionsError("processes= cannot pass a credential_provider to its child "
                                  "processes: give the connection as a redis:// URL")
    plain = {k: v for k, v in kwargs.items()
             if isinstance(v, _SIMPLE) or k in ("connection_class", "sentinel")}
    try:
        pickle.dumps(plain)
    except Exception as exc:
        raise InvalidOptionsError("processes= needs a connection its child processes can "
                                  f"use: give it as a redis:// URL ({exc})") from exc
    return plain


# -- the child --------------------------------------------------------------------------------


def _send(conn: Connection, message: Mapping[str, Any]) -> None:
    conn.send_bytes(json.dumps(message).encode("utf-8"))


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


def _error_kind(exc: BaseException) -> str | None:
    for kind, cls in _CONTROL_ERRORS.items():
        if isinstance(exc, cls):
            return kind
    return None


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
        self._queue: Queue | None = None
        self._aqueue: AsyncQueue | None = None
        self._loop: asyncio.Runner | None = None

    def run(self, message: Mapping[str, Any]) -> dict[str, Any]:
        from ..client.job import AsyncJob, Job, JobRecord

        fields = JobRecord.fields_from_hash(str(message["id"]), dict(message["hash"]))
        fields["token"] = str(message["token"])
        job: JobRecord | None = None
        try:
            if self.is_async:
                job = AsyncJob(self._async_queue(), **fields)
                result = self._runner().run(self.fn(job))
            else:
                job = Job(self._sync_queue(), **fields)
                result = self.fn(job)
                if inspect.isawaitable(result):
                    result = self._runner().run(_await(result))
            return {"op": "result", "value": dumps(result), "moved": _moved(job)}
        except Exception as exc:
            return {
                "op": "error",
                "type": f"{type(exc).__module__}.{type(exc).__qualname__}",
                "message": str(exc),
                "traceback": "".join(traceback.format_exception(exc)),
                "kind": _error_kind(exc),
                "moved": _moved(job),
            }

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


def _child_main(conn: Connection, target: str, connection: PortableConnection, queue_name: str,
                prefix: str, log_level: int) -> None:
    """The body of a child: import the processor, then run jobs until told to stop."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _exit_with_parent()
    if log_level:
        logging.basicConfig(level=log_level)
    try:
        fn = import_target(target)
    except Exception as exc:
        _send(conn, {"op": "startup-error", "message": str(exc)})
        conn.close()
        return
    runner = _ChildRunner(fn, connection, queue_name, prefix)
    try:
        _send(conn, {"op": "ready", "pid": os.getpid(), "async": runner.is_async})
        while True:
            try:
                message = json.loads(conn.recv_bytes())
            except (EOFError, OSError):
                break
            if message.get("op") != "job":
                break
            _send(conn, {"op": "started"})
            _send(conn, runner.run(message))
    finally:
        runner.close()
        conn.close()


# -- the parent -------------------------------------------------------------------------------


class _ChildGone(Exception):
    pass


class _RemoteTraceback(Exception):
    """Chained as the cause of a remote error so that its formatted traceback shows the
    child's (the way ``concurrent.futures.ProcessPoolExecutor`` does)."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text

    def __str__(self) -> str:
        return f'\n"""\n{self.text.rstrip()}\n"""'


async def _readable(fds: Sequence[int]) -> None:
    """Wait until one of ``fds`` can be read (data, EOF or a process that ended)."""
    loop = asyncio.get_running_loop()
    ready: asyncio.Future[None] = loop.create_future()

    def wake() -> None:
        if not ready.done():
            ready.set_result(None)

    added: list[int] = []
    try:
        for fd in fds:
            loop.add_reader(fd, wake)
            added.append(fd)
        await ready
    finally:
        for fd in added:
            loop.remove_reader(fd)


class _Child:
    """One child process and the parent's end of its pipe."""

    def __init__(self, process: BaseProcess, conn: Connection) -> None:
        self.process = process
        self.conn = conn
        self.pid = process.pid
        self.closed = False
        self.exitcode: int | None = None

    def alive(self) -> bool:
        return not self.closed and self.process.is_alive()

    def send(self, message: Mapping[str, Any]) -> None:
        _send(self.conn, message)

    async def receive(self) -> dict[str, Any]:
        """The next message; ``_ChildGone`` when the child ended first."""
        while True:
            if self.conn.poll():
                try:
                    data = self.conn.recv_bytes()
                except (EOFError, OSError):
                    raise _ChildGone from None
                message: dict[str, Any] = json.loads(data)
                return message
            if not self.process.is_alive():
                raise _ChildGone
            await _readable([self.conn.fileno(), self.process.sentinel])
            if not self.conn.poll() and self.process.is_alive():
                await asyncio.sleep(0.005)  # the pipe closed, the exit is on its way

    async def wait_exit(self, timeout: float) -> bool:
        """Wait up to ``timeout`` s for the process to end; True when it has."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                while self.process.is_alive():
                    await _readable([self.process.sentinel])
                    if self.process.is_alive():
                        await asyncio.sleep(0.005)
        return not self.process.is_alive()

    async def stop(self, grace: float, *, polite: bool = True) -> int | None:
        """Ask the child to leave (when ``polite``), then SIGTERM, then SIGKILL; free it all.
        Returns its exit code."""
        if self.closed:
            return self.exitcode
        if polite and self.process.is_alive():
            with contextlib.suppress(OSError):
                self.send({"op": "stop"})
            await self.wait_exit(grace)
        if self.process.is_alive():
            self.process.terminate()
            if not await self.wait_exit(grace):
                self.process.kill()
                await self.wait_exit(10)
        return self.release()

    def kill_now(self) -> None:
        """For paths that cannot wait (cancellation): SIGKILL and reap."""
        if not self.closed:
            if self.process.is_alive():
                self.process.kill()
                self.process.join(5)
            self.release()

    def release(self) -> int | None:
        if self.closed:
            return self.exitcode
        self.process.join(0)
        self.exitcode = self.process.exitcode
        self.conn.close()
        if self.exitcode is not None:
            self.process.close()
        self.closed = True
        return self.exitcode


def _exit_text(code: int | None) -> str:
    if code is None:
        return "an unknown exit code"
    if code < 0:
        try:
            return f"exit code {code} ({signal.Signals(-code).name})"
        except ValueError:
            return f"exit code {code}"
    return f"exit code {code}"


class ProcessPool:
    """Runs a processor in ``processes`` long-lived child processes, one job per child.

    >>> pool = ProcessPool("app.tasks:resize", 4, "redis://127.0.0.1:6379/0", "images")
    >>> await pool.start()
    >>> value = await pool.run(job_id, job_hash, token, timeout_s=60)
    >>> await pool.close()
    """

    def __init__(
        self,
        target: str | Callable[..., Any],
        processes: int,
        connection: ConnectionLike = None,
        queue_name: str = "",
        prefix: str = "bull",
        *,
        context: str = "spawn",
        start_timeout: float = 60.0,
        term_grace: float = 2.0,
    ) -> None:
        if isinstance(processes, bool) or not isinstance(processes, int) or processes < 1:
            raise InvalidOptionsError("processes must be an integer >= 1")
        if context not in ("spawn", "forkserver"):
            raise InvalidOptionsError("context must be 'spawn' or 'forkserver' (fork is unsafe "
                                      "with threads and open Redis connections)")
        QueueKeys.of(queue_name, prefix)  # a bad name or prefix fails here, not in a child
        self.target = target_path(target)
        self.processes = processes
        self.queue_name = queue_name
        self.prefix = prefix
        self.start_timeout = start_timeout
        self.term_grace = term_grace
        self._connection = portable_connection(connection)
        self._ctx: BaseContext = multiprocessing.get_context(context)
        self._children: list[_Child | None] = [None] * processes
        self._idle: asyncio.Queue[int] | None = None
        self._restarts: set[asyncio.Task[None]] = set()
        self._closed = False

    def __repr__(self) -> str:
        return f"<ProcessPool {self.target} x{self.processes} for {self.prefix}:{self.queue_name}>"

    @property
    def pids(self) -> list[int | None]:
        """The pid of each slot's child (None while one is being replaced)."""
        return [c.pid if c is not None and not c.closed else None for c in self._children]

    async def __aenter__(self) -> ProcessPool:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def start(self) -> None:
        """Start every child and wait until each has imported the processor."""
        if self._idle is not None:
            raise QueueCoreError("this process pool was already started")
        self._idle = asyncio.Queue()
        results = await asyncio.gather(*(self._spawn(i) for i in range(self.processes)),
                                       return_exceptions=True)
        failures = [r for r in results if isinstance(r, BaseException)]
        for i, result in enumerate(results):
            if isinstance(result, _Child):
                self._children[i] = result
        if failures:
            await self.close()
            raise failures[0]
        for i in range(self.processes):
            self._idle.put_nowait(i)

    async def _spawn(self, slot: int) -> _Child:
        parent_conn, child_conn = self._ctx.Pipe(duplex=True)
        process = self._ctx.Process(  # type: ignore[attr-defined]
            target=_child_main,
            args=(child_conn, self.target, self._connection, self.queue_name, self.prefix,
                  logging.getLogger().level if logging.getLogger().handlers else 0),
            name=f"queuecore-{self.queue_name}-{slot}",
            daemon=True,
        )
        try:
            process.start()
        except BaseException:
            parent_conn.close()
            raise
        finally:
            child_conn.close()
        child = _Child(process, parent_conn)
        try:
            async with asyncio.timeout(self.start_timeout):
                message = await child.receive()
        except _ChildGone:
            code = await child.stop(self.term_grace, polite=False)
            raise ChildProcessCrashedError(
                f"the child process for {self.target} ended while starting, with "
                f"{_exit_text(code)}", exitcode=code, pid=child.pid) from None
        except TimeoutError:
            await child.stop(self.term_grace, polite=False)
            raise ChildProcessCrashedError(
                f"the child process for {self.target} did not start within "
                f"{self.start_timeout} s", pid=child.pid) from None
        except BaseException:
            child.kill_now()
            raise
        if message.get("op") != "ready":
            await child.stop(self.term_grace)
            raise InvalidOptionsError(str(message.get("message") or message))
        return child

    async def _ready_child(self, slot: int) -> _Child:
        child = self._children[slot]
        if child is not None and child.alive():
            return child
        if child is not None:
            await child.stop(self.term_grace, polite=False)
            self._children[slot] = None
        child = await self._spawn(slot)
        self._children[slot] = child
        return child

    async def run(self, job_id: str, job_hash: dict[str, str], token: str,
                  timeout_s: float | None = None) -> Any:
        """Run one job in a free child and return the processor's (JSON) return value.

        Raises what the processor raised (``UnrecoverableError`` and the other queuecore
        control errors keep their class, anything else is a ``RemoteProcessorError``),
        ``ChildProcessCrashedError`` when the child died, ``JobTimeoutError`` after
        ``timeout_s`` seconds."""
        if self._idle is None or self._closed:
            raise QueueCoreError("the process pool is not running: call start() first")
        message = {"op": "job", "id": str(job_id), "hash": dict(job_hash), "token": str(token)}
        slot = await self._idle.get()
        give_back = True
        child: _Child | None = None
        try:
            child = await self._hand_over(slot, message)
            try:
                async with asyncio.timeout(timeout_s):
                    reply = await child.receive()
            except _ChildGone:
                code = await child.stop(self.term_grace, polite=False)
                give_back = False
                self._replace_later(slot)
                raise ChildProcessCrashedError(
                    f"the child process (pid {child.pid}) running job {job_id} died with "
                    f"{_exit_text(code)}", exitcode=code, pid=child.pid) from None
            except TimeoutError:
                await child.stop(self.term_grace, polite=False)
                give_back = False
                self._replace_later(slot)
                raise JobTimeoutError(
                    f"job {job_id} timed out after {timeout_s} s; its child process "
                    f"(pid {child.pid}) was terminated") from None
        except asyncio.CancelledError:
            child = self._children[slot]
            if child is not None and not child.closed:
                child.process.terminate()  # it may be running the job: it must not finish it
                give_back = False
                self._replace_later(slot)
            raise
        finally:
            if give_back:
                self._idle.put_nowait(slot)
        return self._decode(reply, job_id)

    async def _hand_over(self, slot: int, message: Mapping[str, Any]) -> _Child:
        """Send the job to the slot's child and wait for its "started". A child that died
        before it started the job (while idle, or just now) is replaced and the job goes to
        the new one: no attempt is lost to a child that never ran it."""
        for _ in range(3):
            child = await self._ready_child(slot)
            try:
                child.send(message)
                ack = await child.receive()
            except (OSError, _ChildGone):
                await child.stop(self.term_grace, polite=False)
                self._children[slot] = None
                continue
            if ack.get("op") != "started":
                raise QueueCoreError(f"unexpected message from a child process: {ack!r}")
            return child
        raise ChildProcessCrashedError("the child processes died before starting the job")

    def _replace_later(self, slot: int) -> None:
        """Replace a slot's child in the background; the slot is free again after."""
        task = asyncio.ensure_future(self._replace(slot))
        self._restarts.add(task)
        task.add_done_callback(self._restarts.discard)

    async def _replace(self, slot: int) -> None:
        assert self._idle is not None
        try:
            old = self._children[slot]
            if old is not None:
                await old.stop(self.term_grace, polite=False)
                self._children[slot] = None
            if not self._closed:
                self._children[slot] = await self._spawn(slot)
        except Exception:  # the next job on this slot tries again and reports the reason
            log.exception("could not replace the child process of slot %d", slot)
        finally:
            self._idle.put_nowait(slot)

    @staticmethod
    def _decode(reply: Mapping[str, Any], job_id: str) -> Any:
        if reply.get("moved"):
            raise DelayedError(f"job {job_id} was moved by its processor")
        op = reply.get("op")
        if op == "result":
            return json.loads(reply["value"])
        if op != "error":
            raise QueueCoreError(f"unexpected message from a child process: {op!r}")
        remote_type = str(reply.get("type") or "Exception")
        text = str(reply.get("message") or "") or remote_type.rsplit(".", 1)[-1]
        tb = str(reply.get("traceback") or "")
        control = _CONTROL_ERRORS.get(str(reply.get("kind")))
        error: QueueCoreError
        if control is not None:
            error = control(text)
        else:
            error = RemoteProcessorError(text, remote_type=remote_type, remote_traceback=tb)
        error.__cause__ = _RemoteTraceback(tb)
        raise error

    async def close(self) -> None:
        """Stop every child (each finishes the job it is running within the grace period)."""
        if self._closed:
            return
        self._closed = True
        for task in list(self._restarts):
            task.cancel()
        for task in list(self._restarts):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        children = [c for c in self._children if c is not None]
        await asyncio.gather(*(c.stop(self.term_grace) for c in children),
                             return_exceptions=True)
