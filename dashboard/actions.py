"""The write side: each action calls queuecore once and says what it touched.

``preview_*`` functions only read (they feed the confirmation pages); the others write and
are called from POST views after the permission check, with an audit row around them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.utils.translation import gettext, ngettext

from dashboard import conf, connections
from dashboard.bulk import groups as fg
from dashboard.bulk import trash
from dashboard.services.common import STATES
from queuecore import Job, JobNotFoundError

CLEANABLE_STATES: tuple[str, ...] = ("completed", "failed", "waiting", "delayed", "prioritized")


@dataclass(frozen=True, slots=True)
class Outcome:
    message: str
    count: int | None = None
    job_ids: list[str] = field(default_factory=list)
    #: A clean that read only part of its state: the position the next one goes on from.
    resume: int | None = None


@dataclass(frozen=True, slots=True)
class Preview:
    """What a bulk action would touch, for its confirmation page."""

    action: str
    count: int
    note: str = ""


# -- one job ----------------------------------------------------------------------------


def _job(connection: str, queue: str, job_id: str) -> Job:
    job = connections.get_queue(connection, queue).get_job(job_id)
    if job is None:
        raise JobNotFoundError(f"job {job_id} not found", job_id=job_id)
    return job


def retry_job(connection: str, queue: str, job_id: str) -> Outcome:
    job = _job(connection, queue, job_id)
    state = job.get_state()
    job.retry("completed" if state == "completed" else "failed")
    return Outcome(f"Job {job_id} moved back to waiting.", 1, [job_id])


def remove_job(connection: str, queue: str, job_id: str) -> Outcome:
    trash.remove_one(connection, queue, job_id)  # undone from the queue page
    return Outcome(f"Job {job_id} removed.", 1, [job_id])


def promote_job(connection: str, queue: str, job_id: str) -> Outcome:
    _job(connection, queue, job_id).promote()
    return Outcome(f"Job {job_id} promoted.", 1, [job_id])


# -- whole queue ------------------------------------------------------------------------


def _count(connection: str, queue: str, *states: str) -> int:
    counts = connections.get_queue(connection, queue).get_job_counts(*states)
    return sum(int(counts.get(s, 0)) for s in states)


def preview(
    action: str,
    connection: str,
    queue: str,
    *,
    state: str = "",
    delayed: bool = False,
    grace_ms: int = 0,
    start: int = 0,
) -> Preview:
    if action == "retry-all":
        return Preview(action, _count(connection, queue, "failed"))
    if action == "promote-all":
        return Preview(action, _count(connection, queue, "delayed"))
    if action == "clean":
        # The very reading the clean does (trash.older), with its grace, limit and start.
        limit = conf.get_settings().clean_limit
        total = _count(connection, queue, state)
        found = trash.older(fg.triage(connection, queue), state, grace_ms, limit, start)
        count = len(found.ids)
        note = ngettext(
            "Up to %(count)d of the %(total)d %(state)s job: those older than the age below, "
            "at most %(limit)d per run.",
            "Up to %(count)d of the %(total)d %(state)s jobs: those older than the age below, "
            "at most %(limit)d per run.",
            total,
        ) % {"count": count, "total": total, "state": state, "limit": limit}
        if found.start:  # (finished states are read by age alone: no position)
            note += " " + gettext("Going on from position %(at)d, where the last clean "
                                  "stopped reading.") % {"at": found.start}
        if found.capped:
            note += " " + gettext("More may match: only the oldest were read.")
        return Preview(action, count, note)
    if action == "drain":
        states = ("waiting", "prioritized", "delayed") if delayed else ("waiting", "prioritized")
        return Preview(action, _count(connection, queue, *states), "Active jobs are left alone.")
    if action == "obliterate":
        return Preview(
            action, _count(connection, queue, *STATES), "Every key of the queue is deleted."
        )
    raise ValueError(f"no preview for {action!r}")


def retry_all(connection: str, queue: str) -> Outcome:
    count = _count(connection, queue, "failed")
    connections.get_queue(connection, queue).retry_jobs("failed")
    return Outcome(f"{count} failed jobs moved back to waiting.", count)


def promote_all(connection: str, queue: str) -> Outcome:
    count = _count(connection, queue, "delayed")
    connections.get_queue(connection, queue).promote_jobs()
    return Outcome(f"{count} delayed jobs promoted.", count)


def clean(connection: str, queue: str, state: str, grace_ms: int, start: int = 0) -> Outcome:
    if state not in CLEANABLE_STATES:
        raise ValueError(f"cannot clean state {state!r}")
    limit = conf.get_settings().clean_limit
    # Undone from the queue page; a big waiting/delayed/prioritized state is cleaned in steps.
    done = trash.clean(connection, queue, state, grace_ms, limit, start=start)
    message = f"{len(done.removed)} {state} jobs removed."
    if done.resume is not None:
        message += f" Read up to position {done.resume}: the next clean goes on from there."
    return Outcome(message, len(done.removed), list(done.removed), resume=done.resume)


def pause(connection: str, queue: str) -> Outcome:
    connections.get_queue(connection, queue).pause()
    return Outcome(f"Queue {queue} paused.")


def resume(connection: str, queue: str) -> Outcome:
    connections.get_queue(connection, queue).resume()
    return Outcome(f"Queue {queue} resumed.")


def drain(connection: str, queue: str, delayed: bool) -> Outcome:
    count = preview("drain", connection, queue, delayed=delayed).count
    connections.get_queue(connection, queue).drain(delayed=delayed)
    return Outcome(f"Queue {queue} drained ({count} jobs).", count)


def obliterate(connection: str, queue: str, force: bool) -> Outcome:
    count = preview("obliterate", connection, queue).count
    connections.get_queue(connection, queue).obliterate(force=force)
    return Outcome(f"Queue {queue} obliterated ({count} jobs).", count)


def remove_scheduler(connection: str, queue: str, scheduler_id: str) -> Outcome:
    if not connections.get_queue(connection, queue).remove_job_scheduler(scheduler_id):
        # Said as an error, as for a job id that does not exist (nothing was touched).
        raise ValueError(f"job scheduler {scheduler_id!r} does not exist")
    return Outcome(f"Job scheduler {scheduler_id} removed.", 1, [scheduler_id])
