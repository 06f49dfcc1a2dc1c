"""The blocking ``Queue``: for Django views, scripts and threads."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from typing_extensions import Unpack

from . import ops, worker_ops
from .clock import now_ms
from .commands import Op
from .connection import ConnectionLike, sync_client
from .job import Job
from .options import JobOptionsDict
from .queue_base import BulkJob, QueueBase, positive_int
from .runner import SyncRunner

T = TypeVar("T")


class Queue(QueueBase):
    """A queue in BullMQ 6's format, used from blocking code."""

    def __init__(self, name: str, connection: ConnectionLike = None, **kwargs: Any) -> None:
        super().__init__(name, connection, **kwargs)
        self.client = sync_client(connection)
        self._runner = SyncRunner(self.client)

    def _run(self, op: Op[T]) -> T:
        return self._runner.run(op)

    def __enter__(self) -> Queue:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.client.close()

    # -- adding --

    def add(self, name: str, data: Any = None, **options: Unpack[JobOptionsDict]) -> Job:
        """Add a job; an existing ``job_id`` returns the job already stored."""
        p = self._prepare_add(name, data, options)
        [(job_id, status)] = self._run(ops.add_jobs([p.call]))
        if status:
            existing = self.get_job(job_id)
            if existing is not None:
                return existing
        return Job(self, **self._fields_of(p, job_id))

    def add_bulk(self, jobs: Sequence[BulkJob]) -> list[Job]:
        """Add many jobs in one round trip; all are validated before any is written."""
        prepared = self._prepare_bulk(jobs)
        if not prepared:
            return []
        replies = self._run(ops.add_jobs([p.call for p in prepared]))
        out = []
        for p, (job_id, status) in zip(prepared, replies, strict=True):
            existing = self.get_job(job_id) if status else None
            out.append(existing or Job(self, **self._fields_of(p, job_id)))
        return out

    # -- reading --

    def get_job(self, job_id: str) -> Job | None:
        h = self._run(ops.get_job_hash(self.keys, str(job_id)))
        return Job.from_hash(self, str(job_id), h) if h else None

    def get_jobs(self, states: Sequence[str] | str | None = None, start: int = 0, end: int = -1,
                 asc: bool = False) -> list[Job]:
        self._check_range(start, end)
        ids = self._run(ops.job_ids(self.keys, self._states(states), start, end, asc))
        if not ids:
            return []
        hashes = self._run(ops.get_job_hashes(self.keys, ids))
        return [Job.from_hash(self, i, h) for i, h in zip(ids, hashes, strict=True) if h]

    def get_job_counts(self, *states: str) -> dict[str, int]:
        return self._run(ops.job_counts(self.keys, states))

    def count(self) -> int:
        counts = self.get_job_counts("waiting", "paused", "delayed", "prioritized",
                                     "waiting-children")
        return sum(counts.values())

    def get_job_state(self, job_id: str) -> str:
        return self._run(ops.get_state(self.keys, str(job_id)))

    def get_job_logs(self, job_id: str, start: int = 0, end: int = -1,
                     asc: bool = True) -> tuple[list[str], int]:
        self._check_range(start, end)
        return self._run(ops.get_logs(self.keys, str(job_id), start, end, asc))

    def is_paused(self) -> bool:
        return self._run(ops.is_paused(self.keys))

    def get_workers(self) -> list[dict[str, str]]:
        return self._run(ops.workers(self.keys))

    def redis_info(self) -> dict[str, Any]:
        return self._run(ops.redis_info())

    # -- changing --

    def pause(self) -> None:
        self._run(ops.pause(self.keys, True))

    def resume(self) -> None:
        while self._run(ops.pause(self.keys, False)) > 0:
            pass

    def drain(self, delayed: bool = False) -> None:
        while self._run(ops.drain(self.keys, delayed)) > 0:
            pass

    def clean(self, grace_ms: int, limit: int = 0, state: str = "completed") -> list[str]:
        """Remove up to ``limit`` (0 = all) jobs of ``state`` older than ``grace_ms``."""
        return self._run(ops.clean(self.keys, state, now_ms() - int(grace_ms), int(limit)))

    def obliterate(self, force: bool = False) -> None:
        """Delete the queue and all its jobs (pauses it first)."""
        self.pause()
        while self._run(ops.obliterate(self.keys, force)) > 0:
            pass

    def retry_jobs(self, state: str = "failed", count: int = 1000,
                   timestamp: int | None = None) -> int:
        """Retry every ``state`` job finished before ``timestamp``, ``count`` per round trip."""
        before = timestamp if timestamp is not None else now_ms()
        total = 0
        while (moved := self._run(ops.reprocess(self.keys, state, "", count=count,
                                                before_ms=before))) > 0:
            total += moved
        return total

    def promote_jobs(self, count: int = 1000) -> int:
        total = 0
        while (moved := self._run(ops.promote(self.keys, "", count))) > 0:
            total += moved
        return total

    def remove(self, job_id: str) -> None:
        self._run(ops.remove(self.keys, str(job_id)))

    # -- queue-wide limits (stored in meta, honoured by every worker, Node's too) --

    def set_global_concurrency(self, concurrency: int) -> None:
        """At most ``concurrency`` active jobs in the queue across all workers."""
        self._run(ops.set_meta(
            self.keys, concurrency=positive_int("concurrency", concurrency)))

    def remove_global_concurrency(self) -> None:
        self._run(ops.del_meta(self.keys, "concurrency"))

    def get_global_concurrency(self) -> int | None:
        return self._run(ops.get_meta(self.keys, "concurrency"))[0]

    def set_global_rate_limit(self, max_jobs: int, duration_ms: int) -> None:
        """At most ``max_jobs`` jobs started per ``duration_ms`` across all workers."""
        self._run(ops.set_meta(self.keys, max=positive_int("max_jobs", max_jobs),
                               duration=positive_int("duration_ms", duration_ms)))

    def remove_global_rate_limit(self) -> None:
        self._run(ops.del_meta(self.keys, "max", "duration"))

    def get_global_rate_limit(self) -> tuple[int, int] | None:
        max_jobs, duration = self._run(ops.get_meta(self.keys, "max", "duration"))
        return (max_jobs, duration) if max_jobs and duration else None

    def rate_limit(self, ms: int) -> None:
        """Hold every worker of the queue for ``ms`` (as ``Worker.rate_limit``)."""
        self._run(worker_ops.rate_limit(self.keys, positive_int("ms", ms)))

    def get_rate_limit_ttl(self) -> int:
        """Milliseconds until the current rate limit window ends (0 when none)."""
        return self._run(worker_ops.rate_limit_ttl(self.keys))

    def trim_events(self, max_length: int) -> int:
        return self._run(ops.trim_events(self.keys, max_length))

