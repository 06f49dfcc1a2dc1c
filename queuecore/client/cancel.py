"""Cancel a job wherever it runs: published on the queue's cancel channel
(``QueueKeys.cancel_channel``), heard by every worker made with ``remote_cancel=True``; the
one processing the job cancels its signal, for the others it is a no-op (as
``Worker.cancel_job`` is for a job that does not run there)."""

from __future__ import annotations

from ..base.errors import InvalidOptionsError
from ..commands import worker_ops
from .aqueue import AsyncQueue
from .queue import Queue


def request_cancel(queue: Queue, job_id: str, reason: str | None = None) -> int:
    """Ask the queue's listening workers to cancel ``job_id``; how many workers heard it
    (not whether one was running it)."""
    return queue.run_op(worker_ops.publish_cancel(queue.keys, _job_id(job_id),
                                                  _reason(reason)))


async def arequest_cancel(queue: AsyncQueue, job_id: str, reason: str | None = None) -> int:
    """``request_cancel`` for asyncio code."""
    return await queue.run_op(worker_ops.publish_cancel(
        queue.keys, _job_id(job_id), _reason(reason)))


def _reason(reason: str | None) -> str | None:
    return None if reason is None else str(reason)


def _job_id(job_id: object) -> str:
    if isinstance(job_id, bool) or not isinstance(job_id, str | int) or job_id == "":
        raise InvalidOptionsError("request_cancel needs a job id")
    return str(job_id)
