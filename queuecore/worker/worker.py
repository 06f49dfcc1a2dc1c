"""The Worker: fetches jobs, runs the processor, finishes or retries them.

It runs on asyncio. An ``async def`` processor runs on the loop (gets an ``AsyncJob``); a plain
function runs in a thread pool sized to the concurrency (gets a ``Job``). Lock renewal, the
stall check and waiting for delayed jobs run beside the processors, never in their way.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
import logging
import signal
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, TypeAlias, cast

import redis.exceptions as rexc

from ..base.backoff import BackoffStrategy
from ..base.clock import now_ms
from ..base.emitter import Emitter, Listener
from ..base.errors import (
    DataError,
    DelayedError,
    InvalidOptionsError,
    JobTimeoutError,
    LockMismatchError,
    LockNotFoundError,
    QueueCoreError,
    RateLimitError,
    RedisError,
    ScriptError,
    WaitingChildrenError,
)
from ..base.jsonutil import DEFAULT_MAX_DATA_SIZE, dumps_data
from ..base.keys import QueueKeys
from ..base.options import keep_jobs
from ..client.aqueue import AsyncQueue
from ..client.job import AsyncJob, Job, JobRecord
from ..client.queue import Queue
from ..commands import deadletter, worker_ops
from ..commands.ops import worker_client_names
from ..transport import cluster
from ..transport.cluster import is_moved
from ..transport.connection import ConnectionLike, async_client, eviction_policy, redact
from ..transport.errors import (
    CONNECTION_ERRORS,
    is_transient,
    public_error,
    redis_cause,
)
from .failure import plan_failure
from .processes import ProcessPool
from .threads import DaemonThreadPool

log = logging.getLogger("queuecore.worker")

AsyncProcessor: TypeAlias = Callable[[AsyncJob], Awaitable[Any]]
SyncProcessor: TypeAlias = Callable[[Job], Any]
Processor: TypeAlias = AsyncProcessor | SyncProcessor

WORKER_EVENTS = frozenset({"active", "progress", "completed", "failed", "error", "stalled",
                           "drained", "closing", "closed", "ready", "lock-lost"})
# InvalidResponse: the peer said something that is not RESP (a link out of step, or a port
# that is not Redis's): the connection is dropped and the worker tries again.
_CONNECTION_ERRORS = CONNECTION_ERRORS
MAX_BLOCK_SECONDS = 10.0
#: Pauses between tries to create a scheduler's next run (then give up: None).
SCHEDULE_RETRY_PAUSES: tuple[float | None, ...] = (0.2, 0.5, 1, 2, 4, 8, 15, None)


def _is_connection_trouble(exc: BaseException) -> bool:
    return isinstance(exc, _CONNECTION_ERRORS) or isinstance(
        redis_cause(exc), _CONNECTION_ERRORS) or is_transient(exc)


def _positive(name: str, value: float, allow_zero: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidOptionsError(f"{name} must be a number")
    if value < 0 or (value == 0 and not allow_zero):
        raise InvalidOptionsError(f"{name} must be {'>= 0' if allow_zero else '> 0'}")
    return value


class Worker:
    """Processes the jobs of one queue.

    >>> async def process(job: AsyncJob) -> dict[str, int]: ...
    >>> worker = Worker("emails", process, connection="redis://127.0.0.1:6379", concurrency=20)
    >>> await worker.run()   # until worker.close()
    """

    SCHEDULER_HOOK = True  # fetching a job scheduler's run creates the scheduler's next run

    def __init__(
        self,
        queue_name: str,
        processor: Processor | str,
        connection: ConnectionLike = None,
        *,
        prefix: str = "bull",
        concurrency: int = 1,
        name: str | None = None,
        lock_duration: int = 30_000,
        lock_renew_time: int | None = None,
        stalled_interval: int = 30_000,
        max_stalled_count: int = 1,
        drain_delay: float = 5.0,
        backoff_strategy: BackoffStrategy | None = None,
        limiter: dict[str, int] | None = None,
        metrics: dict[str, int] | None = None,
        remove_on_complete: bool | int | dict[str, int] | None = None,
        remove_on_fail: bool | int | dict[str, int] | None = None,
        skip_stalled_check: bool = False,
        shutdown_timeout: float | None = None,
        dead_letter_queue: str | None = None,
        processes: int | None = None,
        max_data_size: int | None = DEFAULT_MAX_DATA_SIZE,
    ) -> None:
        if processes is not None and (isinstance(processes, bool) or
                                      not isinstance(processes, int) or processes < 1):
            raise InvalidOptionsError("processes must be None or an integer >= 1")
        if not callable(processor) and not (processes and isinstance(processor, str)):
            raise InvalidOptionsError(
                "processor must be a function, a coroutine function, or (with processes=)"
                " a 'package.module:function' path")
        if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
            raise InvalidOptionsError("concurrency must be an integer >= 1")
        # No reply timeout (redis-py would wrap every command in asyncio.wait_for): a dead
        # peer is found by TCP keepalive and the health check, a lost job by the stall check.
        self.queue = AsyncQueue(queue_name, connection, prefix=prefix, socket_timeout=None,
                                max_data_size=max_data_size,
                                autopipeline=True)  # many finish calls in flight at once
        self.keys = self.queue.keys
        self.name = queue_name
        self.processor = processor
        self.processes = processes
        self.is_async = inspect.iscoroutinefunction(processor) or inspect.iscoroutinefunction(
            getattr(processor, "__call__", None)  # noqa: B004
        )
        self.concurrency = concurrency
        self.worker_name = name
        self.lock_duration = int(_positive("lock_duration", lock_duration))
        self.lock_renew_time = int(_positive("lock_renew_time",
                                             lock_renew_time or self.lock_duration / 2))
        self.stalled_interval = int(_positive("stalled_interval", stalled_interval))
        self.max_stalled_count = int(_positive("max_stalled_count", max_stalled_count, True))
        self.drain_delay = float(_positive("drain_delay", drain_delay))
        self.backoff_strategy = backoff_strategy
        self.limiter_max, self.limiter_duration = self._limiter(limiter)
        self.metrics_points = int((metrics or {}).get("max_data_points", 0))
        self.remove_on_complete = remove_on_complete
        self.remove_on_fail = remove_on_fail
        self.skip_stalled_check = skip_stalled_check
        self.shutdown_timeout = shutdown_timeout
        self.dead_letter_keys = (QueueKeys.of(dead_letter_queue, prefix)
                                 if dead_letter_queue is not None else None)
        self.id = uuid.uuid4().hex
        self._given_connection = connection
        # In Cluster: the master of the queue's slot.
        self._connection = self.queue.resolved_connection
        self._token_counter = 0
        self._emitter = Emitter(WORKER_EVENTS)
        self._active: dict[str, tuple[str, asyncio.Task[None]]] = {}
        self._lost: set[str] = set()
        self._finishing: set[str] = set()  # finish or retry call sent: the lock goes with it
        self._slot_free: asyncio.Event | None = None  # events are made inside the loop
        self._closing: asyncio.Event | None = None
        self._closed: asyncio.Event | None = None
        self._stop_renewal = threading.Event()
        self._renewer: threading.Thread | None = None
        self._renew_queue: Queue | None = None
        self._running = False
        self._block_client = None  # type: Any
        self._presence_client = None  # type: Any
        self._block_task: asyncio.Task[Any] | None = None
        self._wakers: set[asyncio.Task[None]] = set()
        self._closers: set[asyncio.Task[None]] = set()
        self._block_client_id: int | None = None
        self._executor: DaemonThreadPool | None = None
        self._sync_queue: Queue | None = None
        self._process_pool: ProcessPool | None = None
        self._drained = False
        self._last_error_log = 0.0

    @staticmethod
    def _limiter(limiter: dict[str, int] | None) -> tuple[int, int]:
        if not limiter:
            return 0, 0
        max_jobs = limiter.get("max")
        duration = limiter.get("duration")
        if not isinstance(max_jobs, int) or not isinstance(duration, int) or max_jobs < 1 or (
            duration < 1
        ):
            raise InvalidOptionsError("limiter needs {'max': jobs >= 1, 'duration': ms >= 1}")
        return max_jobs, duration

    # -- events --

    def on(self, event: str, listener: Listener) -> Listener:
        """Listen to active, progress, completed, failed, error, stalled, drained, closed..."""
        return self._emitter.on(event, listener)

    def off(self, event: str, listener: Listener) -> None:
        self._emitter.off(event, listener)

    @property
    def client_name(self) -> str:
        """The blocking connection's name, Node's form: ``<prefix>:<base64 queue>:w:<name>``
        (the worker's id when it has no name), so ``getWorkers`` of Node lists it."""
        return f"{worker_client_names(self.keys)[0]}:w:{self.worker_name or self.id}"

    @property
    def presence_name(self) -> str:
        """The same with the raw queue name, the form Python bullmq's ``getWorkers`` lists."""
        return f"{worker_client_names(self.keys)[1]}:w:{self.worker_name or self.id}"

    @property
    def running(self) -> bool:
        return self._running

    # -- running --

    def run_sync(self, *, handle_signals: bool = True) -> None:
        """Run until SIGINT/SIGTERM (graceful: active jobs finish within shutdown_timeout)."""

        async def main() -> None:
            if handle_signals:
                loop = asyncio.get_running_loop()
                for sig in (signal.SIGINT, signal.SIGTERM):
                    loop.add_signal_handler(sig, self._request_close)
            await self.run()

        asyncio.run(main())

    def _request_close(self) -> None:
        task = asyncio.ensure_future(self.close(timeout=self.shutdown_timeout))
        self._closers.add(task)
        task.add_done_callback(self._closers.discard)

    async def run(self) -> None:
        """Process jobs until ``close()``."""
        if self._running:
            raise QueueCoreError("this worker is already running")
        self._running = True
        self._closing = asyncio.Event()
        self._closed = asyncio.Event()
        self._slot_free = asyncio.Event()
        self._stop_renewal.clear()
        self._block_client = self._new_block_client()
        self._presence_client = self._new_presence_client()
        helpers: list[asyncio.Future[None]] = []
        try:
            await self._announce()
            if self.processes:
                self._process_pool = ProcessPool(self.processor, self.processes,
                                                 self._given_connection, self.name,
                                                 self.keys.prefix)
                await self._process_pool.start()
            elif not self.is_async:
                self._executor = DaemonThreadPool(self.concurrency, f"qc-{self.name}")
            await self._start_renewer()
            helpers.append(asyncio.ensure_future(self._keep_presence_forever()))
            if not self.skip_stalled_check:
                helpers.append(asyncio.ensure_future(self._check_stalled_forever()))
            self._emitter.emit("ready")
            await self._main_loop()
            while self._active:  # close() is letting the active jobs finish
                await asyncio.wait([task for _, task in self._active.values()])
        finally:
            self._closing.set()
            self._stop_renewal.set()
            for task in helpers:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            await self._stop_renewer()
            if self._wakers:
                await asyncio.wait(set(self._wakers))
            await self._shutdown_clients()
            self._running = False
            self._closed.set()
            self._emitter.emit("closed")

    async def _main_loop(self) -> None:
        assert self._closing is not None
        assert self._slot_free is not None
        while not self._closing.is_set():
            if len(self._active) >= self.concurrency:
                self._slot_free.clear()
                await self._wait_any(self._slot_free.wait())
                continue
            try:
                reply = await self.queue.run_op(self._fetch_op())
                self._clear_error()
            except _CONNECTION_ERRORS as exc:
                await self._connection_trouble(exc)
                continue
            except (ScriptError, RedisError, rexc.ResponseError) as exc:
                # Out of memory, READONLY after a failover, NOPERM, BUSY...: report (at most
                # once a second) and try again; the worker itself never dies of it.
                await self._trouble(exc, 1.0)
                continue
            job = self._decode_fetch(reply)
            if job is not None:
                self._start(*job)
                continue
            ttl, next_due = int(reply[2] or 0), int(reply[3] or 0)
            if ttl > 0:
                await self._wait_any(asyncio.sleep(ttl / 1000))
                continue
            if not self._drained and not self._active:
                self._drained = True
                self._emitter.emit("drained")
            await self._wait_for_marker(next_due)

    async def _wait_any(self, awaitable: Awaitable[Any],
                        stop: asyncio.Event | None = None) -> None:
        """Wait for ``awaitable`` or for ``stop`` (default: close()), whichever comes first."""
        stop = stop or self._closing
        assert stop is not None
        waiter = asyncio.ensure_future(awaitable)
        stopper = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait({waiter, stopper}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (waiter, stopper):
                if not task.done():
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task

    async def _wait_for_marker(self, next_due: int) -> None:
        """Block on the marker (no CPU) until a job is added or the next delayed job is due.

        Redis checks blocking timeouts only ``hz`` times a second (100 ms late by default), so
        for a delayed job the worker keeps its own timer and wakes the blocked connection
        with CLIENT UNBLOCK (or, where ACLs forbid it, by cancelling the call)."""
        assert self._closing is not None
        timeout = self.drain_delay
        wake: asyncio.TimerHandle | None = None
        try:
            if self._block_client_id is None:
                self._block_client_id = int(await self._block_client.client_id())
        except _CONNECTION_ERRORS as exc:
            await self._connection_trouble(exc)
            return
        if next_due:
            wait_s = (next_due - now_ms()) / 1000
            if wait_s <= 0.001:
                return
            timeout = min(wait_s, MAX_BLOCK_SECONDS)
            if wait_s <= MAX_BLOCK_SECONDS:
                wake = asyncio.get_running_loop().call_later(wait_s, self._wake_blocked)
                timeout += 0.2  # Redis' own timeout only as a fallback
        block = asyncio.ensure_future(
            self._block_client.bzpopmin(self.keys.marker, timeout))
        self._block_task = block
        try:
            closing = asyncio.ensure_future(self._closing.wait())
            await asyncio.wait({block, closing}, return_when=asyncio.FIRST_COMPLETED)
            closing.cancel()
            if not block.done():  # closing: wake the blocked call, let it return cleanly
                await self._unblock()
                await asyncio.wait({block}, timeout=2)
                if not block.done():
                    block.cancel()
                    # cancel() only asks: let the task end, and never call exception() on one
                    # that has not (InvalidStateError: a crash on SIGTERM in the chaos soak)
                    await asyncio.wait({block}, timeout=5)
            failure = None if not block.done() or block.cancelled() else block.exception()
            if failure is not None:
                raise failure
        except _CONNECTION_ERRORS as exc:
            self._block_client_id = None
            await self._connection_trouble(exc)
        except rexc.ResponseError as exc:
            if is_moved(exc):  # Cluster: the slot moved; follow it
                await self._follow_slot()
            else:
                # A demoted master: READONLY, or UNBLOCKED when it turned replica while
                # this connection was blocked on it. Connect anew.
                if isinstance(exc, rexc.ReadOnlyError) or str(exc).startswith("UNBLOCKED"):
                    await self._renew_clients()
                await self._trouble(exc, 1.0)
        finally:
            if wake is not None:
                wake.cancel()
            self._block_task = None

    def _wake_blocked(self) -> None:
        task = asyncio.ensure_future(self._unblock())
        self._wakers.add(task)
        task.add_done_callback(self._wakers.discard)

    async def _unblock(self) -> None:
        block_task = self._block_task
        if block_task is None or block_task.done():
            return
        try:
            if self._block_client_id is not None:
                await self.queue.client.client_unblock(self._block_client_id)
        except Exception:  # no permission (ACL) or Redis away: cancel the blocked call
            if not block_task.done():
                block_task.cancel()

    async def _follow_slot(self) -> None:
        """The queue's slot moved to another master: block and announce there."""
        self._connection = cluster.resolve(self.queue.connection, self.keys.base)
        await self._renew_clients()

    async def _renew_clients(self) -> None:
        """New blocking and presence connections (the old ones reach a node that no longer
        serves the queue), announced at once."""
        old = (self._block_client, self._presence_client)
        self._block_client = self._new_block_client()
        self._presence_client = self._new_presence_client()
        self._block_client_id = None
        for client in old:
            with contextlib.suppress(Exception):
                await client.aclose()
        await self._announce()

    def _new_block_client(self) -> Any:
        return async_client(self._connection, socket_timeout=None, socket_connect_timeout=5,
                            client_name=self.client_name, single_connection_client=True)

    def _new_presence_client(self) -> Any:
        return async_client(self._connection, client_name=self.presence_name,
                            single_connection_client=True)

    async def _announce(self) -> None:
        """Connect (and so name) the blocking and presence connections now, so that the
        worker is listed by every peer's getWorkers from the start; best effort while Redis
        is away (the next block or renewal reconnects)."""
        try:
            self._block_client_id = int(await self._block_client.client_id())
            await self._presence_client.ping()
        except _CONNECTION_ERRORS as exc:
            self._block_client_id = None
            await self._connection_trouble(exc)
            return
        policy = await eviction_policy(self.queue.client)
        if policy not in ("noeviction", None):
            log.warning("Redis maxmemory-policy is %r: under memory pressure Redis may DELETE "
                        "job data of queue %r. Set maxmemory-policy noeviction.", policy,
                        self.name)

    async def _connection_trouble(self, exc: BaseException) -> None:
        """Redis is away: report at most once a second, wait a little, try again."""
        await self._trouble(exc, 0.5, "Redis unreachable")

    async def _trouble(self, exc: BaseException, pause: float,
                       what: str = "Redis refused") -> None:
        now = time.monotonic()
        if now - self._last_error_log >= 1.0:
            self._last_error_log = now
            log.warning("worker %s: %s (%s: %s); retrying", self.name, what,
                        type(exc).__name__, redact(str(exc)))
            self._emitter.emit("error", public_error(exc))
        if pause:
            await self._wait_any(asyncio.sleep(pause))

    def _clear_error(self) -> None:
        self._last_error_log = 0.0

    # -- fetching --

    def _next_token(self) -> str:
        self._token_counter += 1
        return f"{self.id}:{self._token_counter}"

    def _fetch_op(self) -> Any:
        self._pending_token = self._next_token()
        return worker_ops.move_to_active(
            self.keys, now_ms(), self._pending_token, self.lock_duration, self.limiter_max,
            self.limiter_duration, self.worker_name or self.id)

    def _decode_fetch(self, reply: Any, token: str | None = None) -> tuple[str, dict[str, str],
                                                                           str] | None:
        if not reply or reply[0] == 0 or not reply[0]:
            return None
        fields = reply[0]
        h = dict(zip(fields[::2], fields[1::2], strict=True)) if isinstance(fields, list) \
            else dict(fields)
        self._drained = False
        return str(reply[1]), h, token or self._pending_token

    def _start(self, job_id: str, h: dict[str, str], token: str) -> None:
        assert self._slot_free is not None
        task = asyncio.ensure_future(self._process_chain(job_id, h, token))
        self._active[job_id] = (token, task)

    async def _process_chain(self, job_id: str, h: dict[str, str], token: str) -> None:
        """Process a job, then the next one the finish call handed back, in the same slot."""
        assert self._slot_free is not None
        task = asyncio.current_task()
        assert task is not None
        current: tuple[str, dict[str, str], str] | None = (job_id, h, token)
        try:
            while current is not None:
                jid, fields, tok = current
                self._active[jid] = (tok, task)
                try:
                    current = await self._process_one(jid, fields, tok)
                finally:
                    self._active.pop(jid, None)
                    self._lost.discard(jid)
                    self._finishing.discard(jid)
        finally:
            self._slot_free.set()

    def _make_job(self, job_id: str, h: dict[str, str], token: str) -> AsyncJob | Job:
        fields = JobRecord.fields_from_hash(job_id, h)
        fields["token"] = token
        loop = asyncio.get_running_loop()
        if self.is_async:
            ajob = AsyncJob(self.queue, **fields)
            ajob.on_progress = lambda value: self._emitter.emit("progress", ajob, value)
            return ajob
        sjob = Job(self._get_sync_queue(), **fields)
        # A sync processor reports from its thread: emit on the loop.
        def from_thread(value: Any) -> None:
            loop.call_soon_threadsafe(self._emitter.emit, "progress", sjob, value)

        sjob.on_progress = from_thread
        return sjob

    def _get_sync_queue(self) -> Queue:
        if self._sync_queue is None:
            self._sync_queue = Queue(self.name, self._given_connection, prefix=self.keys.prefix,
                                     max_data_size=self.queue.max_data_size)
        return self._sync_queue

    # -- processing --

    async def _process_one(self, job_id: str, h: dict[str, str],
                           token: str) -> tuple[str, dict[str, str], str] | None:
        job = self._make_job(job_id, h, token)
        if job.scheduler_id:  # first, so a run that stalls too often still has a successor
            await self._schedule_next(job)
        if job.deferred_failure:
            return await self._finish_failed(job, token, job.deferred_failure, "[]")
        self._emitter.emit("active", job, "waiting")
        try:
            result = await self._call_processor(job, job_id, h, token)
        except asyncio.CancelledError:
            raise
        except (DelayedError, WaitingChildrenError):
            return None
        except RateLimitError:
            await self._safe(worker_ops.release(self.keys, job_id, token))
            return None
        except Exception as exc:  # the processor failed: retry or fail the job
            if job.moved:
                return None
            return await self._handle_failure(job, token, exc)
        if job.moved:
            return None
        try:
            value = dumps_data(result, self.queue.max_data_size, what="return value")
        except DataError as exc:
            return await self._handle_failure(job, token, exc)
        return await self._finish_completed(job, token, value, result)

    async def _call_processor(self, job: JobRecord, job_id: str, h: dict[str, str],
                              token: str) -> Any:
        """Run the processor for one attempt, ended by the job's ``timeout`` option (ms):
        an async processor is cancelled, a thread is abandoned, a child process is killed."""
        raw_timeout = job.opts.get("timeout")
        timeout = raw_timeout / 1000 if isinstance(raw_timeout, int | float) and \
            raw_timeout > 0 else None
        if self._process_pool is not None:
            return await self._process_pool.run(job_id, h, token, timeout)
        if self.is_async:
            call = cast(AsyncProcessor, self.processor)(cast(AsyncJob, job))
        else:
            loop = asyncio.get_running_loop()
            sync_call = functools.partial(cast(SyncProcessor, self.processor), cast(Job, job))
            call = loop.run_in_executor(self._executor, sync_call)
        if timeout is None:
            return await call
        try:
            return await asyncio.wait_for(call, timeout)
        except TimeoutError:
            if self._executor is not None:
                self._executor.replace_abandoned()  # that thread is lost to this job
            raise JobTimeoutError(f"job {job_id} timed out after {raw_timeout} ms") from None

    async def _schedule_next(self, job: JobRecord) -> None:
        """A job of a job scheduler was fetched: create the scheduler's next run."""
        from ..commands.schedulers import schedule_next

        # schedule_next is idempotent: a call lost with the connection is tried again (for
        # about 30 s), else the scheduler would never run again (found by the chaos soak)
        for pause in SCHEDULE_RETRY_PAUSES:
            try:
                await schedule_next(self.queue, job, now_ms())
                return
            except (QueueCoreError, *_CONNECTION_ERRORS) as exc:
                retry = pause is not None and _is_connection_trouble(exc)
                log.warning("job %s: next run of scheduler %s not created%s: %s", job.id,
                            job.scheduler_id, ", retrying" if retry else "", exc)
                self._emitter.emit("error", public_error(exc))
                if not retry or pause is None:
                    return
            await asyncio.sleep(pause)

    async def rate_limit(self, ms: int) -> None:
        """Hold every worker of this queue for ``ms``; raise ``RateLimitError`` from the
        processor afterwards to put the current job back unharmed."""
        if isinstance(ms, bool) or not isinstance(ms, int) or ms <= 0:
            raise InvalidOptionsError("rate_limit takes a positive number of ms")
        await self.queue.run_op(worker_ops.rate_limit(self.keys, ms))

    def _fetch_next(self) -> bool:
        assert self._closing is not None
        return not self._closing.is_set()

    async def _finish_completed(self, job: JobRecord, token: str, value: str,
                                result: Any) -> tuple[str, dict[str, str], str] | None:
        next_job = await self._finish(job, token, completed=True, value=value, stack="")
        if next_job is not _FAILED:
            job.return_value = result
            self._emitter.emit("completed", job, result)
        return None if next_job is _FAILED else next_job

    async def _finish_failed(self, job: JobRecord, token: str, reason: str, stack: str,
                             error: BaseException | None = None
                             ) -> tuple[str, dict[str, str], str] | None:
        next_job = await self._finish(job, token, completed=False, value=reason, stack=stack)
        if next_job is _FAILED:
            return None
        job.failed_reason = reason
        self._emitter.emit("failed", job, error or QueueCoreError(reason), "active")
        if self.dead_letter_keys is not None:
            # After the failure is stored, never instead of it: if this call is lost the
            # job simply stays in `failed`.
            await self._safe(deadletter.move_to_dead_letter(self.keys, job.id,
                                                            self.dead_letter_keys), job.id)
        return next_job  # type: ignore[no-any-return]

    async def _finish(self, job: JobRecord, token: str, *, completed: bool, value: str,
                      stack: str) -> Any:
        """Store the outcome (fetching the next job in the same call unless closing); returns
        the next job, None, or _FAILED when the outcome could not be stored."""
        self._finishing.add(job.id)  # also on the deferred-failure path: renewal skips it
        next_token = self._next_token()
        keep = keep_jobs(job.opts.get("removeOnComplete" if completed else "removeOnFail",
                                      self.remove_on_complete if completed
                                      else self.remove_on_fail))
        op = worker_ops.move_to_finished(
            self.keys, job.id, token, now_ms(), completed=completed, value=value,
            stacktrace=stack, keep=keep, max_attempts=job.max_attempts,
            metrics_points=self.metrics_points, fetch_next=self._fetch_next(),
            next_token=next_token, lock_ms=self.lock_duration, limiter_max=self.limiter_max,
            limiter_ms=self.limiter_duration, worker_name=self.worker_name or self.id)
        reply = await self._safe(op, job.id)
        if reply is _FAILED:
            return _FAILED
        job.finished_on = now_ms()
        job.attempts_made += 1
        return self._decode_fetch(reply, next_token) if reply else None

    async def _handle_failure(self, job: JobRecord, token: str,
                              exc: BaseException) -> tuple[str, dict[str, str], str] | None:
        self._finishing.add(job.id)
        plan = plan_failure(job, exc, self.backoff_strategy)
        if plan.retry_in_ms is None:
            return await self._finish_failed(job, token, plan.reason, plan.stacktrace_json, exc)
        if plan.retry_in_ms > 0:
            now = now_ms()
            op = worker_ops.move_to_delayed(self.keys, job.id, token, now,
                                            now + plan.retry_in_ms, count_attempt=True,
                                            reason=plan.reason,
                                            stacktrace=plan.stacktrace_json)
        else:
            op = worker_ops.retry_job(self.keys, job.id, token, plan.reason,
                                      plan.stacktrace_json, bool(job.opts.get("lifo")))
        if await self._safe(op, job.id) is not _FAILED:
            job.failed_reason = plan.reason
            job.attempts_made += 1
            self._emitter.emit("failed", job, exc, "active")
        return None

    async def _safe(self, op: Any, job_id: str | None = None, tries: int = 20) -> Any:
        """Run a finishing op; a lost lock or Redis trouble is reported, never raised."""
        for attempt in range(tries):
            try:
                return await self.queue.run_op(op)
            except (LockNotFoundError, LockMismatchError) as exc:
                log.warning("job %s: lock lost before finishing; left to its new owner", job_id)
                self._emitter.emit("lock-lost", job_id, exc)
                return _FAILED
            except ScriptError as exc:
                self._emitter.emit("error", public_error(exc))
                return _FAILED
            except (*_CONNECTION_ERRORS, RedisError, rexc.ResponseError) as exc:
                # Out of memory, READONLY, LOADING or a dropped connection: try again; an
                # other refusal (NOPERM...) is not cured by retrying.
                retry = isinstance(exc, _CONNECTION_ERRORS) or is_transient(exc)
                if not retry or attempt == tries - 1:
                    self._emitter.emit("error", public_error(exc))
                    return _FAILED
                await asyncio.sleep(min(0.1 * 2**attempt, 2.0))
        return _FAILED

    # -- helpers running beside the processors --

    async def _start_renewer(self) -> None:
        """Locks are renewed from a thread of their own, not from the event loop: a loop
        shares the GIL with thread processors, and a CPU-bound one can delay each of the
        many loop turns a renewal takes by a switch interval (measured: 270 ms late with two
        busy threads), while the thread needs only a few GIL turns per round."""
        self._renew_queue = Queue(self.name, self._given_connection, prefix=self.keys.prefix,
                                  socket_timeout=max(1.5, self.lock_renew_time / 1000))
        # Connect and load the script now: done in the first round, that took 270 ms.
        await asyncio.get_running_loop().run_in_executor(None, self._warm_renewer)
        self._renewer = threading.Thread(
            target=self._renew_locks_forever, args=(asyncio.get_running_loop(),),
            name=f"qc-{self.name}-locks", daemon=True)
        self._renewer.start()

    def _warm_renewer(self) -> None:
        assert self._renew_queue is not None
        with contextlib.suppress(Exception):  # Redis away: the first round will say so
            self._renew_queue.run_op(worker_ops.extend_locks(self.keys, self.lock_duration, {}))

    async def _stop_renewer(self) -> None:
        self._stop_renewal.set()
        if self._renewer is not None:
            await asyncio.get_running_loop().run_in_executor(None, self._renewer.join)
            self._renewer = None
        if self._renew_queue is not None:
            self._renew_queue.close()
            self._renew_queue = None

    def _renew_locks_forever(self, loop: asyncio.AbstractEventLoop) -> None:
        """(In the renewal thread.) Renew all held locks in one call every lock_renew_time,
        until the worker stops (after close(), for as long as jobs are still finishing)."""
        assert self._renew_queue is not None
        while not self._stop_renewal.wait(self.lock_renew_time / 1000):
            # dict(...) and set(...) copy in one C call each, so the loop thread cannot change
            # them midway. A job whose finish call is out releases its lock with it.
            active, finishing = dict(self._active), set(self._finishing)
            tokens = {jid: tok for jid, (tok, _) in active.items() if jid not in finishing}
            if not tokens:
                continue
            try:
                lost = self._renew_queue.run_op(
                    worker_ops.extend_locks(self.keys, self.lock_duration, tokens))
            except Exception as exc:  # keep renewing whatever happened to this round
                self._from_renewer(loop, self._renewal_failed, exc)
                continue
            if lost:
                self._from_renewer(loop, self._locks_lost, lost)

    @staticmethod
    def _from_renewer(loop: asyncio.AbstractEventLoop, callback: Callable[[Any], None],
                      arg: Any) -> None:
        with contextlib.suppress(RuntimeError):  # the loop closed under us: nothing to tell
            loop.call_soon_threadsafe(callback, arg)

    def _renewal_failed(self, exc: BaseException) -> None:
        task = asyncio.ensure_future(self._trouble(exc, 0.0))
        self._wakers.add(task)
        task.add_done_callback(self._wakers.discard)

    def _locks_lost(self, lost: list[str]) -> None:
        """(On the loop.) Jobs whose finish call went out after the renewal round read them
        lost the lock to that call, not to another worker: they are not reported."""
        for jid in lost:
            if jid in self._active and jid not in self._lost and jid not in self._finishing:
                self._lost.add(jid)
                log.warning("job %s: lock could not be renewed", jid)
                self._emitter.emit("lock-lost", jid, None)

    async def _keep_presence_forever(self) -> None:
        """Ping the presence connection, which reconnects (and renames) after an outage."""
        assert self._closing is not None
        while not self._closing.is_set():
            await self._wait_any(asyncio.sleep(self.lock_renew_time / 1000))
            with contextlib.suppress(*_CONNECTION_ERRORS):
                await self._presence_client.ping()

    async def _check_stalled_forever(self) -> None:
        assert self._closing is not None
        while not self._closing.is_set():
            try:
                recovered, _deferred = await self.queue.run_op(worker_ops.check_stalled(
                    self.keys, self.max_stalled_count, now_ms(), self.stalled_interval))
                for jid in recovered:
                    self._emitter.emit("stalled", jid, "active")
            except Exception as exc:  # keep checking whatever happened to this round
                await self._trouble(exc, 0.0)
            await self._wait_any(asyncio.sleep(self.stalled_interval / 1000))

    # -- closing --

    async def close(self, timeout: float | None = None) -> None:
        """Stop fetching, let active jobs finish (up to ``timeout`` seconds), then give the
        rest back to the queue so that they run again. Safe to call more than once."""
        if not self._running or self._closing is None or self._closed is None:
            return
        if not self._closing.is_set():
            self._closing.set()
            self._emitter.emit("closing")
            tasks = [task for _, task in self._active.values()]
            if tasks:
                _done, pending = await asyncio.wait(tasks, timeout=timeout)
                if pending:
                    await self._release_unfinished()
        await self._closed.wait()

    async def _release_unfinished(self) -> None:
        """Give the unfinished jobs back, all at once and with two tries each: when Redis is
        away, close() must not wait out the finishing ops' retries (20 tries, about 35 s, per
        job); a job not given back keeps its lock until it expires, and the stall check of
        any worker then moves it back to wait."""
        held = list(self._active.items())
        await asyncio.gather(*(self._safe(worker_ops.release(self.keys, jid, tok), jid,
                                          tries=2) for jid, (tok, _) in held))
        for jid, (_, task) in held:
            task.cancel()
            self._active.pop(jid, None)
        self._slot_free.set() if self._slot_free else None

    async def _shutdown_clients(self) -> None:
        if self._process_pool is not None:
            await self._process_pool.close()
            self._process_pool = None
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None
        with contextlib.suppress(Exception):
            await self._block_client.aclose()
        with contextlib.suppress(Exception):
            await self._presence_client.aclose()
        with contextlib.suppress(Exception):
            await self.queue.close()
        if self._sync_queue is not None:
            self._sync_queue.close()
            self._sync_queue = None


_FAILED: Any = object()
