"""``AsyncJob``: a job read from Redis, with coroutine methods that act on the stored job.

A job reaches its queue through ``AsyncJobQueue``, the little it needs of an ``AsyncQueue``,
so that this module does not import the queue's (which imports this one)."""
# Source of job.py: after a change, run scripts/unasync.py.  # unasync: async-only

from __future__ import annotations

from typing import Any, Protocol, TypeVar

from ..base.clock import now_ms
from ..base.keys import QueueKeys
from ..commands import ops, worker_ops
from ..commands.op import Op
from ..commands.record import JobRecord
from .job_base import ProgressListener, log_line, progress_json

T = TypeVar("T")


class AsyncJobQueue(Protocol):
    """What a job uses of its queue (an ``AsyncQueue``)."""

    @property
    def name(self) -> str: ...

    @property
    def keys(self) -> QueueKeys: ...

    @property
    def max_data_size(self) -> int | None: ...

    async def run_op(self, op: Op[T]) -> T: ...

    async def get_job_logs(self, job_id: str, start: int = 0, end: int = -1,
                           asc: bool = True) -> tuple[list[str], int]: ...


class AsyncJob(JobRecord):
    """A job with coroutine methods, bound to an ``AsyncQueue``."""

    __slots__ = ("moved", "on_progress", "queue")

    def __init__(self, queue: AsyncJobQueue, **fields: Any) -> None:
        super().__init__(**fields)
        self.queue = queue
        self.moved = False
        self.on_progress: ProgressListener | None = None

    @classmethod
    def from_hash(cls, queue: AsyncJobQueue, job_id: str, h: dict[str, str]) -> AsyncJob:
        return cls(queue, **JobRecord.fields_from_hash(job_id, h))

    def __repr__(self) -> str:
        return f"<AsyncJob {self.queue.name}:{self.id} {self.name!r}>"

    async def update_progress(self, progress: Any) -> None:
        text = progress_json(progress, self.queue.max_data_size)
        await self.queue.run_op(ops.update_progress(self.queue.keys, self.id, text))
        self.progress = progress
        if self.on_progress is not None:
            self.on_progress(progress)

    async def log(self, line: str) -> int:
        keep = self.opts.get("kl") or 0
        text = log_line(line, self.queue.max_data_size)
        return await self.queue.run_op(ops.add_log(self.queue.keys, self.id, text, int(keep)))

    async def get_logs(self, start: int = 0, end: int = -1,
                       asc: bool = True) -> tuple[list[str], int]:
        return await self.queue.get_job_logs(self.id, start, end, asc)

    async def get_state(self) -> str:
        return await self.queue.run_op(ops.get_state(self.queue.keys, self.id))

    async def get_dependencies(self) -> ops.Dependencies:
        """A flow parent's children: processed results, pending keys and failures."""
        return await self.queue.run_op(ops.dependencies(self.queue.keys, self.id))

    async def get_children_values(self) -> dict[str, Any]:
        """Results of the completed children, by the child's full job key."""
        return (await self.get_dependencies()).processed

    async def get_failed_children_values(self) -> dict[str, str]:
        return (await self.get_dependencies()).failed

    async def retry(self, state: str = "failed", *, reset_attempts: bool = False) -> None:
        await self.queue.run_op(ops.reprocess(self.queue.keys, state, self.id,
                                              reset_attempts=reset_attempts))

    async def promote(self) -> None:
        await self.queue.run_op(ops.promote(self.queue.keys, self.id))

    async def remove(self) -> None:
        await self.queue.run_op(ops.remove(self.queue.keys, self.id))

    async def move_to_delayed(self, timestamp_ms: int, token: str | None = None) -> None:
        """From inside a processor: run this job again at ``timestamp_ms`` (no attempt counted)."""
        tok = token or self.token or "0"
        await self.queue.run_op(worker_ops.move_to_delayed(
            self.queue.keys, self.id, tok, now_ms(), int(timestamp_ms), count_attempt=False))
        self.moved = True
