"""The Worker's parts with telemetry: used instead of the plain ones only when the Worker has
``telemetry=``, so that a Worker without it does no tracing work per job.

As BullMQ's worker: a consumer span ``process <queue>`` per attempt, a child of the context
stored in the job (``opts.tm``) so that it continues the producer's trace, holding the
processor's run and an internal span for the outcome (``complete``, ``fail``, ``retry`` or
``delay <queue>``); the process span gets an event ``job completed`` (with the result) or
``job failed`` (with the reason), and the attempt's attributes.
"""

from __future__ import annotations

from typing import Any

from ..base.clock import now_ms
from ..base.emitter import Emitter
from ..base.telemetry import (
    JOB_ATTEMPT_FINISHED_TIMESTAMP,
    JOB_ATTEMPTS_MADE,
    JOB_FAILED_REASON,
    JOB_ID,
    JOB_NAME,
    JOB_PROCESSED_TIMESTAMP,
    JOB_RESULT,
    WORKER_ID,
    WORKER_NAME,
    Attributes,
    SpanKind,
    Telemetry,
    job_context,
)
from ..client.ajob import AsyncJob
from ..client.aqueue import AsyncQueue
from ..client.job import Job
from ..commands.failure import FailurePlan
from ..commands.record import JobRecord
from .connections import WorkerConnections
from .executors import Executor
from .fetcher import Fetched, Fetcher
from .finisher import Finisher
from .job_runner import JobRunner
from .options import WorkerSettings
from .state import RunState

#: The longest result put on a ``job completed`` event (BullMQ puts all of it; a result may
#: be megabytes, which no trace backend wants).
MAX_RESULT_CHARS = 4096


def _job_attributes(job: JobRecord) -> Attributes:
    return {JOB_NAME: job.name, JOB_ID: job.id}


class TracedJobRunner(JobRunner):
    def __init__(self, queue: AsyncQueue, is_async: bool, connections: WorkerConnections,
                 executor: Executor, finisher: Finisher, state: RunState, emitter: Emitter,
                 takes_signal: bool = False, *, telemetry: Telemetry, worker_id: str,
                 worker_name: str | None) -> None:
        super().__init__(queue, is_async, connections, executor, finisher, state, emitter,
                         takes_signal)
        self._telemetry = telemetry
        self._worker_attributes: Attributes = (
            {WORKER_ID: worker_id, WORKER_NAME: worker_name} if worker_name
            else {WORKER_ID: worker_id})

    async def _process_job(self, job: AsyncJob | Job, job_id: str, h: dict[str, str],
                           token: str) -> Fetched | None:
        queue = self._queue.name
        with self._telemetry.span(SpanKind.CONSUMER, queue, "process", queue,
                                  parent_metadata=job_context(job.opts)) as span:
            span.set_attributes({**self._worker_attributes, **_job_attributes(job)})
            try:
                return await super()._process_job(job, job_id, h, token)
            finally:
                ends: dict[str, Any] = {JOB_ATTEMPT_FINISHED_TIMESTAMP: job.finished_on
                                        or now_ms()}
                if job.processed_on is not None:
                    ends[JOB_PROCESSED_TIMESTAMP] = job.processed_on
                span.set_attributes(ends)


class TracedFinisher(Finisher):
    def __init__(self, queue: AsyncQueue, settings: WorkerSettings, worker_id: str,
                 state: RunState, fetcher: Fetcher, emitter: Emitter, *,
                 telemetry: Telemetry) -> None:
        super().__init__(queue, settings, worker_id, state, fetcher, emitter)
        self._telemetry = telemetry

    def _outcome(self, job: JobRecord, before: int, event: str, attributes: Attributes) -> None:
        """On the process span: the outcome, once it is stored (the attempt was counted)."""
        if job.attempts_made > before:
            process = self._telemetry.current_span()
            process.add_event(event, attributes)
            process.set_attributes({JOB_ATTEMPTS_MADE: job.attempts_made})

    async def completed(self, job: JobRecord, token: str, value: str,
                        result: Any) -> Fetched | None:
        before, queue = job.attempts_made, self._queue.name
        with self._telemetry.span(SpanKind.INTERNAL, queue, "complete", queue) as span:
            span.set_attributes(_job_attributes(job))
            next_job = await super().completed(job, token, value, result)
        self._outcome(job, before, "job completed", {JOB_RESULT: value[:MAX_RESULT_CHARS]})
        return next_job

    async def failed(self, job: JobRecord, token: str, reason: str, stack: str,
                     error: BaseException | None = None) -> Fetched | None:
        before, queue = job.attempts_made, self._queue.name
        with self._telemetry.span(SpanKind.INTERNAL, queue, "fail", queue) as span:
            span.set_attributes(_job_attributes(job))
            next_job = await super().failed(job, token, reason, stack, error)
        self._outcome(job, before, "job failed", {JOB_FAILED_REASON: reason})
        return next_job

    async def retry(self, job: JobRecord, token: str, plan: FailurePlan,
                    exc: BaseException) -> None:
        before, queue = job.attempts_made, self._queue.name
        operation = "delay" if plan.retry_in_ms else "retry"
        with self._telemetry.span(SpanKind.INTERNAL, queue, operation, queue) as span:
            span.set_attributes(_job_attributes(job))
            await super().retry(job, token, plan, exc)
        self._outcome(job, before, "job failed", {JOB_FAILED_REASON: plan.reason})
