"""The asyncio ``AsyncQueue``: for Channels consumers and asyncio programs."""
# Source of queue.py: after a change, run scripts/unasync.py.  # unasync: async-only

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar

from typing_extensions import Unpack

from ..base.clock import now_ms
from ..base.errors import JobNotFoundError, QueueCoreError
from ..base.keys import QueueKeys
from ..base.options import JobOptionsDict
from ..base.telemetry import BULK_COUNT, BULK_NAMES, JOB_ID, JOB_NAME, SpanKind, Telemetry
from ..base.validation import positive_int
from ..commands import deadletter, getters, job_edits, ops, schedulers, worker_ops
from ..commands.op import Op
from ..commands.schedulers import JobScheduler, RepeatOptions, UpsertReply
from ..transport.connection import ConnectionLike, async_client
from ..transport.runner import AsyncRunner
from .ajob import AsyncJob
from .aqueries import AsyncQueueReads
from .queue_base import CLEAN_BATCH, BulkJob, PreparedAdd

T = TypeVar("T")


class AsyncQueue(AsyncQueueReads):
    """A queue in BullMQ 6's format, used from asyncio code."""

    # unasync: async-only
    def __init__(self, name: str, connection: ConnectionLike = None, *,
                 autopipeline: bool = True, **kwargs: Any) -> None:
        """``autopipeline`` (on by default): the script calls made in one loop turn go out
        in one write over one held connection (many tasks adding at once, a worker's finish
        calls); a call with no reply within ``socket_timeout`` fails as a read would.
        ``autopipeline=False``: each call on a pooled connection of its own."""
    # unasync: sync-only
    # def __init__(self, name: str, connection: ConnectionLike = None, **kwargs: Any) -> None:
    # unasync: end
        super().__init__(name, connection, **kwargs)
        client = async_client(self.resolved_connection, defaults=self._client_defaults)
        self._runner = AsyncRunner(client, self.route, self._client_for)
        if autopipeline:  # unasync: async-only
            self._runner.enable_autopipeline()  # unasync: async-only

    @property
    def client(self) -> Any:
        """The redis-py client in use (for a Cluster queue: on its slot's master)."""
        return self._runner.client

    def _client_for(self, connection: Any) -> Any:
        """A client like this queue's own, for another master of its slot (Cluster)."""
        return async_client(connection, defaults=self._client_defaults)

    async def run_op(self, op: Op[T]) -> T:
        """Internal (queuecore's runtime): run a command-layer op on this queue's connection."""
        return await self._runner.run(op)

    async def __aenter__(self) -> AsyncQueue:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        await self._runner.close()

    # -- adding --

    async def add(self, name: str, data: Any = None, *, repeat: RepeatOptions | None = None,
                  **options: Unpack[JobOptionsDict]) -> AsyncJob:
        """Add a job; an existing ``job_id`` returns the job already stored. With ``repeat``
        it upserts a job scheduler instead and returns its next (or latest) run."""
        if repeat is not None:
            op = self._repeat_op(name, data, repeat, options)
            return self._scheduled_run(await self.run_op(op))
        if self.telemetry is not None:
            return await self._add_traced(self.telemetry, name, data, options)
        return await self._add(name, data, options)

    async def _add(self, name: str, data: Any, options: Mapping[str, Any]) -> AsyncJob:
        p = self._prepare_add(name, data, options)
        [(job_id, status)] = await self.run_op(self._add_op((p.record,)))
        job: AsyncJob | None = None
        if status:
            job = await self.get_job(job_id)
        if job is None:
            job = self._added_job(p, job_id)
        self._emitter.emit("waiting", job)  # as BullMQ's Queue.add (not add_bulk)
        return job

    def _added_job(self, p: PreparedAdd, job_id: str) -> AsyncJob:
        return AsyncJob._added(self, job_id, p.name, p.data, p.opts_json(), p.timestamp,
                              p.opts.delay, p.opts.priority)

    async def _add_traced(self, telemetry: Telemetry, name: str, data: Any,
                          options: Mapping[str, Any]) -> AsyncJob:
        """``add`` in a producer span, as BullMQ's: ``add <queue>.<job name>``."""
        with telemetry.span(SpanKind.PRODUCER, self.name, "add",
                            f"{self.name}.{name}") as span:
            job = await self._add(name, data, self._traced_options(options, span))
            span.set_attributes({JOB_NAME: name, JOB_ID: job.id})
            return job

    async def add_bulk(self, jobs: Sequence[BulkJob]) -> list[AsyncJob]:
        """Add many jobs in one script call (all or nothing), all validated first."""
        if self.telemetry is not None:
            return await self._add_bulk_traced(self.telemetry, jobs)
        return await self._add_bulk(jobs)

    async def _add_bulk_traced(self, telemetry: Telemetry,
                               jobs: Sequence[BulkJob]) -> list[AsyncJob]:
        with telemetry.span(SpanKind.PRODUCER, self.name, "addBulk", self.name) as span:
            span.set_attributes({BULK_NAMES: [str(j.get("name")) for j in jobs],
                                 BULK_COUNT: len(jobs)})
            return await self._add_bulk([self._traced_entry(j, span) for j in jobs])

    async def _add_bulk(self, jobs: Sequence[BulkJob]) -> list[AsyncJob]:
        prepared = self._prepare_bulk(jobs)
        if not prepared:
            return []
        replies = await self.run_op(self._add_op([p.record for p in prepared]))
        out = []
        for p, (job_id, status) in zip(prepared, replies, strict=True):
            existing = await self.get_job(job_id) if status else None
            out.append(existing or self._added_job(p, job_id))
        return out

    # -- job schedulers --

    async def upsert_job_scheduler(self, scheduler_id: str, *, every: int | None = None,
                                   pattern: str | None = None, tz: str | None = None,
                                   start_date: datetime | int | None = None,
                                   end_date: datetime | int | None = None, limit: int | None = None,
                                   offset: int | None = None, immediately: bool = False,
                                   name: str | None = None, data: Any = None,
                                   opts: JobOptionsDict | None = None) -> AsyncJob | None:
        """Create or update a job scheduler; returns its next run (None when it has none)."""
        return self._job_of(await self.run_op(schedulers.upsert(
            self.keys, scheduler_id, now_ms(), every=every, pattern=pattern, tz=tz,
            start_date=start_date, end_date=end_date, limit=limit, offset=offset,
            immediately=immediately, name=name, data=data, opts=opts,
            max_data_size=self.max_data_size)))

    async def get_job_schedulers(self, start: int = 0, end: int = -1,
                                 asc: bool = False) -> list[JobScheduler]:
        """Schedulers ordered by next run, latest first unless ``asc``."""
        return await self.run_op(schedulers.get_schedulers(self.keys, start, end, asc))

    async def get_job_scheduler(self, scheduler_id: str) -> JobScheduler | None:
        return await self.run_op(schedulers.get_scheduler(self.keys, scheduler_id))

    async def get_job_schedulers_count(self) -> int:
        return await self.run_op(schedulers.count(self.keys))

    async def remove_job_scheduler(self, scheduler_id: str) -> bool:
        """Remove a scheduler and its run that has not started; False when there was none."""
        return await self.run_op(schedulers.remove(self.keys, scheduler_id))

    def _job_of(self, reply: UpsertReply) -> AsyncJob | None:
        return AsyncJob.from_hash(self, reply[0], reply[1]) if reply else None

    def _scheduled_run(self, reply: UpsertReply) -> AsyncJob:
        job = self._job_of(reply)
        if job is None:
            raise QueueCoreError("the job scheduler has no run left (limit or end_date reached)")
        return job

    # -- reading --

    async def get_job(self, job_id: str) -> AsyncJob | None:
        h = await self.run_op(ops.get_job_hash(self.keys, str(job_id)))
        return AsyncJob.from_hash(self, str(job_id), h) if h else None

    async def get_jobs(self, states: Sequence[str] | str | None = None, start: int = 0,
                       end: int = -1, asc: bool = False) -> list[AsyncJob]:
        self._check_range(start, end)
        ids = await self.run_op(ops.job_ids(self.keys, self._states(states), start, end, asc))
        if not ids:
            return []
        hashes = await self.run_op(ops.get_job_hashes(self.keys, ids))
        return [AsyncJob.from_hash(self, i, h) for i, h in zip(ids, hashes, strict=True) if h]

    async def get_job_counts(self, *states: str) -> dict[str, int]:
        return await self.run_op(ops.job_counts(self.keys, states))

    async def count(self) -> int:
        counts = await self.get_job_counts("waiting", "paused", "delayed", "prioritized",
                                     "waiting-children")
        return sum(counts.values())

    # -- changing --

    async def pause(self) -> None:
        await self.run_op(ops.pause(self.keys, True))
        self._emitter.emit("paused")

    async def resume(self) -> None:
        while await self.run_op(ops.pause(self.keys, False)) > 0:
            pass
        self._emitter.emit("resumed")

    async def drain(self, delayed: bool = False) -> None:
        while await self.run_op(ops.drain(self.keys, delayed)) > 0:
            pass

    async def clean(self, grace_ms: int, limit: int = 0, state: str = "completed") -> list[str]:
        """Remove up to ``limit`` (0 = all) jobs of ``state`` older than ``grace_ms``, at most
        ``CLEAN_BATCH`` per script call so that Redis is never held for long."""
        cutoff, removed = now_ms() - int(grace_ms), list[str]()
        while True:
            batch = CLEAN_BATCH if not limit else min(CLEAN_BATCH, int(limit) - len(removed))
            ids = await self.run_op(ops.clean(self.keys, state, cutoff, batch))
            # BullMQ's Queue names the state of waiting jobs by its key, "wait".
            self._emitter.emit("cleaned", ids, "wait" if state == "waiting" else state)
            removed += ids
            if len(ids) < batch or (limit and len(removed) >= limit):
                return removed

    async def obliterate(self, force: bool = False) -> None:
        """Delete the queue and all its jobs (pauses it first)."""
        await self.pause()
        while await self.run_op(ops.obliterate(self.keys, force)) > 0:
            pass

    async def retry_jobs(self, state: str = "failed", count: int = 1000,
                         timestamp: int | None = None) -> int:
        """Retry every ``state`` job finished before ``timestamp``, ``count`` per round trip."""
        before = timestamp if timestamp is not None else now_ms()
        total = 0
        while (moved := await self.run_op(ops.reprocess(self.keys, state, "", count=count,
                                                before_ms=before))) > 0:
            total += moved
        return total

    async def promote_jobs(self, count: int = 1000) -> int:
        total = 0
        while (moved := await self.run_op(ops.promote(self.keys, "", count))) > 0:
            total += moved
        return total

    async def remove(self, job_id: str) -> None:
        await self.run_op(ops.remove(self.keys, str(job_id)))
        self._emitter.emit("removed", str(job_id))

    # -- metrics --

    # -- dead letters --

    async def move_to_dead_letter(self, job_id: str, dead_letter_queue: str) -> str:
        """Move a failed job of this queue into ``dead_letter_queue``; returns its id there."""
        dlq = QueueKeys.of(dead_letter_queue, self.prefix)
        return await self.run_op(deadletter.move_to_dead_letter(self.keys, str(job_id), dlq))

    async def replay_dead_letter(self, job_id: str) -> str:
        """On a dead-letter queue: send the job back to its origin as a fresh job."""
        origin = await self.run_op(deadletter.origin_of(self.keys, str(job_id)))
        if origin is None:
            raise JobNotFoundError(f"job {job_id} is not a dead letter of this queue",
                                   job_id=str(job_id), command="replay_dead_letter")
        return await self.run_op(deadletter.replay(self.keys, str(job_id), origin))

    async def replay_dead_letters(self, count: int = 1000) -> list[str]:
        """Replay up to ``count`` dead letters of this queue, oldest first."""
        jobs = await self.get_jobs("failed", 0, count - 1, asc=True)
        return [await self.replay_dead_letter(job.id) for job in jobs
                if job.dead_letter_origin]

    # -- queue-wide limits (stored in meta, honoured by every worker, Node's too) --

    async def set_global_concurrency(self, concurrency: int) -> None:
        """At most ``concurrency`` active jobs in the queue across all workers."""
        await self.run_op(ops.set_meta(
            self.keys, concurrency=positive_int("concurrency", concurrency)))

    async def remove_global_concurrency(self) -> None:
        await self.run_op(ops.del_meta(self.keys, "concurrency"))

    async def get_global_concurrency(self) -> int | None:
        return (await self.run_op(ops.get_meta(self.keys, "concurrency")))[0]

    async def set_global_rate_limit(self, max_jobs: int, duration_ms: int) -> None:
        """At most ``max_jobs`` jobs started per ``duration_ms`` across all workers."""
        await self.run_op(ops.set_meta(self.keys, max=positive_int("max_jobs", max_jobs),
                               duration=positive_int("duration_ms", duration_ms)))

    async def remove_global_rate_limit(self) -> None:
        await self.run_op(ops.del_meta(self.keys, "max", "duration"))

    async def get_global_rate_limit(self) -> tuple[int, int] | None:
        max_jobs, duration = await self.run_op(ops.get_meta(self.keys, "max", "duration"))
        return (max_jobs, duration) if max_jobs and duration else None

    async def rate_limit(self, ms: int) -> None:
        """Hold every worker of the queue for ``ms`` (as ``Worker.rate_limit``)."""
        await self.run_op(worker_ops.rate_limit(self.keys, positive_int("ms", ms)))

    async def get_rate_limit_ttl(self) -> int:
        """Milliseconds until the current rate limit window ends (0 when none)."""
        return await self.run_op(worker_ops.rate_limit_ttl(self.keys))

    async def trim_events(self, max_length: int) -> int:
        return await self.run_op(ops.trim_events(self.keys, max_length))

    # -- BullMQ's getters and helpers --

    async def get_waiting(self, start: int = 0, end: int = -1) -> list[AsyncJob]:
        return await self.get_jobs("waiting", start, end, asc=True)

    async def get_active(self, start: int = 0, end: int = -1) -> list[AsyncJob]:
        return await self.get_jobs("active", start, end, asc=True)

    async def get_delayed(self, start: int = 0, end: int = -1) -> list[AsyncJob]:
        return await self.get_jobs("delayed", start, end, asc=True)

    async def get_prioritized(self, start: int = 0, end: int = -1) -> list[AsyncJob]:
        return await self.get_jobs("prioritized", start, end, asc=True)

    async def get_waiting_children(self, start: int = 0, end: int = -1) -> list[AsyncJob]:
        return await self.get_jobs("waiting-children", start, end, asc=True)

    async def get_completed(self, start: int = 0, end: int = -1) -> list[AsyncJob]:
        return await self.get_jobs("completed", start, end, asc=False)

    async def get_failed(self, start: int = 0, end: int = -1) -> list[AsyncJob]:
        return await self.get_jobs("failed", start, end, asc=False)

    async def add_job_log(self, job_id: str, line: str, keep_logs: int | None = None) -> int:
        """Append a line to job ``job_id``'s log (kept to its last ``keep_logs`` lines when
        given); returns the log's length."""
        return await self.run_op(job_edits.add_job_log(self.keys, job_id, line, keep_logs,
                                                       self.max_data_size))

    async def get_deduplication_job_id(self, dedup_id: str) -> str | None:
        """The id of the job holding deduplication id ``dedup_id``, or None."""
        return await self.run_op(getters.deduplication_job_id(self.keys, dedup_id))

    async def remove_deduplication_key(self, dedup_id: str) -> bool:
        """Forget deduplication id ``dedup_id`` (the next add with it is not deduplicated);
        True when it was set."""
        return await self.run_op(getters.remove_deduplication_key(self.keys, dedup_id))
