"""One job slot's work: make the job, run the processor, finish it, then take the next job
the finish call handed back, in the same slot."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from ..base.cancel import CancelSignal
from ..base.emitter import Emitter
from ..base.errors import (
    DataError,
    DelayedError,
    RateLimitError,
    WaitingChildrenError,
)
from ..base.jsonutil import dumps_data
from ..client.ajob import AsyncJob
from ..client.aqueue import AsyncQueue
from ..client.job import Job
from ..commands.record import JobRecord
from ..transport.errors import public_error
from .connections import WorkerConnections
from .executors import Executor
from .fetcher import Fetched
from .finisher import Finisher
from .scheduling import create_next_run
from .state import RunState

log = logging.getLogger("queuecore.worker")


class JobRunner:
    def __init__(self, queue: AsyncQueue, is_async: bool, connections: WorkerConnections,
                 executor: Executor, finisher: Finisher, state: RunState,
                 emitter: Emitter, takes_signal: bool = False) -> None:
        self._queue = queue
        self._is_async = is_async  # the processor gets an AsyncJob (else a Job)
        self._max_data_size = queue.max_data_size
        self._connections = connections
        self._executor = executor
        self._finisher = finisher
        self._state = state
        self._active = state.active
        self._lost = state.lost
        self._finishing = state.finishing
        self._signals = state.signals
        self._takes_signal = takes_signal
        self._emitter = emitter

    def start(self, job_id: str, h: dict[str, str], token: str) -> None:
        """Process a fetched job (and the ones after it) in a task of its own."""
        task = asyncio.ensure_future(self._chain(job_id, h, token))
        self._active[job_id] = (token, task)

    async def _chain(self, job_id: str, h: dict[str, str], token: str) -> None:
        """Process a job, then the next one the finish call handed back, in the same slot."""
        task = asyncio.current_task()
        assert task is not None
        active, lost, finishing = self._active, self._lost, self._finishing
        signals, takes_signal = self._signals, self._takes_signal
        current: Fetched | None = (job_id, h, token)
        try:
            while current is not None:
                jid, fields, tok = current
                active[jid] = (tok, task)
                try:
                    current = await self._process_job(self._make_job(jid, fields, tok), jid,
                                                      fields, tok)
                finally:
                    active.pop(jid, None)
                    if takes_signal:
                        signals.pop(jid, None)
                    lost.discard(jid)
                    finishing.discard(jid)
        finally:
            self._state.slot_free.set()

    def _make_job(self, job_id: str, h: dict[str, str], token: str) -> AsyncJob | Job:
        emitter = self._emitter
        if self._is_async:
            ajob = AsyncJob.from_hash(self._queue, job_id, h, token)
            ajob.on_progress = lambda value: emitter.emit("progress", ajob, value)
            return ajob
        loop = asyncio.get_running_loop()
        sjob = Job.from_hash(self._connections.sync_queue(), job_id, h, token)
        # A sync processor reports from its thread: emit on the loop.
        def from_thread(value: Any) -> None:
            loop.call_soon_threadsafe(emitter.emit, "progress", sjob, value)

        sjob.on_progress = from_thread
        return sjob

    async def _process_job(self, job: AsyncJob | Job, job_id: str, h: dict[str, str],
                           token: str) -> Fetched | None:
        """Run the processor on ``job`` and finish it; returns the next job, if any."""
        finisher = self._finisher
        if job.scheduler_id:  # first, so a run that stalls too often still has a successor
            await self._schedule_next(job)
        if job.deferred_failure:
            return await finisher.failed(job, token, job.deferred_failure, "[]")
        self._emitter.emit("active", job, "waiting")
        signal = None
        if self._takes_signal:  # only then: no per-job work for other processors
            signal = self._signals[job_id] = CancelSignal()
        try:
            result = await self._executor.call(job, job_id, h, token, signal)
        except asyncio.CancelledError:
            raise
        except (DelayedError, WaitingChildrenError):
            return None
        except RateLimitError:
            await finisher.release(job_id, token)
            return None
        except Exception as exc:  # the processor failed: retry or fail the job
            if job.moved:
                return None
            return await finisher.handle_failure(job, token, exc)
        if job.moved:
            return None
        try:
            value = dumps_data(result, self._max_data_size, what="return value")
        except DataError as exc:
            return await finisher.handle_failure(job, token, exc)
        return await finisher.completed(job, token, value, result)

    async def _schedule_next(self, job: JobRecord) -> None:
        """A job of a job scheduler was fetched: create the scheduler's next run."""
        await create_next_run(self._queue, job,
                              lambda exc: self._emitter.emit("error", public_error(exc)))
