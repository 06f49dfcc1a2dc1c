"""Where a processor runs: on the loop, in a thread, or in a child process.

Each executor runs one attempt with ``call(job, job_id, job_hash, token)``, ended by the
job's ``timeout`` option (ms): an async processor is cancelled, a thread is abandoned (and
replaced, so capacity stays), a child process is killed.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeAlias, cast

from ..base.cancel import CancelSignal
from ..base.errors import JobTimeoutError
from ..client.ajob import AsyncJob
from ..client.job import Job
from ..commands.record import JobRecord
from ..transport.connection import ConnectionLike
from .process_pool import ProcessPool
from .threads import ContextThreadPool, DaemonThreadPool

#: A processor takes the job, and may take a ``CancelSignal`` second (it opts in so).
AsyncProcessor: TypeAlias = Callable[..., Awaitable[Any]]
SyncProcessor: TypeAlias = Callable[..., Any]
Processor: TypeAlias = AsyncProcessor | SyncProcessor


class Executor(Protocol):
    async def start(self) -> None: ...

    async def call(self, job: JobRecord, job_id: str, job_hash: dict[str, str],
                   token: str, signal: CancelSignal | None = None) -> Any: ...

    async def close(self) -> None: ...


def _timed_out(job_id: str, raw_timeout: Any) -> JobTimeoutError:
    return JobTimeoutError(f"job {job_id} timed out after {raw_timeout} ms")


class ManualExecutor:
    """A worker without a processor (manual processing) never runs one."""

    async def start(self) -> None:
        pass

    async def call(self, job: JobRecord, job_id: str, job_hash: dict[str, str],
                   token: str, signal: CancelSignal | None = None) -> Any:
        raise AssertionError("a worker without a processor runs no job")

    async def close(self) -> None:
        pass


class AsyncExecutor:
    """An ``async def`` processor, on the worker's loop."""

    def __init__(self, processor: AsyncProcessor) -> None:
        self._processor = processor

    async def start(self) -> None:
        pass

    async def call(self, job: JobRecord, job_id: str, job_hash: dict[str, str],
                   token: str, signal: CancelSignal | None = None) -> Any:
        raw_timeout = job.opts.get("timeout")
        call = (self._processor(cast(AsyncJob, job)) if signal is None
                else self._processor(cast(AsyncJob, job), signal))
        if not (isinstance(raw_timeout, int | float) and raw_timeout > 0):
            return await call
        try:
            return await asyncio.wait_for(call, raw_timeout / 1000)
        except TimeoutError:
            raise _timed_out(job_id, raw_timeout) from None

    async def close(self) -> None:
        pass


class ThreadExecutor:
    """A plain function, in a pool of daemon threads sized to the concurrency."""

    def __init__(self, processor: SyncProcessor, size: int, thread_name: str,
                 carry_context: bool = False) -> None:
        self._processor = processor
        self._size = size
        self._thread_name = thread_name
        # Run each call in the job task's context (telemetry's current span): chosen once.
        self._pool_class = ContextThreadPool if carry_context else DaemonThreadPool
        self._pool: DaemonThreadPool | None = None

    async def start(self) -> None:
        self._pool = self._pool_class(self._size, self._thread_name)

    async def call(self, job: JobRecord, job_id: str, job_hash: dict[str, str],
                   token: str, signal: CancelSignal | None = None) -> Any:
        raw_timeout = job.opts.get("timeout")
        loop = asyncio.get_running_loop()
        sync_call = (functools.partial(self._processor, cast(Job, job)) if signal is None
                     else functools.partial(self._processor, cast(Job, job), signal))
        call = loop.run_in_executor(self._pool, sync_call)
        if not (isinstance(raw_timeout, int | float) and raw_timeout > 0):
            return await call
        try:
            return await asyncio.wait_for(call, raw_timeout / 1000)
        except TimeoutError:
            if self._pool is not None:
                self._pool.replace_abandoned()  # that thread is lost to this job
            raise _timed_out(job_id, raw_timeout) from None

    async def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None


class ProcessExecutor:
    """A ``"module:function"`` (or top-level function) in ``processes`` child processes."""

    def __init__(self, target: str | Callable[..., Any], processes: int,
                 connection: ConnectionLike, queue_name: str, prefix: str,
                 initializer: str | None = None) -> None:
        self._target = target
        self._initializer = initializer
        self._processes = processes
        self._connection = connection
        self._queue_name = queue_name
        self._prefix = prefix
        self._pool: ProcessPool | None = None

    async def start(self) -> None:
        self._pool = ProcessPool(self._target, self._processes, self._connection,
                                 self._queue_name, self._prefix,
                                 initializer=self._initializer)
        await self._pool.start()

    async def call(self, job: JobRecord, job_id: str, job_hash: dict[str, str],
                   token: str, signal: CancelSignal | None = None) -> Any:
        assert self._pool is not None
        raw_timeout = job.opts.get("timeout")
        timeout = raw_timeout / 1000 if isinstance(raw_timeout, int | float) and \
            raw_timeout > 0 else None
        return await self._pool.run(job_id, job_hash, token, timeout)

    def cancel(self, job_id: str, reason: str | None) -> bool:
        """Hand a cancel to the child running the job (its processor may take a signal)."""
        return self._pool is not None and self._pool.cancel(job_id, reason)

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None
