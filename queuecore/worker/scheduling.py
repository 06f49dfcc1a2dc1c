"""Job schedulers, the worker's side: fetching a scheduler's run creates its next run."""

from __future__ import annotations

from ..client.aqueue import AsyncQueue
from ..commands.record import JobRecord
from ..commands.schedule import next_run
from ..commands.schedulers import BUSY_RETRIES, get_scheduler, next_job_op, run_due


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
