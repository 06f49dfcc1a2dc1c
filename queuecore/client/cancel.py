"""Cancel a job wherever it runs: published on the queue's cancel channel
(``QueueKeys.cancel_channel``), heard by every worker made with ``remote_cancel=True``, and
on the BullMQ Relay topic ``jobs.<queue>.cancel`` (Node bullmq 6.x workers whose app
subscribes to it, as BullMQ's guide shows); the worker processing the job cancels it, for
the others it is a no-op (as ``Worker.cancel_job`` is for a job that does not run there)."""

from __future__ import annotations

from ..base.clock import now_ms
from ..base.errors import InvalidOptionsError
from ..commands import worker_ops
from ..commands.worker_ops import RELAY_NAMESPACE
from .aqueue import AsyncQueue
from .queue import Queue


def request_cancel(queue: Queue, job_id: str, reason: str | None = None, *,
                   relay_namespace: str | None = RELAY_NAMESPACE) -> int:
    """Ask the queue's listening workers to cancel ``job_id``: queuecore workers made with
    ``remote_cancel=True``, and Node workers whose app subscribes to the BullMQ Relay topic
    ``jobs.<queue>.cancel`` in ``relay_namespace`` (None: not the Relay). How many
    listeners heard it (not whether one was running the job)."""
    return queue.run_op(worker_ops.publish_cancel(queue.keys, _job_id(job_id),
                                                  _reason(reason), now_ms(), relay_namespace))


async def arequest_cancel(queue: AsyncQueue, job_id: str, reason: str | None = None, *,
                          relay_namespace: str | None = RELAY_NAMESPACE) -> int:
    """``request_cancel`` for asyncio code."""
    return await queue.run_op(worker_ops.publish_cancel(
        queue.keys, _job_id(job_id), _reason(reason), now_ms(), relay_namespace))


def _reason(reason: str | None) -> str | None:
    return None if reason is None else str(reason)


def _job_id(job_id: object) -> str:
    if isinstance(job_id, bool) or not isinstance(job_id, str | int) or job_id == "":
        raise InvalidOptionsError("request_cancel needs a job id")
    return str(job_id)
