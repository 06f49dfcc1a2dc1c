"""Processors in child processes: for CPU-bound work and crash isolation (``processes=N``).

One long-lived child per slot (queuecore/worker/process_child.py), started with the ``spawn``
(or ``forkserver``) context. The processor is imported in the child by its module path
("pkg.module:function"); nothing from the job is ever pickled: the job hash goes to the child
as JSON text and the return value comes back as JSON text (process_protocol.py).

A child that dies during a job fails that attempt with ``ChildProcessCrashedError`` and is
replaced; a job over its time limit has its child terminated (SIGTERM, then SIGKILL after a
grace period) and fails with ``JobTimeoutError``. Children ignore SIGINT: under systemd use
``KillMode=mixed`` so SIGTERM goes to the parent only.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import pickle
from collections.abc import Callable, Mapping
from enum import Enum
from multiprocessing.context import BaseContext
from typing import Any

from ..base.errors import (
    ChildProcessCrashedError,
    InvalidOptionsError,
    JobTimeoutError,
    QueueCoreError,
)
from ..base.keys import QueueKeys
from ..base.validation import positive_int
from ..transport.connection import ConnectionLike, connection_kwargs
from .process_child import child_main
from .process_handle import ChildGone, ChildHandle, exit_text
from .process_protocol import PortableConnection, job_outcome
from .targets import target_path

log = logging.getLogger("queuecore.processes")

_SIMPLE = (str, int, float, bool, type(None), Enum)


def portable_connection(connection: ConnectionLike) -> PortableConnection:
    """The connection in a form a child process can be started with (a URL or plain options)."""
    if connection is None or isinstance(connection, str):
        return connection
    kwargs = connection_kwargs(connection)
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



class ProcessPool:
    """Runs a processor in ``processes`` long-lived child processes, one job per child.

    ``initializer`` ("pkg.module:function" or a top-level function, no arguments) is called
    in each child before the processor is imported.

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
        initializer: str | Callable[[], object] | None = None,
    ) -> None:
        positive_int("processes", processes)
        if context not in ("spawn", "forkserver"):
            raise InvalidOptionsError("context must be 'spawn' or 'forkserver' (fork is unsafe "
                                      "with threads and open Redis connections)")
        QueueKeys.of(queue_name, prefix)  # a bad name or prefix fails here, not in a child
        self.target = target_path(target)
        # Called in each child before the processor is imported (by path: nothing pickled).
        self.initializer = target_path(initializer) if initializer is not None else None
        self.processes = processes
        self.queue_name = queue_name
        self.prefix = prefix
        self.start_timeout = start_timeout
        self.term_grace = term_grace
        self._connection = portable_connection(connection)
        self._ctx: BaseContext = multiprocessing.get_context(context)
        self._children: list[ChildHandle | None] = [None] * processes
        self._idle: asyncio.Queue[int] | None = None
        self._restarts: set[asyncio.Task[None]] = set()
        self._running: dict[str, ChildHandle] = {}  # job id -> the child running it
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
            if isinstance(result, ChildHandle):
                self._children[i] = result
        if failures:
            await self.close()
            raise failures[0]
        for i in range(self.processes):
            self._idle.put_nowait(i)

    async def _spawn(self, slot: int) -> ChildHandle:
        parent_conn, child_conn = self._ctx.Pipe(duplex=True)
        process = self._ctx.Process(  # type: ignore[attr-defined]
            target=child_main,
            args=(child_conn, self.target, self._connection, self.queue_name, self.prefix,
                  logging.getLogger().level if logging.getLogger().handlers else 0,
                  self.initializer),
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
        child = ChildHandle(process, parent_conn)
        try:
            async with asyncio.timeout(self.start_timeout):
                message = await child.receive()
        except ChildGone:
            code = await child.stop(self.term_grace, polite=False)
            raise ChildProcessCrashedError(
                f"the child process for {self.target} ended while starting, with "
                f"{exit_text(code)}", exitcode=code, pid=child.pid) from None
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

    async def _ready_child(self, slot: int) -> ChildHandle:
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
        child: ChildHandle | None = None
        try:
            child = await self._hand_over(slot, message)
            self._running[str(job_id)] = child
            try:
                async with asyncio.timeout(timeout_s):
                    reply = await child.receive()
            except ChildGone:
                code = await child.stop(self.term_grace, polite=False)
                give_back = False
                self._replace_later(slot)
                raise ChildProcessCrashedError(
                    f"the child process (pid {child.pid}) running job {job_id} died with "
                    f"{exit_text(code)}", exitcode=code, pid=child.pid) from None
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
            self._running.pop(str(job_id), None)
            if give_back:
                self._idle.put_nowait(slot)
        return job_outcome(reply, job_id)

    def cancel(self, job_id: str, reason: str | None = None) -> bool:
        """Cancel the ``CancelSignal`` of a job a child is running (when its processor takes
        one); False when no child runs it."""
        child = self._running.get(str(job_id))
        if child is None:
            return False
        try:
            child.send({"op": "cancel", "id": str(job_id), "reason": reason})
        except OSError:  # it just died: the crash is reported by run()
            return False
        return True

    async def _hand_over(self, slot: int, message: Mapping[str, Any]) -> ChildHandle:
        """Send the job to the slot's child and wait for its "started". A child that died
        before it started the job (while idle, or just now) is replaced and the job goes to
        the new one: no attempt is lost to a child that never ran it."""
        for _ in range(3):
            child = await self._ready_child(slot)
            try:
                child.send(message)
                ack = await child.receive()
            except (OSError, ChildGone):
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
