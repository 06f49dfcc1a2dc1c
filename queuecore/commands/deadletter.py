"""Dead letters: jobs that failed for good, moved to a named queue, and replayed from it.

A worker with ``dead_letter_queue="emails-dead"`` moves each job that exhausted its attempts
(or failed with UnrecoverableError) into that queue right after failing it: there it is a
failed job with its name, data, options, failure, stack traces and logs, plus a ``dlq`` field
naming its origin. ``replay`` puts a fresh copy back into the origin queue.
"""

from __future__ import annotations

from typing import Any

from ..base.clock import now_ms
from ..base.jsonutil import loads
from ..base.keys import QueueKeys
from .op import Op, checked, raw, script, single


def move_to_dead_letter(source: QueueKeys, job_id: str, dlq: QueueKeys) -> Op[str]:
    return single(
        script("dead_letter",
               [source.failed, source.events, source.meta, dlq.id, dlq.failed, dlq.events,
                dlq.meta],
               [source.base, job_id, dlq.base, now_ms(), source.name, source.prefix]),
        lambda r: str(checked("dead_letter", job_id)(r)),
    )


def origin_of(dlq: QueueKeys, job_id: str) -> Op[dict[str, Any] | None]:
    """Where a dead-lettered job came from: ``{"queue", "prefix", "jobId", "movedOn"}``."""
    def decode(reply: Any) -> dict[str, Any] | None:
        origin = loads(reply)
        return origin if isinstance(origin, dict) and origin.get("queue") else None

    return single(raw("HGET", dlq.job(job_id), "dlq"), decode)


def replay(dlq: QueueKeys, job_id: str, origin: dict[str, Any]) -> Op[str]:
    target = QueueKeys.of(str(origin["queue"]), str(origin.get("prefix") or dlq.prefix))
    return single(
        script("replay_dead_letter",
               [dlq.failed, dlq.events, dlq.meta, target.wait, target.meta, target.id,
                target.events, target.marker, target.prioritized, target.pc, target.active],
               [dlq.base, job_id, target.base, str(origin.get("jobId") or ""), now_ms()]),
        lambda r: str(checked("replay_dead_letter", job_id)(r)),
    )
