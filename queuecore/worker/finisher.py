"""Finishing a job: completed or failed (fetching the next job in the same call), a retry
now or after a backoff, the dead-letter queue, and giving jobs back on close.

A finishing op that meets a lost lock or Redis trouble is reported (``lock-lost``,
``error``), never raised: the job is then left to its lock's expiry and the stall check.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from ..base.clock import now_ms
from ..base.emitter import Emitter
from ..base.errors import (
    LockMismatchError,
    LockNotFoundError,
    QueueCoreError,
    RedisError,
    ScriptError,
)
from ..base.options import keep_jobs
from ..client.aqueue import AsyncQueue
from ..commands import deadletter, worker_ops
from ..commands.failure import FailurePlan, plan_failure
from ..commands.record import JobRecord
from ..commands.worker_ops import Finish
from ..transport.errors import (
    is_connection_error,
    is_response_error,
    is_transient,
    public_error,
)
from .fetcher import Fetched, Fetcher
from .finish_batch import FinishBatcher, report_refusal
from .options import WorkerSettings
from .state import RunState

log = logging.getLogger("queuecore.worker")

#: What a finishing op returns when its outcome could not be stored.
FAILED: Any = object()
#: What it returns when it fetched and found no job (``drained`` follows its own event).
EMPTY: Any = object()


class Finisher:
    def __init__(self, queue: AsyncQueue, settings: WorkerSettings, worker_id: str,
                 state: RunState, fetcher: Fetcher, emitter: Emitter) -> None:
        self._queue = queue
        self._keys = queue.keys
        self._settings = settings
        self._processed_by = settings.worker_name or worker_id
        self._remove_on_complete = settings.remove_on_complete
        self._remove_on_fail = settings.remove_on_fail
        self._metrics_points = settings.metrics_points
        self._lock_duration = settings.lock_duration
        self._limiter_max = settings.limiter_max
        self._limiter_duration = settings.limiter_duration
        self._dead_letter_keys = settings.dead_letter_keys
        self._state = state
        self._finishing = state.finishing
        self._fetcher = fetcher
        self._emitter = emitter
        self._calls = worker_ops.FinishCalls(
            self._keys, metrics_points=self._metrics_points, lock_ms=self._lock_duration,
            limiter_max=self._limiter_max, limiter_ms=self._limiter_duration,
            worker_name=self._processed_by)
        self._keep_completed = keep_jobs(self._remove_on_complete)
        self._keep_failed = keep_jobs(self._remove_on_fail)
        # Batch the finishes of a loop turn into one call when several jobs run at once.
        self.batching = settings.concurrency > 1
        self._batcher = FinishBatcher(
            self._keys, fetcher, state, emitter.emit, self.safe, self._finish_single,
            metrics_points=self._metrics_points, lock_ms=self._lock_duration,
            limiter_max=self._limiter_max, limiter_ms=self._limiter_duration,
            worker_name=self._processed_by, failed=FAILED, empty=EMPTY)

    async def completed(self, job: JobRecord, token: str, value: str,
                        result: Any) -> Fetched | None:
        """Store the return value (``value``, its JSON); returns the next job, if any."""
        next_job = await self._finish(job, token, completed=True, value=value, stack="")
        if next_job is FAILED:
            return None
        job.return_value = result
        self._emitter.emit("completed", job, result)
        if next_job is EMPTY:  # drained, after the job's own event (as BullMQ emits it)
            self._fetcher.found_empty()
            return None
        return next_job  # type: ignore[no-any-return]

    async def failed(self, job: JobRecord, token: str, reason: str, stack: str,
                     error: BaseException | None = None) -> Fetched | None:
        """Fail the job for good; returns the next job, if any."""
        next_job = await self._finish(job, token, completed=False, value=reason, stack=stack)
        if next_job is FAILED:
            return None
        job.failed_reason = reason
        self._emitter.emit("failed", job, error or QueueCoreError(reason), "active")
        if self._dead_letter_keys is not None:
            # After the failure is stored, never instead of it: if this call is lost the
            # job simply stays in `failed`.
            await self.safe(deadletter.move_to_dead_letter(self._keys, job.id,
                                                           self._dead_letter_keys), job.id)
        if next_job is EMPTY:
            self._fetcher.found_empty()
            return None
        return next_job  # type: ignore[no-any-return]

    async def _finish(self, job: JobRecord, token: str, *, completed: bool, value: str,
                      stack: str) -> Any:
        """Store the outcome (fetching the next job in the same call unless closing); returns
        the next job, None, EMPTY, or FAILED when the outcome could not be stored."""
        job_id = job.id
        self._finishing.add(job_id)  # also on the deferred-failure path: renewal skips it
        opts = job.opts
        if completed:
            keep = (keep_jobs(opts["removeOnComplete"]) if "removeOnComplete" in opts
                    else self._keep_completed)
        else:
            keep = (keep_jobs(opts["removeOnFail"]) if "removeOnFail" in opts
                    else self._keep_failed)
        finish: Finish = (job_id, token, completed, value, stack, keep, job.max_attempts)
        if self.batching:
            next_job = await self._batcher.finish(finish)
        else:
            # One call for this job (concurrency 1: every job takes this path).
            fetcher = self._fetcher
            next_token = fetcher.next_token() if fetcher.fetch_next() else None
            reply = await self._finish_single(finish, next_token)
            # A falsy reply (no fetch asked, e.g. while closing) means no next job: None,
            # never the reply itself (a 0 would be taken for a job by the runner's loop).
            next_job = (FAILED if reply is FAILED else None if not reply
                        else fetcher.decode(reply, next_token) or EMPTY)
        if next_job is not FAILED:
            job.finished_on = now_ms()
            job.attempts_made += 1
        return next_job

    async def _finish_single(self, finish: Finish, next_token: str | None) -> Any:
        """One job's finish call (``move_to_finished``), fetching the next job with
        ``next_token`` unless None: the reply (0 when nothing was fetched), or FAILED.
        A retry after a lost reply says so: if the first try ran, the script hands back the
        job it fetched (locked with ``next_token``) instead of refusing the finish."""
        job_id, token, completed, value, stack, keep, max_attempts = finish
        op = self._calls.op(job_id, token, now_ms(), completed, value, stack, keep,
                            max_attempts, next_token)
        reply = await self.safe(op, job_id,
                                again=None if next_token is None else worker_ops.retried)
        if reply.__class__ is int and reply < 0:
            report_refusal(self._emitter.emit, job_id, completed, reply)
            return FAILED
        return reply

    async def handle_failure(self, job: JobRecord, token: str,
                             exc: BaseException) -> Fetched | None:
        """The processor raised: retry (now or after the backoff) or fail the job."""
        self._finishing.add(job.id)
        plan = plan_failure(job, exc, self._settings.backoff_strategy)
        if plan.retry_in_ms is None:
            return await self.failed(job, token, plan.reason, plan.stacktrace_json, exc)
        await self.retry(job, token, plan, exc)
        return None

    async def retry(self, job: JobRecord, token: str, plan: FailurePlan,
                    exc: BaseException) -> None:
        """Retry the job now or after its backoff (``plan.retry_in_ms`` is not None)."""
        assert plan.retry_in_ms is not None
        if plan.retry_in_ms > 0:
            now = now_ms()
            op = worker_ops.move_to_delayed(self._keys, job.id, token, now,
                                            now + plan.retry_in_ms, count_attempt=True,
                                            reason=plan.reason,
                                            stacktrace=plan.stacktrace_json)
        else:
            op = worker_ops.retry_job(self._keys, job.id, token, plan.reason,
                                      plan.stacktrace_json, bool(job.opts.get("lifo")))
        if await self.safe(op, job.id) is not FAILED:
            job.failed_reason = plan.reason
            job.attempts_made += 1
            self._emitter.emit("failed", job, exc, "active")

    async def release(self, job_id: str, token: str) -> None:
        """Give a job back to wait with its attempts unchanged (rate limit)."""
        await self.safe(worker_ops.release(self._keys, job_id, token))

    async def release_unfinished(self) -> None:
        """Give the unfinished jobs back, all at once and with two tries each: when Redis is
        away, close() must not wait out the finishing ops' retries (20 tries, about 35 s, per
        job); a job not given back keeps its lock until it expires, and the stall check of
        any worker then moves it back to wait."""
        active = self._state.active
        held = list(active.items())
        await asyncio.gather(*(self.safe(worker_ops.release(self._keys, jid, tok), jid,
                                         tries=2) for jid, (tok, _) in held))
        for jid, (_, task) in held:
            task.cancel()
            active.pop(jid, None)
        self._state.slot_free.set()

    async def safe(self, op: Any, job_id: str | None = None, tries: int = 20,
                   again: Callable[[Any], Any] | None = None) -> Any:
        """Run a finishing op; a lost lock or Redis trouble is reported, never raised.
        ``again(op)``: the op to send on the retries, when not ``op`` itself."""
        run_op = self._queue.run_op
        for attempt in range(tries):
            try:
                return await run_op(op)
            except (LockNotFoundError, LockMismatchError) as exc:
                log.warning("job %s: lock lost before finishing; left to its new owner", job_id)
                self._emitter.emit("lock-lost", job_id, exc)
                return FAILED
            except ScriptError as exc:
                self._emitter.emit("error", exc)
                return FAILED
            except Exception as exc:
                if not (is_connection_error(exc) or isinstance(exc, RedisError)
                        or is_response_error(exc)):
                    raise
                # Out of memory, READONLY, LOADING or a dropped connection: try again; an
                # other refusal (NOPERM...) is not cured by retrying.
                retry = is_connection_error(exc) or is_transient(exc)
                if not retry or attempt == tries - 1:
                    self._emitter.emit("error", public_error(exc))
                    return FAILED
                await asyncio.sleep(min(0.1 * 2**attempt, 2.0))
                if again is not None:
                    op, again = again(op), None
        return FAILED
