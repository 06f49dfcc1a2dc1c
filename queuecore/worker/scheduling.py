"""Job schedulers, the worker's side: fetching a scheduler's run creates its next run."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from ..base.clock import now_ms as clock_ms
from ..base.errors import QueueCoreError
from ..client.aqueue import AsyncQueue
from ..commands.record import JobRecord
from ..commands.schedule import next_run
from ..commands.schedulers import BUSY_RETRIES, get_scheduler, next_job_op, run_due
from ..transport.errors import is_connection_error, is_response_error, is_transient

log = logging.getLogger("queuecore.worker")
#: Pauses (s) between tries to create a scheduler's next run after Redis trouble: about 30 s
#: in all, then the trouble is reported and the run is left to the next fetch.
RETRY_PAUSES = (0.2, 0.5, 1.0, 2.0, 4.0, 8.0, 15.0)


async def schedule_next(queue: AsyncQueue, job: JobRecord, now_ms: int) -> None:
    """Create the run after ``job`` when it belongs to a scheduler (call it when the job is
    fetched). Safe to call more than once: only the scheduler's current run schedules, and a
    run id is never written twice."""
    if not job.scheduler_id:
        return
    due = run_due(job.scheduler_id, job.id, job.opts)
    if due is None:
        return
    scheduler = await queue.run_op(get_scheduler(queue.keys, job.scheduler_id))
    if scheduler is None or scheduler.next != due:
        return
    if scheduler.every is None and not scheduler.pattern:
        return
    after = due
    for _ in range(BUSY_RETRIES):
        next_due = next_run(scheduler.schedule(), after, now_ms, scheduler.offset)
        if next_due is None:
            return
        created, reason = await queue.run_op(next_job_op(queue.keys, scheduler, due, next_due,
                                                       now_ms))
        if created or reason != "busy":
            return
        after = next_due  # an old run holds that id: try the slot after it


async def create_next_run(queue: AsyncQueue, job: JobRecord,
                          report: Callable[[BaseException], None]) -> None:
    """``schedule_next`` for a fetched job, tried again while Redis is unreachable or
    refusing for a while (it is idempotent, so a call lost with its reply may be sent again):
    a single lost reply used to stop the scheduler for good (found by the chaos soak).
    ``report`` is told of each failure; another error is raised."""
    for pause in (*RETRY_PAUSES, None):
        try:
            await schedule_next(queue, job, clock_ms())
            return
        except Exception as exc:
            if not (isinstance(exc, QueueCoreError) or is_connection_error(exc)
                    or is_response_error(exc)):
                raise
            retry = pause is not None and (is_connection_error(exc) or is_transient(exc))
            log.warning("job %s: next run of scheduler %s not created%s: %s", job.id,
                        job.scheduler_id, ", trying again" if retry else "", exc)
            report(exc)
            if not retry or pause is None:
                return
        await asyncio.sleep(pause)
