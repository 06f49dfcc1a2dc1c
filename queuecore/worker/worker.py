"""The Worker: fetches jobs, runs the processor, finishes or retries them.

It runs on asyncio. An ``async def`` processor runs on the loop (gets an ``AsyncJob``); a plain
function runs in a thread pool sized to the concurrency (gets a ``Job``). Lock renewal, the
stall check and waiting for delayed jobs run beside the processors, never in their way.

The Worker composes its parts (each in its own module of this package):

- ``options``: the constructor's options, validated into one ``WorkerSettings``;
- ``connections``: its Redis clients, and following the queue's slot in Cluster;
- ``fetcher``: the fetch loop, blocking on the marker, waking for delayed jobs;
- ``job_runner`` and ``executors``: one slot's job, its processor on the loop, in a thread
  or in a child process;
- ``finisher``: completed, failed, retried, dead-lettered, given back on close;
- ``lock_renewer`` and ``stall_checker``: beside the processors;
- ``state`` and ``trouble``: what the parts share, and how Redis trouble is reported.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
import uuid
from collections.abc import Callable

from ..base.backoff import BackoffStrategy
from ..base.emitter import Emitter, Listener
from ..base.errors import QueueCoreError
from ..base.jsonutil import DEFAULT_MAX_DATA_SIZE
from ..base.keys import QueueKeys
from ..base.telemetry import Telemetry
from ..base.validation import positive_int
from ..client.ajob import AsyncJob
from ..client.aqueue import AsyncQueue
from ..commands import worker_ops
from ..commands.ops import worker_client_names
from ..transport.connection import ConnectionLike
from .connections import WorkerConnections
from .executors import (
    AsyncExecutor,
    AsyncProcessor,
    Executor,
    ManualExecutor,
    ProcessExecutor,
    Processor,
    SyncProcessor,
    ThreadExecutor,
)
from .fetcher import Fetcher
from .finisher import Finisher
from .job_runner import JobRunner
from .lock_renewer import LockRenewer
from .manual import ManualFetcher
from .options import KeepOption, worker_settings
from .remote_cancel import RemoteCancelListener
from .stall_checker import StallChecker
from .state import RunState
from .timings import TimingRecorder
from .traced import TracedFinisher, TracedJobRunner
from .trouble import TroubleReporter

__all__ = ["WORKER_EVENTS", "AsyncProcessor", "Processor", "SyncProcessor", "Worker"]

WORKER_EVENTS = frozenset({"active", "progress", "completed", "failed", "error", "stalled",
                           "drained", "closing", "closed", "ready", "lock-lost", "paused",
                           "resumed"})


class Worker:
    """Processes the jobs of one queue.

    >>> async def process(job: AsyncJob) -> dict[str, int]: ...
    >>> worker = Worker("emails", process, connection="redis://127.0.0.1:6379", concurrency=20)
    >>> await worker.run()   # until worker.close()
    """


    def __init__(
        self,
        queue_name: str,
        processor: Processor | str | None,
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
        remove_on_complete: KeepOption = None,
        remove_on_fail: KeepOption = None,
        skip_stalled_check: bool = False,
        shutdown_timeout: float | None = None,
        dead_letter_queue: str | None = None,
        processes: int | None = None,
        process_initializer: str | Callable[[], object] | None = None,
        max_data_size: int | None = DEFAULT_MAX_DATA_SIZE,
        telemetry: Telemetry | None = None,
        remote_cancel: bool = False,
    ) -> None:
        settings = worker_settings(
            processor, prefix=prefix, concurrency=concurrency, name=name,
            lock_duration=lock_duration, lock_renew_time=lock_renew_time,
            stalled_interval=stalled_interval, max_stalled_count=max_stalled_count,
            drain_delay=drain_delay, backoff_strategy=backoff_strategy, limiter=limiter,
            metrics=metrics, remove_on_complete=remove_on_complete,
            remove_on_fail=remove_on_fail, skip_stalled_check=skip_stalled_check,
            shutdown_timeout=shutdown_timeout, dead_letter_queue=dead_letter_queue,
            processes=processes, process_initializer=process_initializer)
        # No reply timeout (redis-py would wrap every command in asyncio.wait_for): a dead
        # peer is found by TCP keepalive and the health check, a lost job by the stall check.
        self.queue = AsyncQueue(queue_name, connection, prefix=prefix, socket_timeout=None,
                                max_data_size=max_data_size, telemetry=telemetry,
                                autopipeline=True)  # many finish calls in flight at once
        self.keys: QueueKeys = self.queue.keys
        self.name = queue_name
        self.processor = processor
        self.id = uuid.uuid4().hex
        # The options under their own names (documented attributes; read-only in effect:
        # the parts took their values from ``settings``).
        self.processes = settings.processes
        self.process_initializer = settings.process_initializer
        self.is_async = settings.is_async
        self.concurrency = settings.concurrency
        self.worker_name = settings.worker_name
        self.lock_duration = settings.lock_duration
        self.lock_renew_time = settings.lock_renew_time
        self.stalled_interval = settings.stalled_interval
        self.max_stalled_count = settings.max_stalled_count
        self.drain_delay = settings.drain_delay
        self.backoff_strategy = settings.backoff_strategy
        self.limiter_max = settings.limiter_max
        self.limiter_duration = settings.limiter_duration
        self.metrics_points = settings.metrics_points
        self.remove_on_complete = settings.remove_on_complete
        self.remove_on_fail = settings.remove_on_fail
        self.skip_stalled_check = settings.skip_stalled_check
        self.shutdown_timeout = settings.shutdown_timeout
        self.dead_letter_keys = settings.dead_letter_keys
        self.telemetry = telemetry
        self.remote_cancel = bool(remote_cancel)

        self._running = False
        self._closers: set[asyncio.Task[None]] = set()
        self._emitter = Emitter(WORKER_EVENTS)
        self._state = state = RunState()
        if processor is not None:
            # A processor's own move (move_to_delayed, ...) took the lock: renew it no more.
            self.queue.on_job_moved = state.finishing.add
        self._active = state.active  # job id -> (token, task)
        emitter = self._emitter
        self._trouble = trouble = TroubleReporter(queue_name, emitter, state)
        self._connections = connections = WorkerConnections(
            self.queue, self.client_name, self.presence_name, state, trouble)
        self._executor = self._make_executor(processor, settings.processes)
        self._manual = ManualFetcher(self.queue, settings, self.id, self.client_name, emitter)
        self._fetcher = fetcher = Fetcher(self.queue, settings, self.id, state, connections,
                                          trouble, emitter)
        if telemetry is None:
            self._finisher = finisher = Finisher(self.queue, settings, self.id, state, fetcher,
                                                 emitter)
            self._job_runner = JobRunner(self.queue, settings.is_async, connections,
                                         self._executor, finisher, state, emitter,
                                         settings.takes_signal)
        else:  # the traced parts: the plain ones do no tracing work per job
            self._finisher = finisher = TracedFinisher(
                self.queue, settings, self.id, state, fetcher, emitter, telemetry=telemetry)
            self._job_runner = TracedJobRunner(
                self.queue, settings.is_async, connections, self._executor, finisher, state,
                emitter, settings.takes_signal, telemetry=telemetry, worker_id=self.id,
                worker_name=self.worker_name)
        self._lock_renewer = LockRenewer(self.keys, queue_name, settings.lock_duration,
                                         settings.lock_renew_time, connections, state, trouble,
                                         emitter)
        self._timings = TimingRecorder.attach(self.queue, emitter, settings.metrics_points > 0)
        self._stall_checker = StallChecker(self.queue, settings.max_stalled_count,
                                           settings.stalled_interval, state, trouble, emitter)

    def _make_executor(self, processor: Processor | str | None,
                       processes: int | None) -> Executor:
        if processor is None:
            return ManualExecutor()
        if processes:
            return ProcessExecutor(processor, processes, self.queue.connection, self.name,
                                   self.keys.prefix, self.process_initializer)
        if self.is_async:
            return AsyncExecutor(processor)  # type: ignore[arg-type]
        return ThreadExecutor(processor, self.concurrency,  # type: ignore[arg-type]
                              f"qc-{self.name}", carry_context=self.telemetry is not None)

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

    @property
    def active_count(self) -> int:
        """The number of jobs this worker is processing now."""
        return len(self._active)

    @property
    def _renewer(self) -> threading.Thread | None:
        """The lock renewal thread while it runs (None after run() ended)."""
        return self._lock_renewer.thread

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
        if self.processor is None:
            raise QueueCoreError("a worker without a processor does not run: take jobs with "
                                 "get_next_job(token)")
        self._running = True
        state = self._state
        state.begin()
        self._lock_renewer.reset()
        self._connections.open()
        helpers: list[asyncio.Future[None]] = []
        try:
            await self._connections.announce()
            await self._executor.start()
            await self._lock_renewer.start()
            helpers.append(asyncio.ensure_future(
                self._connections.keep_presence_forever(self.lock_renew_time / 1000)))
            helpers.append(asyncio.ensure_future(self._timings.run_forever(state)))
            if not self.skip_stalled_check:
                helpers.append(asyncio.ensure_future(self._stall_checker.run_forever()))
            if self.remote_cancel:
                listener = RemoteCancelListener(self.queue, state, self._trouble,
                                                self.cancel_job)
                await listener.subscribe()
                helpers.append(asyncio.ensure_future(listener.run_forever()))
            self._emitter.emit("ready")
            await self._fetcher.run(self._job_runner.start)
            while self._active:  # close() is letting the active jobs finish
                await asyncio.wait([task for _, task in self._active.values()])
        finally:
            state.closing.set()
            self._lock_renewer.signal_stop()
            for task in helpers:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            await self._timings.flush(everything=True)
            await self._lock_renewer.stop()
            await state.wait_background()
            await self._executor.close()
            await self._connections.close()
            self._running = False
            state.closed.set()
            self._emitter.emit("closed")

    async def get_next_job(self, token: str, *, block: bool = True) -> AsyncJob | None:
        """Manual processing (a worker made with ``processor=None``): take the next job,
        locked with ``token`` for ``lock_duration`` ms, waiting up to ``drain_delay`` s when
        ``block``; None when there is none. Finish it with ``job.move_to_completed(value,
        token)`` or ``job.move_to_failed(error, token)``; renew with ``job.extend_lock``."""
        if self.processor is not None:
            raise QueueCoreError("get_next_job is for a worker made without a processor")
        return await self._manual.get_next_job(token, block)

    async def rate_limit(self, ms: int) -> None:
        """Hold every worker of this queue for ``ms``; raise ``RateLimitError`` from the
        processor afterwards to put the current job back unharmed."""
        positive_int("rate_limit ms", ms)
        await self.queue.run_op(worker_ops.rate_limit(self.keys, ms))

    # -- cancelling (the processor takes a CancelSignal as its second parameter) --

    def cancel_job(self, job_id: str, reason: str | None = None) -> bool:
        """Cancel the signal of a job this worker is processing (its processor decides how
        to stop); False when no such job runs here with a signal (BullMQ's ``cancelJob``)."""
        if isinstance(self._executor, ProcessExecutor):  # the child holds the signal
            return self._executor.cancel(str(job_id), reason)
        job_signal = self._state.signals.get(str(job_id))
        if job_signal is None:
            return False
        job_signal.cancel(reason)
        return True

    def cancel_all_jobs(self, reason: str | None = None) -> None:
        """Cancel the signals of every job this worker is processing."""
        if isinstance(self._executor, ProcessExecutor):
            for job_id in list(self._active):
                self._executor.cancel(job_id, reason)
            return
        for job_signal in list(self._state.signals.values()):
            job_signal.cancel(reason)

    # -- pausing (this worker only; the queue is untouched) --

    async def pause(self, do_not_wait_active: bool = False) -> None:
        """Fetch no more jobs until ``resume()``; by default wait until the active jobs are
        finished (``do_not_wait_active=True``: return at once). Other workers of the queue
        go on; ``Queue.pause()`` pauses them all. Emits ``paused``."""
        state = self._state
        if state.paused:
            return
        state.paused = True
        state.resumed = asyncio.Event()
        if not do_not_wait_active:
            # A finish call fetches no next job while paused, so each slot's chain ends.
            while self._active:
                await asyncio.wait([task for _, task in self._active.values()])
        self._emitter.emit("paused")

    def resume(self) -> None:
        """Fetch jobs again after ``pause()``; emits ``resumed`` (nothing when not paused)."""
        state = self._state
        if state.paused:
            state.paused = False
            state.resumed.set()
            self._emitter.emit("resumed")

    def is_paused(self) -> bool:
        """Whether ``pause()`` holds this worker (not whether the queue is paused)."""
        return self._state.paused

    # -- closing --

    async def close(self, timeout: float | None = None) -> None:
        """Stop fetching, let active jobs finish (up to ``timeout`` seconds), then give the
        rest back to the queue so that they run again. Safe to call more than once."""
        if self.processor is None:
            await self._manual.close()
            await self._connections.close()
            return
        if not self._running:
            return
        state = self._state
        if not state.closing.is_set():
            state.closing.set()
            self._emitter.emit("closing")
            tasks = [task for _, task in self._active.values()]
            if tasks:
                _done, pending = await asyncio.wait(tasks, timeout=timeout)
                if pending:
                    await self._finisher.release_unfinished()
        await state.closed.wait()
